package server

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/zab"
)

// memNet is a minimal in-memory peer network for the driver tests: FIFO per
// pair, and Broken events when an endpoint closes.
type memNet struct {
	mu    sync.Mutex
	nodes map[uint64]*memEnd
	cut   map[[2]uint64]bool
}

func pair(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// isolate cuts every link of id (both sides see the streams break).
func (n *memNet) isolate(id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for pid, p := range n.nodes {
		if pid == id || n.cut[pair(id, pid)] {
			continue
		}
		n.cut[pair(id, pid)] = true
		if !p.closed {
			p.push(PeerEvent{Broken: id})
		}
		if me := n.nodes[id]; me != nil && !me.closed {
			me.push(PeerEvent{Broken: pid})
		}
	}
}

// heal restores every link.
func (n *memNet) heal() {
	n.mu.Lock()
	n.cut = map[[2]uint64]bool{}
	n.mu.Unlock()
}

type memEnd struct {
	id     uint64
	net    *memNet
	queue  []PeerEvent
	notify chan struct{}
	closed bool
}

func newMemNet() *memNet { return &memNet{nodes: map[uint64]*memEnd{}, cut: map[[2]uint64]bool{}} }

// push queues an event for e; the caller holds net.mu.
func (e *memEnd) push(ev PeerEvent) {
	e.queue = append(e.queue, ev)
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

func (n *memNet) endpoint(id uint64) *memEnd {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := &memEnd{id: id, net: n, notify: make(chan struct{}, 1)}
	if old := n.nodes[id]; old != nil {
		old.closed = true
	}
	n.nodes[id] = e
	for pid, p := range n.nodes {
		if pid != id && !p.closed {
			p.push(PeerEvent{Broken: id}) // its old stream with us is gone
		}
	}
	return e
}

func (e *memEnd) Send(to uint64, m zab.Message) {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if e.closed {
		return
	}
	if p := e.net.nodes[to]; p != nil && !p.closed && !e.net.cut[pair(e.id, to)] {
		mm := m
		mm.From, mm.To = e.id, to
		p.push(PeerEvent{Msg: &mm})
	}
}

func (e *memEnd) Notify() <-chan struct{} { return e.notify }

func (e *memEnd) Recv() (PeerEvent, bool) {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if len(e.queue) == 0 {
		return PeerEvent{}, false
	}
	ev := e.queue[0]
	e.queue = e.queue[1:]
	return ev, true
}

func (e *memEnd) CloseStream(uint64) {}

func (e *memEnd) Close() error {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for pid, p := range e.net.nodes {
		if pid != e.id && !p.closed {
			p.push(PeerEvent{Broken: e.id})
		}
	}
	return nil
}

type testCluster struct {
	t       *testing.T
	net     *memNet
	servers map[uint64]*Server
	dirs    map[uint64]string
	voters  []uint64
	// wrap, when set, wraps each server's transport (tests that watch
	// what a server sends).
	wrap func(id uint64, tr PeerTransport) PeerTransport
	// readOnly turns on read-only mode (ClusterConfig.ReadOnly), bounded
	// by maxStale, for the servers started after they are set.
	readOnly bool
	maxStale time.Duration
	// mod, when set, adjusts each server's config after the cluster's
	// settings (an admin address, sites).
	mod func(*Config)
}

func newTestCluster(t *testing.T, n int) *testCluster {
	return newWrappedTestCluster(t, n, nil)
}

func newWrappedTestCluster(t *testing.T, n int, wrap func(uint64, PeerTransport) PeerTransport) *testCluster {
	return newTestClusterWith(t, n, func(tc *testCluster) { tc.wrap = wrap })
}

// newTestClusterWith starts n voters after set has adjusted the cluster's
// settings.
func newTestClusterWith(t *testing.T, n int, set func(*testCluster)) *testCluster {
	tc := &testCluster{t: t, net: newMemNet(), servers: map[uint64]*Server{}, dirs: map[uint64]string{}}
	set(tc)
	for i := 1; i <= n; i++ {
		tc.voters = append(tc.voters, uint64(i))
		tc.dirs[uint64(i)] = t.TempDir()
	}
	for _, id := range tc.voters {
		tc.start(id)
	}
	return tc
}

func (tc *testCluster) start(id uint64) *Server {
	var tr PeerTransport = tc.net.endpoint(id)
	if tc.wrap != nil {
		tr = tc.wrap(id, tr)
	}
	s := startServer(tc.t, func(c *Config) {
		c.ServerID = id
		c.DataDir = tc.dirs[id]
		c.Tick = 50 * time.Millisecond
		c.MinSessionTimeout = 2 * time.Second
		c.MaxSessionTimeout = 10 * time.Second
		c.SessionSecret = "test-cluster"
		c.Cluster = &ClusterConfig{Voters: tc.voters, InitLimit: 20, SyncLimit: 10, Transport: tr, ReadOnly: tc.readOnly, ReadOnlyMaxStaleness: tc.maxStale}
		if tc.mod != nil {
			tc.mod(c)
		}
	})
	tc.servers[id] = s
	return s
}

func (tc *testCluster) stop(id uint64) {
	tc.servers[id].Close()
	delete(tc.servers, id)
}

// leader waits for exactly one serving leader and every other live server serving.
func (tc *testCluster) leader() uint64 {
	var lead uint64
	waitFor(tc.t, "a leader with every live voter serving", 20*time.Second, func() bool {
		lead = 0
		for id, s := range tc.servers {
			if !s.serving() {
				return false
			}
			if s.isLeader() {
				if lead != 0 {
					return false
				}
				lead = id
			}
		}
		return lead != 0
	})
	return lead
}

func (tc *testCluster) connect(id uint64) *zk.Conn {
	c, _ := connect(tc.t, tc.servers[id])
	return c
}

func TestClusterReplicatesAndForwards(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	var follower uint64
	for id := range tc.servers {
		if id != lead {
			follower = id
		}
	}
	if got := fourLW(t, tc.servers[lead], "srvr"); !contains(got, "Mode: leader") {
		t.Fatalf("leader srvr: %s", got)
	}
	if got := fourLW(t, tc.servers[follower], "srvr"); !contains(got, "Mode: follower") {
		t.Fatalf("follower srvr: %s", got)
	}
	fc := tc.connect(follower) // writes through a follower are forwarded
	lc := tc.connect(lead)
	if _, _, _, err := lc.GetW("/x"); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("GetW /x before it exists: %v, want ErrNoNode", err)
	}
	_, _, exCh, _ := lc.ExistsW("/x")
	if _, err := fc.Create("/x", []byte("1"), 0, open); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, exCh); ev.Type != zk.EventNodeCreated {
		t.Fatalf("watch on the leader for a write through a follower: %+v", ev)
	}
	for i := 0; i < 50; i++ {
		if _, err := fc.Create("/x/s-", []byte(strconv.Itoa(i)), zk.FlagSequence, open); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fc.Create("/x/eph", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	// sync() then read on a follower sees every earlier write.
	if _, err := fc.Sync("/x"); err != nil {
		t.Fatal(err)
	}
	kids, _, err := fc.Children("/x")
	if err != nil || len(kids) != 51 {
		t.Fatalf("children on the follower: %d %v", len(kids), err)
	}
	tc.converged()
	// Ephemerals vanish everywhere when the session closes.
	fc.Close()
	waitFor(t, "ephemeral removal on every server", 10*time.Second, func() bool {
		for _, s := range tc.servers {
			s.mu.RLock()
			ok := s.tree.Exists("/x/eph")
			s.mu.RUnlock()
			if ok {
				return false
			}
		}
		return true
	})
	tc.converged()
}

func TestClusterLeaderFailover(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	var other uint64
	for id := range tc.servers {
		if id != lead {
			other = id
		}
	}
	c := tc.connect(other)
	acked := 0
	for i := 0; i < 20; i++ {
		if _, err := c.Create(fmt.Sprintf("/f%d", i), nil, 0, open); err == nil {
			acked++
		}
	}
	tc.stop(lead)
	newLead := tc.leader()
	if newLead == lead {
		t.Fatal("the stopped leader still leads")
	}
	c2 := tc.connect(other)
	if _, err := c2.Create("/after", nil, 0, open); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	for i := 0; i < acked; i++ {
		if ok, _, err := c2.Exists(fmt.Sprintf("/f%d", i)); !ok || err != nil {
			t.Fatalf("acknowledged /f%d lost after failover: %v", i, err)
		}
	}
	// The old leader comes back as a follower and catches up.
	tc.start(lead)
	tc.leader()
	tc.converged()
}

// converged waits until every live server has applied the same zxid and
// holds the same tree.
func (tc *testCluster) converged() {
	waitFor(tc.t, "all trees equal", 20*time.Second, func() bool {
		var z int64 = -1
		var dg uint64
		for _, s := range tc.servers {
			s.mu.RLock()
			lz, d := s.tree.LastZxid(), s.tree.Digest()
			s.mu.RUnlock()
			if z == -1 {
				z, dg = lz, d
			} else if lz != z || d != dg {
				return false
			}
		}
		return true
	})
}

func contains(s, sub string) bool { return stringsContains(s, sub) }

func TestClusterPartitionedLeader(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	c := tc.connect(lead)
	if _, err := c.Create("/p", []byte("before"), 0, open); err != nil {
		t.Fatal(err)
	}
	// Cut the leader off: it must step down (no quorum) and the other two
	// elect a new leader that takes writes.
	tc.net.isolate(lead)
	waitFor(t, "the isolated leader to stop serving", 10*time.Second, func() bool { return !tc.servers[lead].serving() })
	var newLead uint64
	waitFor(t, "a new leader among the majority", 20*time.Second, func() bool {
		for id, s := range tc.servers {
			if id != lead && s.serving() && s.isLeader() {
				newLead = id
				return true
			}
		}
		return false
	})
	c2 := tc.connect(newLead)
	if _, err := c2.Set("/p", []byte("during"), -1); err != nil {
		t.Fatal(err)
	}
	tc.net.heal()
	tc.leader()
	tc.converged()
	s := tc.servers[lead]
	s.mu.RLock()
	data, _, _, _ := s.tree.Get("/p")
	s.mu.RUnlock()
	if string(data) != "during" {
		t.Fatalf("old leader after healing holds %q", data)
	}
}

func TestClusterSessionMovesBetweenVoters(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.leader()
	a := dialRaw(t, tc.servers[1])
	resp := a.handshake(0, nil, true)
	if h, _ := a.call(1, createBody("/moved", nil, 1)); h.Err != 0 { // ephemeral
		t.Fatalf("create: %d", h.Err)
	}
	b := dialRaw(t, tc.servers[2])
	resp2 := b.handshake(resp.SessionID, resp.Passwd, true)
	if resp2.SessionID != resp.SessionID {
		t.Fatalf("session not accepted by another voter: %+v", resp2)
	}
	// Reads on another voter may lag (sequential consistency): sync first.
	b.call(proto.OpSync, func(e *jute.Encoder) { e.String("/moved") })
	if h, _ := b.call(3, pathWatch("/moved", false)); h.Err != 0 {
		t.Fatalf("ephemeral not visible through the new voter: %d", h.Err)
	}
	bad := dialRaw(t, tc.servers[3])
	if r := bad.handshake(resp.SessionID, make([]byte, 16), true); r.SessionID != 0 {
		t.Fatal("a wrong password was accepted")
	}
}

func TestClusterMntrLeaderKeys(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	waitFor(t, "both followers synced in mntr", 10*time.Second, func() bool {
		out := fourLW(t, tc.servers[lead], "mntr")
		return contains(out, "zk_server_state\tleader") && contains(out, "zk_synced_followers\t2") && contains(out, "zk_learners\t2")
	})
	for id, s := range tc.servers {
		if id != lead {
			if out := fourLW(t, s, "mntr"); !contains(out, "zk_server_state\tfollower") || contains(out, "zk_learners") {
				t.Fatalf("follower mntr:\n%s", out)
			}
		}
	}
}
