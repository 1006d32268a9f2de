package server

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/core/watch"
	"github.com/zoogate/zoogate/tests/lincheck"
)

// withLeaderWait makes the cluster's servers keep their clients through a
// leader change for d (leaderchange.go).
func (tc *testCluster) withLeaderWait(d time.Duration) {
	prev := tc.mod
	tc.mod = func(c *Config) {
		if prev != nil {
			prev(c)
		}
		c.Cluster.LeaderWait = d
	}
}

// followers returns the live servers other than lead, sorted.
func (tc *testCluster) followers(lead uint64) []uint64 {
	var fs []uint64
	for id := range tc.servers {
		if id != lead {
			fs = append(fs, id)
		}
	}
	slices.Sort(fs)
	return fs
}

// nowhere fails the test if any live server holds path.
func (tc *testCluster) nowhere(path, what string) {
	tc.t.Helper()
	for id, s := range tc.servers {
		s.mu.RLock()
		ok := s.tree.Exists(path)
		s.mu.RUnlock()
		if ok {
			tc.t.Fatalf("%s (%s) is on server %d", what, path, id)
		}
	}
}

// sessionLosses collects the connection losses a client's session events
// report, until the test ends.
type sessionLosses struct {
	mu     sync.Mutex
	losses []zk.State
}

func watchLosses(events <-chan zk.Event) *sessionLosses {
	l := &sessionLosses{}
	go func() {
		for ev := range events {
			if ev.Type == zk.EventSession && (ev.State == zk.StateDisconnected || ev.State == zk.StateExpired) {
				l.mu.Lock()
				l.losses = append(l.losses, ev.State)
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *sessionLosses) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.losses) }

// TestLeaderChangeKeepsClients: the leader is stopped while clients of the
// two followers write through them. The followers keep their connections:
// reads are answered during the election, writes in flight and writes
// issued after the stop all succeed, each applied exactly once, and a
// watch set before the stop fires for a write after it.
func TestLeaderChangeKeepsClients(t *testing.T) {
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(5 * time.Second) })
	lead := tc.leader()
	fs := tc.followers(lead)
	c1, ev1 := connect(t, tc.servers[fs[0]])
	c2, ev2 := connect(t, tc.servers[fs[1]])
	l1, l2 := watchLosses(ev1), watchLosses(ev2)
	if _, err := c1.Create("/k", []byte("0"), 0, open); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Create("/seq", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	_, _, watchK, err := c1.GetW("/k")
	if err != nil {
		t.Fatal(err)
	}

	// Writers keep sequential creates in flight through both followers,
	// each with a unique value.
	var (
		mu    sync.Mutex
		acked []string
		fails []error
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i, c := range []*zk.Conn{c1, c2, c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("w%d-%d", i, n)
				_, err := c.Create("/seq/n-", []byte(v), zk.FlagSequence, open)
				mu.Lock()
				if err != nil {
					fails = append(fails, err)
				} else {
					acked = append(acked, v)
				}
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "writes flowing", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 50 })

	tc.stop(lead)
	// Reads are answered from the committed state while there is no leader.
	if _, _, err := c2.Get("/k"); err != nil {
		t.Fatalf("read on a follower right after the leader stopped: %v", err)
	}
	// A write issued now waits for the new leader and succeeds.
	if _, err := c2.Set("/k", []byte("after"), -1); err != nil {
		t.Fatalf("write issued during the election: %v", err)
	}
	if ev := recvEvent(t, watchK); ev.Type != zk.EventNodeDataChanged || ev.Path != "/k" {
		t.Fatalf("watch set before the leader stopped: %+v", ev)
	}
	newLead := tc.leader()
	if newLead == lead {
		t.Fatal("the stopped server still leads")
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	waitFor(t, "writes flowing after the election", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= before+50 })
	close(stop)
	wg.Wait()

	if len(fails) > 0 {
		t.Errorf("%d writes failed across the leader change, first: %v", len(fails), fails[0])
	}
	if n := l1.count() + l2.count(); n > 0 {
		t.Errorf("clients of the surviving servers lost their connection %d times", n)
	}
	// Every acknowledged create is there exactly once, and nothing else.
	kids, _, err := c1.Children("/seq")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range kids {
		data, _, err := c1.Get("/seq/" + k)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(data)]++
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("write %s applied %d times", v, n)
		}
	}
	for _, v := range acked {
		if seen[v] != 1 {
			t.Errorf("acknowledged write %s found %d times", v, seen[v])
		}
	}
	if len(kids) != len(acked) {
		t.Errorf("%d nodes for %d acknowledged creates (no write had an unknown outcome)", len(kids), len(acked))
	}
	t.Logf("%d creates acknowledged across the leader change, %d failed", len(acked), len(fails))
	tc.converged()
}

// TestLeaderWaitZeroDropsClients: with leader_wait 0 a server drops its
// clients as soon as it loses its leader, as ZooKeeper does.
func TestLeaderWaitZeroDropsClients(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	f := tc.followers(lead)[0]
	_, ev := connect(t, tc.servers[f])
	l := watchLosses(ev)
	tc.stop(lead)
	waitFor(t, "the follower's client disconnected", 10*time.Second, func() bool { return l.count() > 0 })
}

// TestLeaderWaitEnds: a follower cut from both other voters keeps its
// client for leader_wait, answering reads; a write issued meanwhile
// waits, then the server gives up: the connection closes, and the write,
// never sent, is not applied once the partition heals.
func TestLeaderWaitEnds(t *testing.T) {
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(time.Second) })
	lead := tc.leader()
	f := tc.followers(lead)[0]
	c, ev := connect(t, tc.servers[f])
	l := watchLosses(ev)
	tc.net.isolate(f)
	waitFor(t, "the cut follower stops serving", 10*time.Second, func() bool { return !tc.servers[f].serving() })
	if _, _, err := c.Get("/"); err != nil {
		t.Fatalf("read while the server waits for a leader: %v", err)
	}
	if l.count() != 0 {
		t.Fatal("the client was dropped before leader_wait")
	}
	_, err := c.Create("/never", nil, 0, open)
	if err == nil {
		t.Fatal("a write on a server cut from the quorum succeeded")
	}
	waitFor(t, "the connection closed after leader_wait", 10*time.Second, func() bool { return l.count() > 0 })
	tc.net.heal()
	tc.leader()
	tc.converged()
	tc.nowhere("/never", "the write given up on")
}

// TestLinearizableAcrossLeaderKills: pinned clients (each given one server,
// as a stock client with one address) write and read while the leader is
// stopped and restarted again and again. The history is linearizable
// (porcupine: nothing applied twice, nothing acknowledged lost), and the
// clients of servers that were never stopped never lost their connection.
func TestLinearizableAcrossLeaderKills(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("ZOOGATE_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d (replay with ZOOGATE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(5 * time.Second) })
	tc.leader()
	addrOf := map[uint64]string{}
	var addrs []string
	for _, id := range tc.voters {
		addrOf[id] = tc.servers[id].Addr().String()
		addrs = append(addrs, addrOf[id])
	}
	w := lincheck.StartPinned(t, addrs, 2, 3, seed)
	stopped := map[string]bool{}
	for i := 0; i < 4; i++ {
		target := w.Completed() + 20 + rng.Intn(40) // the load runs a random while between kills
		waitFor(t, "writes between kills", 10*time.Second, func() bool { return w.Completed() >= target })
		lead := tc.leader()
		stopped[addrOf[lead]] = true
		tc.stop(lead)
		tc.leader()
		tc.start(lead) // same address: its pinned clients come back
	}
	tc.leader()
	target := w.Completed() + 40
	waitFor(t, "writes after the last kill", 10*time.Second, func() bool { return w.Completed() >= target })
	t.Logf("%s across 4 leader stops", w.StopAndCheck(100))
	for addr, n := range w.Disconnects() {
		if !stopped[addr] && n > 0 {
			t.Errorf("clients of %s, never stopped, lost their connection %d times", addr, n)
		}
	}
	tc.converged()
}

// TestSnapshotFiresWatches: a tree replaced by a snapshot fires what the
// change means for each registered watch, as setWatches would.
func TestSnapshotFiresWatches(t *testing.T) {
	var z int64
	apply := func(tr *tree.Tree, typ proto.Op, body txn.Body) {
		z++
		if _, err := tr.Apply(&txn.Txn{Header: txn.Header{Zxid: z, Time: z, Type: typ}, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(p string, cv int32) txn.Body {
		return &txn.Create{Path: p, ACL: proto.OpenACLUnsafe, ParentCversion: cv}
	}
	old := tree.New()
	apply(old, proto.OpCreate, mk("/a", 1))
	apply(old, proto.OpCreate, mk("/b", 2))
	apply(old, proto.OpCreate, mk("/r", 3))
	apply(old, proto.OpCreate, mk("/r/x", 1))
	apply(old, proto.OpCreate, mk("/same", 4))
	cur := tree.New()
	z = 0
	apply(cur, proto.OpCreate, mk("/a", 1))
	apply(cur, proto.OpCreate, mk("/b", 2))
	apply(cur, proto.OpCreate, mk("/r", 3))
	apply(cur, proto.OpCreate, mk("/r/x", 1))
	apply(cur, proto.OpCreate, mk("/same", 4))
	apply(cur, proto.OpSetData, &txn.SetData{Path: "/a", Data: []byte("v"), Version: 1})
	apply(cur, proto.OpDelete, &txn.Delete{Path: "/b"})
	apply(cur, proto.OpCreate, mk("/c", 6))
	apply(cur, proto.OpCreate, mk("/r/y", 2))
	apply(cur, proto.OpSetData, &txn.SetData{Path: "/r/x", Data: []byte("v"), Version: 1})

	m := watch.New()
	m.Add(1, "/a", watch.Data)
	m.Add(1, "/b", watch.Child)
	m.Add(1, "/c", watch.Data) // an exists watch on a node that did not exist
	m.Add(1, "/same", watch.Data)
	m.Add(2, "/", watch.Child)
	m.Add(3, "/r", watch.Recursive)
	got := map[string]bool{}
	for _, ev := range snapshotEvents(m, old, cur) {
		got[fmt.Sprintf("%d %s", ev.Type, ev.Path)] = true
	}
	want := []string{
		fmt.Sprintf("%d /a", proto.EventNodeDataChanged),
		fmt.Sprintf("%d /b", proto.EventNodeDeleted),
		fmt.Sprintf("%d /c", proto.EventNodeCreated),
		fmt.Sprintf("%d /", proto.EventNodeChildrenChanged),
		fmt.Sprintf("%d /r/y", proto.EventNodeCreated),
		fmt.Sprintf("%d /r/x", proto.EventNodeDataChanged),
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing event %q in %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events %v, want exactly %v", got, want)
	}
}

// TestObserverKeepsClientsThroughARelayMove: an observer whose relay is
// stopped moves to its site's other relay; its client keeps its
// connection, reads meanwhile, and a write issued while the observer has
// no relay goes through once it serves again.
func TestObserverKeepsClientsThroughARelayMove(t *testing.T) {
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(5 * time.Second) })
	const relayA, relayB, obs = 7, 8, 9
	for _, id := range []uint64{relayA, relayB, obs} {
		tc.dirs[id] = t.TempDir()
	}
	tc.startLearner(relayA, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(relayB, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(obs, func(cc *ClusterConfig) { cc.Upstream, cc.Fallbacks = relayA, []uint64{relayB} })
	tc.leader()
	oc, ev := connect(t, tc.servers[obs])
	losses := watchLosses(ev)
	if _, err := oc.Create("/before", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	tc.stop(relayA)
	// Once the observer knows its relay is gone, a write waits for the next
	// one. (A write forwarded to the relay just before it died has an
	// unknown fate: docs/cluster.md, "Leader changes", same epoch.)
	waitFor(t, "the observer to notice its relay is gone", 10*time.Second, func() bool {
		st := tc.servers[obs].driver.exec.Status()
		return !st.Serving || st.Upstream == relayB
	})
	if _, _, err := oc.Get("/before"); err != nil {
		t.Fatalf("read on the observer while its relay is gone: %v", err)
	}
	if _, err := oc.Create("/after", nil, 0, open); err != nil {
		t.Fatalf("write through the observer issued as its relay stopped: %v", err)
	}
	if st := tc.servers[obs].driver.exec.Status(); st.Upstream != relayB {
		t.Fatalf("observer follows %d, want %d", st.Upstream, relayB)
	}
	if n := losses.count(); n > 0 {
		t.Fatalf("the observer's client lost its connection %d times", n)
	}
}

// TestLeaderChangeKeepsSessions: a client of a follower with a 2 s
// session keeps its session and its ephemeral node across the leader's
// stop, for well beyond its timeout: the new leader gives every session a
// fresh timeout, and the follower passes its clients' activity on.
func TestLeaderChangeKeepsSessions(t *testing.T) {
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(5 * time.Second) })
	lead := tc.leader()
	f := tc.followers(lead)[0]
	const timeout = 2 * time.Second
	c, ev, err := zk.Connect([]string{tc.servers[f].Addr().String()}, timeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "a session", 5*time.Second, func() bool { return c.State() == zk.StateHasSession })
	losses := watchLosses(ev)
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	tc.stop(lead)
	newLead := tc.leader()
	// Well past the session's timeout since the old leader went away.
	waitFor(t, "2.5 session timeouts since the stop", 10*time.Second, func() bool {
		return time.Since(stopped) > 5*timeout/2
	})
	s := tc.servers[newLead]
	s.mu.RLock()
	ok := s.tree.Exists("/eph")
	s.mu.RUnlock()
	if !ok {
		t.Fatal("the ephemeral of a client of a surviving follower is gone: its session expired")
	}
	if n := losses.count(); n > 0 {
		t.Fatalf("the client lost its connection or session %d times", n)
	}
}

// TestWaitingWriteOfAGoneClientIsDropped: a client issues a write while its
// server has no leader, then goes away. When the server serves again the
// write is not applied: nobody waits for it, and its client may have
// retried it elsewhere.
func TestWaitingWriteOfAGoneClientIsDropped(t *testing.T) {
	tc := newTestClusterWith(t, 3, func(tc *testCluster) { tc.withLeaderWait(10 * time.Second) })
	lead := tc.leader()
	f := tc.followers(lead)[0]
	r := dialRaw(t, tc.servers[f])
	r.handshake(0, nil, false)
	tc.net.isolate(f)
	waitFor(t, "the cut follower stops serving", 10*time.Second, func() bool { return !tc.servers[f].serving() })
	r.send(proto.OpCreate, createBody("/gone", nil, 0))
	s := tc.servers[f]
	waitFor(t, "the write waiting at the driver", 10*time.Second, func() bool {
		return s.writesWaiting() == 1
	})
	r.nc.Close()
	waitFor(t, "the server to notice the closed connection", 10*time.Second, func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		return len(s.conns) == 0
	})
	tc.net.heal()
	tc.leader()
	// A write issued after the heal through the same server, then a
	// converged ensemble: the dropped write would have been applied before.
	c, _ := connect(t, s)
	if _, err := c.Create("/after", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	tc.converged()
	tc.nowhere("/gone", "the write of a client that left")
}
