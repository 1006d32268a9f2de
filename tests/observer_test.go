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

// startZoogateSite starts 3 voters, a relay that follows them (id 8) and an
// observer that follows the relay (id 9), on an in-memory network, and
// returns the relay and the observer once both serve. localSessions makes
// the sessions made on the relay and the observer local.
func startZoogateSite(t testing.TB, localSessions bool) (relay, obs *server.Server) {
	t.Helper()
	nw := peer.NewMemNetwork()
	t.Cleanup(nw.Close)
	voters := []uint64{1, 2, 3}
	start := func(id uint64, tr peer.Transport, cc server.ClusterConfig) *server.Server {
		cfg := zoogateConfig(t)
		cfg.ServerID = id
		cfg.SessionSecret = "site"
		cc.Name, cc.Voters, cc.Transport = "site", voters, tr
		cfg.Cluster = &cc
		srv, err := server.New(cfg, testLogger(t, fmt.Sprintf("zoogate%d", id)))
		if err != nil {
			t.Fatalf("zoogate config: %v", err)
		}
		if err := srv.Start(); err != nil {
			t.Fatalf("zoogate start: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	for _, id := range voters {
		start(id, nw.Transport(id), server.ClusterConfig{})
	}
	relay = start(8, nw.Learner(8, voters...), server.ClusterConfig{Observer: true, ServeLearners: true, AcceptLearners: true, LocalSessions: localSessions})
	obs = start(9, nw.Learner(9, 8), server.ClusterConfig{Observer: true, Upstream: 8, LocalSessions: localSessions})
	deadline := time.Now().Add(30 * time.Second)
	for !(relay.Serving() && obs.Serving() && relay.Mode() == "relay" && obs.Mode() == "observer") {
		if time.Now().After(deadline) {
			t.Fatalf("relay (%s) and observer (%s) not serving within 30s", relay.Mode(), obs.Mode())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return relay, obs
}

// TestDifferentialThroughRelay runs the differential workload against an
// observer that follows a relay: every read is the observer's, every write
// and sync() goes through the relay to the leader; results must match
// Apache ZooKeeper's.
func TestDifferentialThroughRelay(t *testing.T) {
	requireZooKeeper(t)
	runDifferentialOn(t, 21, 300, func(t testing.TB) string {
		// Global sessions: a local session's upgrade logs its
		// createSession later, so zxids would differ from ZooKeeper's.
		_, obs := startZoogateSite(t, false)
		return obs.Addr().String()
	})
}

// TestKazooAgainstRelayAndObserver runs the Kazoo script against a relay
// and the observer behind it, with local sessions (its locks, leader
// elections and ephemerals upgrade them).
func TestKazooAgainstRelayAndObserver(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is missing: apt-get install python3-kazoo")
	}
	relay, obs := startZoogateSite(t, true)
	script, _ := filepath.Abs("kazoo/kazoo_test.py")
	for _, s := range []*server.Server{obs, relay} {
		out, err := exec.Command("/usr/bin/python3", script, "--hosts", s.Addr().String()).CombinedOutput()
		if err != nil {
			t.Fatalf("kazoo script against the %s failed: %v\n%s", s.Mode(), err, out)
		}
		t.Logf("%s: %s", s.Mode(), out)
	}
}
