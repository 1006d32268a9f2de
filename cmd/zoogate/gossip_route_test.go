package main

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

// fakeUpstream is a server as the router sees it.
type fakeUpstream struct {
	st  server.NodeStatus
	set []uint64 // SetUpstream calls
}

func (f *fakeUpstream) NodeStatus() server.NodeStatus { return f.st }
func (f *fakeUpstream) SetUpstream(id uint64)         { f.set = append(f.set, id) }

// routeFixture is node n of twoSites' file (voters 1-3 in p, relays 4 in
// eu and 5 in us) plus an observer 6 in eu and a second eu relay 7, routed
// by a router with a fake clock.
type routeFixture struct {
	t     *testing.T
	srv   *fakeUpstream
	r     *router
	clock time.Time
}

func newRouteFixture(t *testing.T, id uint64) *routeFixture {
	t.Helper()
	f := twoSites(t, "")
	f.Nodes = append(f.Nodes,
		topology.Node{ID: 6, Site: "eu", Role: topology.RoleObserver, Client: "127.0.0.1:2186", WAN: "127.0.0.1:4186"},
		topology.Node{ID: 7, Site: "eu", Role: topology.RoleRelay, Client: "127.0.0.1:2187", WAN: "127.0.0.1:4187"})
	fx := &routeFixture{t: t, srv: &fakeUpstream{}, clock: time.Unix(1000, 0)}
	fx.r = &router{f: f, n: nodeOf(t, f, id), log: hclog.NewNullLogger(), srv: fx.srv, now: func() time.Time { return fx.clock }}
	return fx
}

// view builds a live view of the given members.
func view(ms ...gossip.Member) *gossip.View {
	v := &gossip.View{Self: 6}
	v.Members = append(v.Members, ms...)
	slices.SortFunc(v.Members, func(a, b gossip.Member) int { return cmp.Compare(a.ID, b.ID) }) // ordered by id
	return v
}

func member(id uint64, site, role string, st gossip.State, leader, epoch uint64) gossip.Member {
	return gossip.Member{Meta: gossip.Meta{ID: id, Site: site, Role: role, State: st, Leader: leader, Epoch: epoch, Boot: id}, Health: gossip.Alive}
}

func (fx *routeFixture) step(v *gossip.View, d time.Duration) {
	fx.clock = fx.clock.Add(d)
	fx.r.route(v)
}

func (fx *routeFixture) lastSet() (uint64, bool) {
	if len(fx.srv.set) == 0 {
		return 0, false
	}
	return fx.srv.set[len(fx.srv.set)-1], true
}

// TestRouterRelayFollowsTheViewsLeader: a relay follows the leader the view
// shows, not again when it already streams from it, and moves when a
// higher epoch names another.
func TestRouterRelayFollowsTheViewsLeader(t *testing.T) {
	fx := newRouteFixture(t, 4)
	v := view(member(1, "p", "voter", gossip.StateServing, 1, 3), member(2, "p", "voter", gossip.StateServing, 1, 3))
	fx.srv.st = server.NodeStatus{Serving: true, Upstream: 1}
	fx.step(v, time.Second)
	if len(fx.srv.set) != 0 {
		t.Fatalf("a relay already streaming from the leader was moved: %v", fx.srv.set)
	}
	v = view(member(1, "p", "voter", gossip.StateServing, 1, 3), member(2, "p", "voter", gossip.StateServing, 2, 4))
	fx.srv.st = server.NodeStatus{Upstream: 1}
	fx.step(v, 250*time.Millisecond)
	if got, _ := fx.lastSet(); got != 2 {
		t.Fatalf("after a new leader of a higher epoch the relay follows %v, want 2", fx.srv.set)
	}
}

// TestRouterObserverLeavesADeadRelayEarly: an observer unserved by the
// relay it follows for avoidAfter, while the view still shows that relay
// serving (the pools have not concluded), moves to the other relay; the
// left-out relay is eligible again once it restarts (a new Boot).
func TestRouterObserverLeavesADeadRelayEarly(t *testing.T) {
	fx := newRouteFixture(t, 6)
	r4, r7 := member(4, "eu", "relay", gossip.StateServing, 1, 3), member(7, "eu", "relay", gossip.StateServing, 1, 3)
	voter := member(1, "p", "voter", gossip.StateServing, 1, 3)
	fx.srv.st = server.NodeStatus{Serving: true, Upstream: 4}
	fx.step(view(voter, r4, r7), time.Second)
	if got, _ := fx.lastSet(); got != 4 || len(fx.srv.set) != 1 {
		t.Fatalf("an observer served by relay 4 is pinned to it, got %v", fx.srv.set)
	}
	// Relay 4 dies: the observer is looking for it, the view still says serving.
	fx.srv.st = server.NodeStatus{Upstream: 4}
	fx.step(view(voter, r4, r7), 250*time.Millisecond) // the clock starts
	fx.step(view(voter, r4, r7), 250*time.Millisecond)
	if len(fx.srv.set) != 1 {
		t.Fatalf("moved before avoidAfter: %v", fx.srv.set)
	}
	fx.step(view(voter, r4, r7), 300*time.Millisecond)
	if got, _ := fx.lastSet(); got != 7 {
		t.Fatalf("after %v unserved the observer follows %v, want relay 7", avoidAfter, fx.srv.set)
	}
	fx.srv.st = server.NodeStatus{Serving: true, Upstream: 7}
	// Relay 4 comes back (new Boot) and serves: the observer stays on 7
	// (it serves), but 4 is a candidate again should 7 go.
	r4b := r4
	r4b.Boot = 99
	fx.step(view(voter, r4b, r7), time.Second)
	if got, _ := fx.lastSet(); got != 7 || len(fx.srv.set) != 2 {
		t.Fatalf("with 7 serving the observer was moved: %v", fx.srv.set)
	}
	r7dead := r7
	r7dead.Health = gossip.Dead
	fx.srv.st = server.NodeStatus{Upstream: 7}
	fx.step(view(voter, r4b, r7dead), 250*time.Millisecond)
	if got, _ := fx.lastSet(); got != 4 {
		t.Fatalf("relay 7 dead, relay 4 back: the observer follows %v, want 4", fx.srv.set)
	}
	// A relay just moved to gets firstContact, not avoidAfter: its link
	// may still be dialing.
	fx.srv.st = server.NodeStatus{Upstream: 4}
	n := len(fx.srv.set)
	for range 8 { // 2 s unserved by the relay it has just moved to
		fx.step(view(voter, r4b, r7dead), 250*time.Millisecond)
	}
	if len(fx.srv.set) != n {
		t.Fatalf("left the relay it had just moved to within %v: %v", firstContact, fx.srv.set)
	}
	for range 6 {
		fx.step(view(voter, r4b, r7dead), 250*time.Millisecond)
	}
	if got, _ := fx.lastSet(); got != 0 {
		t.Fatalf("relay 4 never served it for more than %v, 7 is dead: the observer follows %v, want the primary", firstContact, fx.srv.set)
	}
}

// TestRouterCutSiteStaysOnItsRelay: when the whole site is cut off (its
// relays gossip read-only), an unserved observer stays with its relay
// instead of crossing the cut WAN; with no relay of the site alive it
// follows the primary (0).
func TestRouterCutSiteStaysOnItsRelay(t *testing.T) {
	fx := newRouteFixture(t, 6)
	voter := member(1, "p", "voter", gossip.StateServing, 1, 3)
	r4, r7 := member(4, "eu", "relay", gossip.StateReadOnly, 1, 3), member(7, "eu", "relay", gossip.StateReadOnly, 1, 3)
	fx.srv.st = server.NodeStatus{ReadOnly: true, Upstream: 4}
	for range 20 {
		fx.step(view(voter, r4, r7), 250*time.Millisecond)
	}
	if len(fx.srv.set) != 0 && fx.srv.set[len(fx.srv.set)-1] != 4 {
		t.Fatalf("a cut-off observer was moved: %v", fx.srv.set)
	}
	r4.Health, r7.Health = gossip.Dead, gossip.Dead
	fx.step(view(voter, r4, r7), 250*time.Millisecond)
	if got, ok := fx.lastSet(); !ok || got != 0 {
		t.Fatalf("no relay of eu alive: the observer follows %v, want the primary (0)", fx.srv.set)
	}
}
