package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zoogate/zoogate/internal/testport"
)

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, testport.Addr(t))
	}
	return out
}

// startTCP starts voter id of tc over the real TCP peer transport.
func (tc *testCluster) startTCP(id uint64, peers map[uint64]string) *Server {
	s := startServer(tc.t, func(c *Config) {
		c.ServerID = id
		c.DataDir = tc.dirs[id]
		c.Tick = 50 * time.Millisecond
		c.MinSessionTimeout = 2 * time.Second
		c.MaxSessionTimeout = 10 * time.Second
		c.SnapCount = 50
		c.Cluster = &ClusterConfig{Name: "snapsync", Voters: tc.voters, Peers: peers, InitLimit: 20, SyncLimit: 10}
	})
	tc.servers[id] = s
	return s
}

// A voter that comes back with an empty data directory, after the others
// compacted their logs into snapshots, is brought up to date by SNAP: the
// snapshot crosses the real TCP transport in chunks, is spooled to disk,
// installed into the snapshot store, and the spool is left empty.
func TestClusterSnapshotSyncOverTCP(t *testing.T) {
	tc := &testCluster{t: t, servers: map[uint64]*Server{}, dirs: map[uint64]string{}, voters: []uint64{1, 2, 3}}
	addrs := freeAddrs(t, 3)
	peers := map[uint64]string{}
	for i, id := range tc.voters {
		peers[id] = addrs[i]
		tc.dirs[id] = t.TempDir()
	}
	for _, id := range tc.voters {
		tc.startTCP(id, peers)
	}
	lead := tc.leader()
	var gone uint64
	for _, id := range tc.voters {
		if id != lead {
			gone = id
		}
	}
	tc.stop(gone)
	c := tc.connect(lead)
	for i := 0; i < 300; i++ {
		if _, err := c.Create(fmt.Sprintf("/n%03d", i), make([]byte, 512), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// The survivors snapshot every ~50 transactions and drop the logged
	// entries before their snapshot from what DIFF can send.
	waitFor(t, "a snapshot on the leader", 10*time.Second, func() bool {
		return tc.servers[lead].snapshotter.last.Load() > 0
	})
	if err := os.RemoveAll(tc.dirs[gone]); err != nil {
		t.Fatal(err)
	}
	tc.dirs[gone] = t.TempDir()
	tc.startTCP(gone, peers)
	tc.leader()
	tc.converged()
	snaps, err := filepath.Glob(filepath.Join(tc.dirs[gone], "snap", "snapshot.*"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshot installed on the voter that came back: %v %v", snaps, err)
	}
	spooled, _ := filepath.Glob(filepath.Join(tc.dirs[gone], "spool", "*"))
	if len(spooled) != 0 {
		t.Fatalf("spool files left behind: %v", spooled)
	}
	c2 := tc.connect(gone)
	if _, st, err := c2.Get("/n299"); err != nil || st.DataLength != 512 {
		t.Fatalf("read on the synced voter: %v %+v", err, st)
	}
}
