package main

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

// Routing from the live view (docs/topology.md, "Routing rules").

// avoidAfter is how long an observer goes unserved by the relay that was
// serving it before it stops trusting the live view about that relay (a
// relay killed is seen dead by memberlist's LAN profile only seconds
// later); firstContact the longer grace of a relay it has just moved to
// and not been served by yet (its peer link may still be in a dial
// backoff, e.g. to a relay that was restarted); avoidFor how long it then
// leaves that relay out.
const (
	avoidAfter   = 500 * time.Millisecond
	firstContact = 3 * time.Second
	avoidFor     = 15 * time.Second
)

// upstreamServer is what the router needs of the server: its state, and a
// way to set its upstream (a *server.Server; a fake in tests).
type upstreamServer interface {
	NodeStatus() server.NodeStatus
	SetUpstream(id uint64)
}

// router turns live views into upstream choices for srv, a node n of
// file f.
type router struct {
	f      *topology.File
	n      *topology.Node
	log    hclog.Logger
	srv    upstreamServer
	now    func() time.Time
	chosen uint64 // the upstream last chosen; 0 before any
	set    bool
	// unserved is when the server last stopped being served (zero while
	// served); avoid the relays left out until a time.
	unserved time.Time
	avoid    map[uint64]avoided
	// servedBy: the relay followed now has served this observer.
	servedBy bool
}

// sameState reports whether two metadata of a node differ at most in
// zxid and lag (which move while it runs).
func sameState(a, b gossip.Meta) bool {
	a.Zxid, a.LagTxns, a.LagMs = b.Zxid, b.LagTxns, b.LagMs
	return a == b
}

// avoided is a relay left out: until when, and its metadata then (a relay
// that gossips anything new is alive again, e.g. restarted).
type avoided struct {
	until time.Time
	meta  gossip.Meta
}

// route applies the routing rules of docs/topology.md to view v:
//   - a relay (relay_upstream = "leader") follows the leader the view
//     shows, switching as soon as the view shows another;
//   - an observer of a remote site follows a relay of its site
//     (RelayFor), and the primary (the election) when none is alive.
func (r *router) route(v *gossip.View) {
	n, f := r.n, r.f
	var want uint64
	switch {
	case n.Role == topology.RoleRelay && f.Cluster.RelayUpstream != topology.RelayFollowsFollower:
		leader, _ := v.Leader()
		if leader == 0 {
			return // keep following what it follows
		}
		want = leader
	case n.Role == topology.RoleObserver && siteName(f, n) != primaryName(f) && hasRelays(f, siteName(f, n)):
		ns := r.srv.NodeStatus()
		cur := r.chosen
		if !r.set {
			cur = ns.Upstream
		}
		v = v.Without(r.avoided(v, ns, cur)...)
		want = v.RelayFor(siteName(f, n), cur, relayMaxLagTxns)
		if want == 0 && n.WAN == "" {
			return // no WAN link of its own: nothing better to follow
		}
	default:
		return
	}
	if r.set && want == r.chosen {
		return
	}
	if r.set && want != r.chosen {
		r.servedBy = false // a new relay: first contact
	}
	r.chosen, r.set = want, true
	if ns := r.srv.NodeStatus(); n.Role == topology.RoleRelay && ns.Serving && ns.Upstream == want {
		// Already streaming from the leader: left to the election, which
		// finds the next leader by itself should gossip not.
		return
	}
	// An observer is pinned to the relay chosen, even the one it streams
	// from already (zab keeps that stream): from then on the view decides,
	// not the file's fallback order.
	r.log.Info("routing from the live view", "upstream", want)
	r.srv.SetUpstream(want)
}

// avoided returns the relays an observer leaves out now: the one it
// follows, for avoidFor, once it has gone unserved for avoidAfter while
// the view still shows that relay serving (it died and the pools do not
// know yet). A relay the view shows read-only or syncing is alive but cut
// off, like the rest of its site: the observer stays with it.
func (r *router) avoided(v *gossip.View, ns server.NodeStatus, cur uint64) []uint64 {
	now := r.now()
	m, _ := v.Member(cur)
	stale := m.Health == gossip.Alive && m.State == gossip.StateServing
	if ns.Serving && ns.Upstream == cur {
		r.servedBy = true
	}
	grace := avoidAfter
	if !r.servedBy {
		grace = firstContact
	}
	switch {
	case ns.Serving || ns.Syncing: // served, or being brought up to date
		r.unserved = time.Time{}
	case r.unserved.IsZero():
		r.unserved = now
	case cur != 0 && stale && now.Sub(r.unserved) >= grace:
		if r.avoid == nil {
			r.avoid = map[uint64]avoided{}
		}
		if _, ok := r.avoid[cur]; !ok {
			r.log.Info("the relay followed does not serve this observer; leaving it out", "relay", cur, "for", avoidFor)
		}
		r.avoid[cur] = avoided{until: now.Add(avoidFor), meta: m.Meta}
		r.unserved = now // give the next one its own avoidAfter
	}
	var out []uint64
	for id, a := range r.avoid {
		// Once the pools have seen it dead, or it gossips something new
		// (it came back), the view speaks for it again.
		if m, _ := v.Member(id); now.After(a.until) || m.Health != gossip.Alive || !sameState(m.Meta, a.meta) {
			delete(r.avoid, id)
			continue
		}
		out = append(out, id)
	}
	return out
}
