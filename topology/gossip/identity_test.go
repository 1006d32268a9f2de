package gossip

import (
	"crypto/x509"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/zoogate/zoogate/internal/testport"
)

// TestTLSPoolsSeeEachOther: three nodes with certificates of one CA join
// over TLS, verify each other's ids and all see each other.
func TestTLSPoolsSeeEachOther(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "deployment")
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 3}}, nil, func(c *Config) {
		c.TLS = ca.identity(t, c.ID)
	})
	closeTogether(t, nodes)
	waitView(t, nodes, "all three alive everywhere", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive && health(v, 3) == Alive
	})
	for id, n := range nodes {
		if n.a.transports[0] == nil {
			t.Fatalf("node %d: no TLS transport", id)
		}
		if r := n.a.refusals.Load(); r != 0 {
			t.Errorf("node %d refused %d members of its own deployment", id, r)
		}
	}
}

// TestTLSImpostorIsRefused: node 5 holds a valid certificate of the
// deployment, but for node 7. It joins (its certificate is the CA's),
// yet the others see that the id it gossips is not its certificate's and
// never list it; NotifyAlive turns it away from then on.
func TestTLSImpostorIsRefused(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "deployment")
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 5}}, nil, func(c *Config) {
		if c.ID != 5 {
			c.TLS = ca.identity(t, c.ID)
			return
		}
		// An impostor's binary skips Start's check of its own
		// certificate; its ID reads its own leaf as node 5 to get past it.
		liar := ca.identity(t, 7)
		own := liar.Certificate.Leaf
		liar.ID = func(c *x509.Certificate) (uint64, error) {
			if c.Equal(own) {
				return 5, nil
			}
			return testNodeID(c)
		}
		c.TLS = liar
	})
	closeTogether(t, nodes)
	seen1, seen2 := neverSees(t, nodes[1].a, 5), neverSees(t, nodes[2].a, 5)
	honest := map[uint64]*node{1: nodes[1], 2: nodes[2]}
	waitView(t, honest, "1 and 2 see each other", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive
	})
	waitFor(t, "1 and 2 refuse node 5", 10*time.Second, func() bool {
		return nodes[1].a.refusals.Load() > 0 && nodes[2].a.refusals.Load() > 0
	})
	if seen1() || seen2() {
		t.Fatalf("node 5 was listed (by node 1: %v, by node 2: %v)", seen1(), seen2())
	}
	// The impostor is in the honest nodes' pools, refused: its alive
	// messages are turned away with both ids named.
	imp := nodes[5].a
	imp.mu.Lock()
	meta := imp.encoded
	imp.mu.Unlock()
	host, port, _ := splitHostPort(nodes[5].cfg.LAN)
	n := &memberlist.Node{Name: "5", Addr: net.ParseIP(host), Port: uint16(port), Meta: meta}
	err := (&delegate{a: nodes[1].a, pool: 0}).NotifyAlive(n)
	if err == nil || !strings.Contains(err.Error(), "gossips id 5") || !strings.Contains(err.Error(), "names node 7") {
		t.Fatalf("NotifyAlive of the impostor: %v, want a refusal naming id 5 and node 7", err)
	}
	if lan, _ := nodes[1].a.NumMembers(); lan < 2 {
		t.Errorf("node 1's pool has %d members", lan)
	}
}

// TestTLSForeignCAIsRefused: a node whose certificate (and CA) are of
// another deployment, with the same cluster name and gossip key, never
// joins: the TLS handshakes of its joins fail both ways.
func TestTLSForeignCAIsRefused(t *testing.T) {
	t.Parallel()
	ca, foreign := newTestCA(t, "deployment"), newTestCA(t, "another deployment")
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 3}}, nil, func(c *Config) {
		if c.ID == 3 {
			c.TLS = foreign.identity(t, 3)
		} else {
			c.TLS = ca.identity(t, c.ID)
		}
	})
	closeTogether(t, nodes)
	seen1, seen2 := neverSees(t, nodes[1].a, 3), neverSees(t, nodes[2].a, 3)
	honest := map[uint64]*node{1: nodes[1], 2: nodes[2]}
	waitView(t, honest, "1 and 2 see each other", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive
	})
	// Each side's server sees the other's joins fail.
	waitFor(t, "joins between the deployments refused", 10*time.Second, func() bool {
		return nodes[3].a.transports[0].refused.Load() > 0 &&
			nodes[1].a.transports[0].refused.Load()+nodes[2].a.transports[0].refused.Load() > 0
	})
	if seen1() || seen2() {
		t.Fatal("a node of the deployment lists the foreign node 3")
	}
	if v := nodes[3].a.View(); len(v.Members) != 1 {
		t.Fatalf("the foreign node lists %s", v.JSON())
	}
	for id, n := range nodes {
		want := 2
		if id == 3 {
			want = 1
		}
		if lan, _ := n.a.NumMembers(); lan != want {
			t.Errorf("node %d's pool has %d members, want %d", id, lan, want)
		}
	}
}

// TestJoinStateReachesJoiner: node 2 joins through node 1 and receives
// node 1's JoinState; node 1, which never joins anyone, takes nothing from
// node 2's side of the exchange.
func TestJoinStateReachesJoiner(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[uint64][]string{}
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2}}, nil, func(c *Config) {
		id := c.ID
		if id == 1 {
			c.LANSeeds = nil // the seed: joined, never joining
		}
		c.JoinState = func() []byte { return []byte("state of " + strconv.FormatUint(id, 10)) }
		c.OnJoinState = func(b []byte) {
			mu.Lock()
			got[id] = append(got[id], string(b))
			mu.Unlock()
		}
	})
	closeTogether(t, nodes)
	waitFor(t, "node 2 receives node 1's join state", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[2]) > 0
	})
	waitView(t, nodes, "both see each other", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive
	})
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got[2] {
		if s != "state of 1" {
			t.Errorf("node 2 received %q, want node 1's state", s)
		}
	}
	if len(got[1]) != 0 {
		t.Errorf("the seed took %q as its own join state", got[1])
	}
}

// TestStartChecksItsCertificate: a certificate naming another node, or
// not of Roots, is a configuration error.
func TestStartChecksItsCertificate(t *testing.T) {
	t.Parallel()
	ca, foreign := newTestCA(t, "deployment"), newTestCA(t, "another deployment")
	for name, id := range map[string]*TLSIdentity{
		"another node's": ca.identity(t, 7),
		"another CA's":   {Certificate: foreign.issue(t, 5), Roots: ca.pool, ID: testNodeID},
		"no ID":          {Certificate: ca.issue(t, 5), Roots: ca.pool},
	} {
		cfg := DefaultConfig()
		cfg.Cluster, cfg.ID, cfg.Site, cfg.LAN, cfg.TLS = "test", 5, "p", "127.0.0.1:0", id
		a, err := Start(cfg, Meta{Role: "voter"}, hclog.NewNullLogger())
		if err == nil {
			a.Close()
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s certificate: %v, want ErrConfig", name, err)
		}
	}
}

// TestTLSCloseEndsItsGoroutines: an agent closing while an identity probe
// retries (node 9 advertises a port nobody listens on) returns promptly,
// and no transport or probe goroutine outlives Close. Not parallel: it
// counts goroutines of the package.
func TestTLSCloseEndsItsGoroutines(t *testing.T) {
	ca := newTestCA(t, "deployment")
	nodes := startAgents(t, map[string][]uint64{"p": {1, 2, 9}}, nil, func(c *Config) {
		c.TLS = ca.identity(t, c.ID)
		if c.ID == 9 {
			nowhere := testport.Port(t)
			c.Tune = func(lan bool, mc *memberlist.Config) { mc.AdvertisePort = nowhere }
		}
	})
	waitView(t, map[uint64]*node{1: nodes[1], 2: nodes[2]}, "1 and 2 see each other", 10*time.Second, func(v *View) bool {
		return health(v, 1) == Alive && health(v, 2) == Alive
	})
	waitFor(t, "node 1 probes node 9", 10*time.Second, func() bool {
		a := nodes[1].a
		a.mu.Lock()
		defer a.mu.Unlock()
		e := a.pools[0]["9"]
		return e != nil && e.probing
	})
	if _, ok := nodes[1].a.View().Member(9); ok {
		t.Fatal("node 1 lists node 9, whose identity it could not check")
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { n.a.Close() })
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("closing took %v", took)
	}
	waitFor(t, "the transports' and probes' goroutines end", 5*time.Second, func() bool {
		return len(ours()) == 0
	})
}

// ours returns the stacks of goroutines of the TLS transport and of the
// identity probes.
func ours() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "gossip.(*tlsTransport)") || strings.Contains(g, "gossip.(*Agent).probe") {
			out = append(out, g)
		}
	}
	return out
}

// TestTLSWANPool: members of the WAN pool (named <id>.<site>) are verified
// like those of a LAN pool.
func TestTLSWANPool(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "deployment")
	nodes := startAgents(t, map[string][]uint64{"p": {1}, "eu": {4}}, map[uint64]bool{1: true, 4: true}, func(c *Config) {
		c.TLS = ca.identity(t, c.ID)
	})
	closeTogether(t, nodes)
	waitView(t, nodes, "1 and 4 see each other across the WAN", 10*time.Second, func(v *View) bool {
		m1, ok1 := v.Member(1)
		m4, ok4 := v.Member(4)
		return ok1 && ok4 && m1.Health == Alive && m4.Health == Alive && m1.WAN && m4.WAN
	})
	a := nodes[4].a
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.pools[1]["1.p"]; e == nil || e.verdict != verified {
		t.Fatalf("node 4's WAN entry of node 1: %+v, want verified", e)
	}
}
