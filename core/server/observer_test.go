package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// startObserver starts a non-voting member of tc on the in-memory network.
func (tc *testCluster) startObserver(id uint64) *Server {
	return tc.startLearner(id, func(*ClusterConfig) {})
}

func flw(s *Server, word string) string { return s.runFourLetterWord(word, nil) }

func newObservedCluster(t *testing.T) (*testCluster, uint64) {
	tc := newTestCluster(t, 3)
	const obs = 9
	tc.dirs[obs] = t.TempDir()
	tc.startObserver(obs)
	tc.leader()
	return tc, obs
}

// An observer replicates every committed write, serves reads, forwards its
// clients' writes and sync() to the leader, and fires their watches.
func TestObserverServesReadsAndForwardsWrites(t *testing.T) {
	tc, obs := newObservedCluster(t)
	lead := tc.leader()
	if tc.servers[obs].isLeader() || !tc.servers[obs].serving() {
		t.Fatal("observer not serving, or leading")
	}
	if got := flw(tc.servers[obs], "srvr"); !strings.Contains(got, "Mode: observer") {
		t.Fatalf("srvr on the observer:\n%s", got)
	}
	if got := flw(tc.servers[lead], "mntr"); !strings.Contains(got, "zk_synced_observers\t1") {
		t.Fatalf("leader's mntr:\n%s", got)
	}
	if got := flw(tc.servers[obs], "mntr"); !strings.Contains(got, fmt.Sprintf("zk_upstream\t%d\n", lead)) ||
		!strings.Contains(got, "zk_observer_lag_txns\t") || !strings.Contains(got, "zk_upstream_last_heard_ms\t") {
		t.Fatalf("observer's mntr:\n%s", got)
	}
	oc := tc.connect(obs)
	lc := tc.connect(lead)
	if _, err := lc.Create("/a", []byte("from-leader"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := oc.Get("/b"); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("Get /b: %v", err)
	}
	_, _, wch, err := oc.ExistsW("/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Sync("/a"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := oc.Get("/a"); err != nil || string(data) != "from-leader" {
		t.Fatalf("read after sync on the observer: %q %v", data, err)
	}
	// A write through the observer is forwarded, committed, and answered.
	if _, err := oc.Create("/b", []byte("from-observer"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-wch:
		if ev.Type != zk.EventNodeCreated || ev.Path != "/b" {
			t.Fatalf("watch event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the observer's watch did not fire")
	}
	if _, err := lc.Sync("/b"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := lc.Get("/b"); err != nil || string(data) != "from-observer" {
		t.Fatalf("the leader reads %q %v", data, err)
	}
	tc.converged()
}

// An observer never counts toward a quorum: with two of three voters gone
// the leader steps down although the observer is still connected; with the
// observer gone, writes commit as before.
func TestObserverNeverCountsTowardAQuorum(t *testing.T) {
	tc, obs := newObservedCluster(t)
	lead := tc.leader()
	tc.stop(obs)
	lc := tc.connect(lead)
	if _, err := lc.Create("/without-observer", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	tc.dirs[obs] = t.TempDir()
	tc.startObserver(obs)
	tc.leader()
	for _, id := range tc.voters {
		if id != lead {
			tc.stop(id)
		}
	}
	waitFor(t, "the leader, left with only an observer, to stop serving", 10*time.Second, func() bool {
		return !tc.servers[lead].serving()
	})
}

// A session created through an observer is global: its client may move to
// a voter with the same session.
func TestObserverSessionMovesToAVoter(t *testing.T) {
	tc, obs := newObservedCluster(t)
	lead := tc.leader()
	r := dialRaw(t, tc.servers[obs])
	resp := r.handshake(0, make([]byte, 16), false)
	if resp.SessionID == 0 {
		t.Fatal("no session from the observer")
	}
	r2 := dialRaw(t, tc.servers[lead])
	again := r2.handshake(resp.SessionID, resp.Passwd, false)
	if again.SessionID != resp.SessionID || again.Timeout <= 0 {
		t.Fatalf("reconnect on the leader: %+v", again)
	}
}

// startLearner starts a non-voting member of tc on the in-memory network,
// its cluster config adjusted by mod.
func (tc *testCluster) startLearner(id uint64, mod func(*ClusterConfig)) *Server {
	s := startServer(tc.t, func(c *Config) {
		c.ServerID = id
		c.DataDir = tc.dirs[id]
		c.Tick = 50 * time.Millisecond
		c.MinSessionTimeout = 300 * time.Millisecond
		c.MaxSessionTimeout = 10 * time.Second
		c.SessionSecret = "test-cluster"
		cc := &ClusterConfig{Voters: tc.voters, Observer: true, InitLimit: 20, SyncLimit: 10, Transport: tc.net.endpoint(id)}
		mod(cc)
		c.Cluster = cc
		if tc.mod != nil {
			tc.mod(c)
		}
	})
	tc.servers[id] = s
	return s
}

// An observer behind a relay: the relay follows the leader, the observer
// follows the relay. Writes and sync() through the observer reach the
// leader through the relay, the leader streams to the relay only, and the
// session touches of the observer's clients reach the leader through the
// relay, so a session with a short timeout does not expire while its
// client is connected.
func TestObserverBehindARelay(t *testing.T) {
	tc := newTestCluster(t, 3)
	const relay, obs = 8, 9
	tc.dirs[relay], tc.dirs[obs] = t.TempDir(), t.TempDir()
	tc.startLearner(relay, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(obs, func(cc *ClusterConfig) { cc.Upstream = relay })
	lead := tc.leader()
	if got := flw(tc.servers[relay], "srvr"); !strings.Contains(got, "Mode: relay") {
		t.Fatalf("srvr on the relay:\n%s", got)
	}
	if got := flw(tc.servers[relay], "conf"); !strings.Contains(got, "peerType=observer\nrole=relay\n") {
		t.Fatalf("conf on the relay:\n%s", got)
	}
	if got := flw(tc.servers[obs], "mntr"); !strings.Contains(got, "zk_observer_lag_ms\t0\n") {
		t.Fatalf("mntr on the observer behind the relay:\n%s", got)
	}
	if st := tc.servers[obs].driver.exec.Status(); st.Upstream != relay {
		t.Fatalf("observer follows %d, want the relay %d", st.Upstream, relay)
	}
	if st := tc.servers[lead].driver.exec.Status(); st.SyncedObservers != 1 {
		t.Fatalf("the leader serves %d observers, want only the relay", st.SyncedObservers)
	}
	// A 1 s session (the client asks; the server grants at least 300 ms).
	oc, ev, err := zk.Connect([]string{tc.servers[obs].Addr().String()}, time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oc.Close)
	waitFor(t, "a session on the observer", 5*time.Second, func() bool {
		select {
		case e := <-ev:
			return e.State == zk.StateHasSession
		default:
			return oc.State() == zk.StateHasSession
		}
	})
	if _, err := oc.Create("/r", []byte("1"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	lc := tc.connect(lead)
	if _, err := lc.Set("/r", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Sync("/r"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := oc.Get("/r"); err != nil || string(data) != "2" {
		t.Fatalf("observer reads %q %v after sync", data, err)
	}
	// Three session timeouts later the ephemeral is still there: the
	// touches travelled observer -> relay -> leader (without the relay
	// passing them on, the leader expires the session within 1 s).
	sid := oc.SessionID()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := lc.Get("/r"); err != nil {
			t.Fatalf("the ephemeral of session %#x vanished: %v", sid, err)
		}
		if _, err := oc.Set("/r", []byte("3"), -1); err != nil {
			t.Fatalf("write through the relay: %v", err)
		}
		waitFor(t, "the leader to see the write", 5*time.Second, func() bool {
			data, _, err := lc.Get("/r")
			return err == nil && string(data) == "3"
		})
		lc.Set("/r", []byte("x"), -1)
	}
	tc.converged()
}

// An observer whose relay dies moves to the next relay of its list, and
// keeps receiving the primary's writes through it.
func TestObserverMovesToTheNextRelay(t *testing.T) {
	tc := newTestCluster(t, 3)
	const relayA, relayB, obs = 7, 8, 9
	for _, id := range []uint64{relayA, relayB, obs} {
		tc.dirs[id] = t.TempDir()
	}
	tc.startLearner(relayA, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(relayB, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(obs, func(cc *ClusterConfig) { cc.Upstream, cc.Fallbacks = relayA, []uint64{relayB} })
	lead := tc.leader()
	if st := tc.servers[obs].driver.exec.Status(); st.Upstream != relayA {
		t.Fatalf("observer follows %d, want %d", st.Upstream, relayA)
	}
	tc.stop(relayA)
	waitFor(t, "the observer to serve again, through the other relay", 10*time.Second, func() bool {
		st := tc.servers[obs].driver.exec.Status()
		return st.Serving && st.Upstream == relayB
	})
	lc := tc.connect(lead)
	if _, err := lc.Create("/after-move", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	oc := tc.connect(obs)
	if _, err := oc.Sync("/after-move"); err != nil {
		t.Fatal(err)
	}
	if d, _, err := oc.Get("/after-move"); err != nil || string(d) != "x" {
		t.Fatalf("observer reads %q %v", d, err)
	}
}

// With no relay of its site left, an observer with FallbackToPrimary
// follows the leader the election finds.
func TestObserverFallsBackToThePrimary(t *testing.T) {
	tc := newTestCluster(t, 3)
	const relay, obs = 8, 9
	tc.dirs[relay], tc.dirs[obs] = t.TempDir(), t.TempDir()
	tc.startLearner(relay, func(cc *ClusterConfig) { cc.ServeLearners = true })
	tc.startLearner(obs, func(cc *ClusterConfig) { cc.Upstream, cc.FallbackToPrimary = relay, true })
	lead := tc.leader()
	if st := tc.servers[obs].driver.exec.Status(); st.Upstream != relay {
		t.Fatalf("observer follows %d, want the relay %d", st.Upstream, relay)
	}
	tc.stop(relay)
	waitFor(t, "the observer to serve again, following the leader", 10*time.Second, func() bool {
		st := tc.servers[obs].driver.exec.Status()
		return st.Serving && st.Upstream == lead
	})
	lc := tc.connect(lead)
	if _, err := lc.Create("/direct", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	oc := tc.connect(obs)
	if _, err := oc.Sync("/direct"); err != nil {
		t.Fatal(err)
	}
	if d, _, err := oc.Get("/direct"); err != nil || string(d) != "x" {
		t.Fatalf("observer reads %q %v", d, err)
	}
}

// TestObserverSessionSurvivesARelayMove: an observer moved from one relay
// to another (SetUpstream, as gossip routing does) keeps its clients'
// sessions: the leader knows a session's owner as the server that holds
// its connection, not the relay that passed its writes on, so the first
// write through the new relay is not answered SessionMoved.
func TestObserverSessionSurvivesARelayMove(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local_sessions=%v", local), func(t *testing.T) {
			tc := newTestCluster(t, 3)
			const relayA, relayB, obs = 7, 8, 9
			for _, id := range []uint64{relayA, relayB, obs} {
				tc.dirs[id] = t.TempDir()
			}
			tc.startLearner(relayA, func(cc *ClusterConfig) { cc.ServeLearners = true })
			tc.startLearner(relayB, func(cc *ClusterConfig) { cc.ServeLearners = true })
			o := tc.startLearner(obs, func(cc *ClusterConfig) { cc.Upstream, cc.LocalSessions = relayA, local })
			tc.leader()
			waitFor(t, "the observer serving through relay A", 10*time.Second, func() bool {
				st := o.driver.exec.Status()
				return st.Serving && st.Upstream == relayA
			})
			oc, _ := connect(t, o)
			sid := oc.SessionID()
			if _, err := oc.Create("/through-a", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("write through relay A: %v", err)
			}
			o.SetUpstream(relayB)
			waitFor(t, "the observer serving through relay B", 10*time.Second, func() bool {
				st := o.driver.exec.Status()
				return st.Serving && st.Upstream == relayB
			})
			waitFor(t, "the client back with its session", 10*time.Second, func() bool {
				return oc.State() == zk.StateHasSession
			})
			if oc.SessionID() != sid {
				t.Fatalf("session %x became %x", sid, oc.SessionID())
			}
			for i := range 3 {
				if _, err := oc.Create(fmt.Sprintf("/through-b-%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatalf("write %d through relay B with the same session: %v", i, err)
				}
			}
		})
	}
}
