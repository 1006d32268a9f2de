package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/zoogate/zoogate/internal/testport"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// logWriter sends hclog output to t.Log until the test ends: memberlist's
// goroutines may still log a failed send after Shutdown has returned, and
// t.Log after the end panics.
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func testLog(t *testing.T, name string) hclog.Logger {
	w := &logWriter{t: t}
	t.Cleanup(func() { // registered before the agents' Close: runs after it
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: w})
}

// node is one agent of a test deployment.
type node struct {
	id   uint64
	site string
	cfg  Config
	a    *Agent
}

// startAgents starts one agent per id of sites (site → ids), each in its
// site's LAN pool; withWAN lists the ids that also join the WAN pool.
// Every agent has every other of its pools as seeds.
func startAgents(t *testing.T, sites map[string][]uint64, withWAN map[uint64]bool, mod func(*Config)) map[uint64]*node {
	t.Helper()
	nodes := map[uint64]*node{}
	lanOf := map[string][]string{}
	var wans []string
	for site, ids := range sites {
		for _, id := range ids {
			n := &node{id: id, site: site, cfg: DefaultConfig()}
			n.cfg.Cluster, n.cfg.ID, n.cfg.Site, n.cfg.Key = "test", id, site, testKey
			n.cfg.LAN = testport.Addr(t)
			n.cfg.RejoinInterval = 500 * time.Millisecond
			n.cfg.MetaInterval = 200 * time.Millisecond
			if withWAN[id] {
				n.cfg.WAN = testport.Addr(t)
				wans = append(wans, n.cfg.WAN)
			}
			lanOf[site] = append(lanOf[site], n.cfg.LAN)
			nodes[id] = n
		}
	}
	for _, n := range nodes {
		n.cfg.LANSeeds = lanOf[n.site]
		if n.cfg.WAN != "" {
			n.cfg.WANSeeds = wans
		}
		if mod != nil {
			mod(&n.cfg)
		}
		a, err := Start(n.cfg, Meta{Role: "voter", Client: fmt.Sprintf("127.0.0.1:%d", 2180+n.id), State: StateServing}, testLog(t, fmt.Sprintf("g%d", n.id)))
		if err != nil {
			t.Fatal(err)
		}
		n.a = a
		t.Cleanup(func() { a.Close() })
	}
	return nodes
}

// waitView polls every agent's view until cond holds for all of them.
func waitView(t *testing.T, nodes map[uint64]*node, what string, within time.Duration, cond func(v *View) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		all := true
		for _, n := range nodes {
			if n.a.closed.Load() {
				continue
			}
			if !cond(n.a.View()) {
				all = false
				break
			}
		}
		if all {
			return time.Since(start)
		}
		if time.Since(start) > within {
			for _, n := range nodes {
				if !n.a.closed.Load() {
					t.Logf("node %d sees %s", n.id, n.a.View().JSON())
				}
			}
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of cond
	}
}

// closeTogether closes the nodes' agents in parallel when the test ends
// (before startAgents' own clean-ups, which then find them closed): each
// Close waits for its leave to be gossiped, and one after the other that
// adds up.
func closeTogether(t *testing.T, nodes map[uint64]*node) {
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { n.a.Close() })
		}
		wg.Wait()
	})
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of cond
	}
}

func health(v *View, id uint64) Health {
	m, ok := v.Member(id)
	if !ok {
		return ""
	}
	return m.Health
}

// TestPoolsMetadataAndFailure: three nodes of a site see each other with
// their metadata; a change of state reaches all within a gossip round or
// two; a node killed without a word is seen dead by all within
// memberlist's LAN bound; one that closes is seen left.
func TestPoolsMetadataAndFailure(t *testing.T) {
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 3, 4}}, nil, nil)
	closeTogether(t, nodes)
	waitView(t, nodes, "all four alive everywhere", 10*time.Second, func(v *View) bool {
		for id := uint64(1); id <= 4; id++ {
			if health(v, id) != Alive {
				return false
			}
		}
		return true
	})
	m := Meta{Role: "voter", Client: "127.0.0.1:2182", State: StateServing, Leader: 2, Epoch: 3, Zxid: 0x300000001}
	if err := nodes[2].a.SetMeta(m); err != nil {
		t.Fatal(err)
	}
	took := waitView(t, nodes, "node 2's leadership everywhere", 5*time.Second, func(v *View) bool {
		l, e := v.Leader()
		return l == 2 && e == 3
	})
	t.Logf("a metadata change reached every node in %v", took)

	// Killed: the pool is shut down without leaving.
	nodes[4].a.closed.Store(true)
	killed := time.Now()
	nodes[4].a.lan.Shutdown()
	c := memberlist.DefaultLANConfig()
	// Detection: a probe round, then the suspicion timeout (with 4 members
	// SuspicionMult x ProbeInterval, up to SuspicionMaxTimeoutMult times
	// that without confirmations), then a gossip round.
	bound := 2*c.ProbeInterval + time.Duration(c.SuspicionMult*c.SuspicionMaxTimeoutMult)*c.ProbeInterval + time.Second
	took = waitView(t, nodes, "node 4 dead everywhere", bound, func(v *View) bool { return health(v, 4) == Dead })
	t.Logf("a killed node was seen dead by all in %v (bound %v)", took, bound)
	_ = killed

	// Left: Close says so first.
	if err := nodes[3].a.Close(); err != nil {
		t.Fatal(err)
	}
	waitView(t, nodes, "node 3 left everywhere", 5*time.Second, func(v *View) bool { return health(v, 3) == Left })
}

// TestWrongKeyIsRefused: a node with another key never joins.
func TestWrongKeyIsRefused(t *testing.T) {
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2}}, nil, func(c *Config) {
		if c.ID == 2 {
			c.Key = bytes.Repeat([]byte{9}, 32)
		}
	})
	closeTogether(t, nodes)
	// Node 2 retries its seeds every 500 ms; give it several rounds, then
	// check nobody ever listed the other.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := nodes[1].a.View().Member(2); ok {
			t.Fatal("node 1 lists node 2, whose key differs")
		}
		if _, ok := nodes[2].a.View().Member(1); ok {
			t.Fatal("node 2 lists node 1, whose key differs")
		}
		time.Sleep(100 * time.Millisecond) // sampling the views over the rounds
	}
}

// TestAdmitRefusesAnImpostor: Admit sees the gossiped metadata and
// address; a member it refuses is never listed.
func TestAdmitRefusesAnImpostor(t *testing.T) {
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 9}}, nil, func(c *Config) {
		c.Admit = func(m Meta, addr string) error {
			if m.ID == 9 {
				return errors.New("id 9 is not in the topology file")
			}
			return nil
		}
	})
	closeTogether(t, nodes)
	waitView(t, nodes, "1 and 2 see each other", 10*time.Second, func(v *View) bool {
		if v.Self == 9 {
			return true
		}
		return health(v, 1) == Alive && health(v, 2) == Alive
	})
	for _, id := range []uint64{1, 2} {
		if _, ok := nodes[id].a.View().Member(9); ok {
			t.Fatalf("node %d lists the refused node 9", id)
		}
	}
}

// TestTwoPoolsMergeIntoOneView: voters and a relay join the WAN pool,
// the remote site's observer only its LAN pool; the relay's view holds
// both sites, and the observer learns the primary's leader from its
// relay's... own pool only: it sees its site.
func TestTwoPoolsMergeIntoOneView(t *testing.T) {
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2}, "eu": {4, 5}}, map[uint64]bool{1: true, 2: true, 4: true}, nil)
	closeTogether(t, nodes)
	waitView(t, map[uint64]*node{4: nodes[4]}, "the relay sees both sites", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive && health(v, 5) == Alive
	})
	v := nodes[4].a.View()
	if m, _ := v.Member(1); !m.WAN || m.LAN {
		t.Errorf("voter 1 from the relay: wan %v lan %v, want WAN only", m.WAN, m.LAN)
	}
	if m, _ := v.Member(5); !m.LAN || m.WAN {
		t.Errorf("observer 5 from the relay: wan %v lan %v, want LAN only", m.WAN, m.LAN)
	}
	if _, ok := nodes[5].a.View().Member(1); ok {
		t.Error("the observer, in its site's pool only, lists a voter of the primary")
	}
	if lan, wan := nodes[4].a.NumMembers(); lan != 2 || wan != 3 {
		t.Errorf("relay's pools: %d LAN, %d WAN members, want 2 and 3", lan, wan)
	}
}
