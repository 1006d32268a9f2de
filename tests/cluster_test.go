package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/server"
)

// startZoogateCluster runs three in-process voters on an in-memory peer
// network, configured like startZoogate, and returns them once one leads
// and all serve.
func startZoogateCluster(t testing.TB) []*server.Server {
	_, servers := startVoters(t, nil)
	return servers
}

// startVoters runs three in-process voters on a MemNetwork (returned, so
// that a test can partition it); mod adjusts each one's cluster settings.
func startVoters(t testing.TB, mod func(*server.ClusterConfig)) (*peer.MemNetwork, []*server.Server) {
	t.Helper()
	nw := peer.NewMemNetwork()
	t.Cleanup(nw.Close)
	voters := []uint64{1, 2, 3}
	var servers []*server.Server
	for _, id := range voters {
		cfg := zoogateConfig(t)
		cfg.ServerID = id
		cfg.SessionSecret = "diff-cluster"
		cfg.Cluster = &server.ClusterConfig{Name: "diff", Voters: voters, Transport: nw.Transport(id)}
		if mod != nil {
			mod(cfg.Cluster)
		}
		srv, err := server.New(cfg, testLogger(t, fmt.Sprintf("zoogate%d", id)))
		if err != nil {
			t.Fatalf("zoogate config: %v", err)
		}
		if err := srv.Start(); err != nil {
			t.Fatalf("zoogate start: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		servers = append(servers, srv)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leaders, serving := 0, 0
		for _, s := range servers {
			if s.Serving() {
				serving++
				if s.Mode() == "leader" {
					leaders++
				}
			}
		}
		if leaders == 1 && serving == len(servers) {
			return nw, servers
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster did not elect a leader within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startZoogateFollower starts a cluster and returns a follower's address:
// every session of the differential test then reads from a follower and
// has its writes forwarded to the leader.
func startZoogateFollower(t testing.TB) string {
	for _, s := range startZoogateCluster(t) {
		if s.Mode() == "follower" {
			return s.Addr().String()
		}
	}
	t.Fatal("no follower")
	return ""
}

// TestDifferentialCluster runs the differential workload against a
// follower of a 3-voter zoogate cluster (reads local, writes forwarded).
func TestDifferentialCluster(t *testing.T) {
	requireZooKeeper(t)
	seeds, steps := []int64{11, 12}, 300
	if os.Getenv("ZOOGATE_LONG") == "1" {
		seeds, steps = []int64{11, 12, 13, 14, 15, 16}, 2000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runDifferentialOn(t, seed, steps, startZoogateFollower)
		})
	}
}

// TestKazooAgainstCluster runs the Kazoo script against all three voters.
func TestKazooAgainstCluster(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is missing: apt-get install python3-kazoo")
	}
	servers := startZoogateCluster(t)
	hosts := ""
	for i, s := range servers {
		if i > 0 {
			hosts += ","
		}
		hosts += s.Addr().String()
	}
	script, _ := filepath.Abs("kazoo/kazoo_test.py")
	cmd := exec.Command("/usr/bin/python3", script, "--hosts", hosts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo script against the cluster failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
