package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

// relayMaxLagTxns is how far (in transactions) a site's relay may fall
// behind its upstream before the site's observers prefer another relay.
const relayMaxLagTxns = 1000

// metaEvery is how often the node's state is read for its gossip.
const metaEvery = 250 * time.Millisecond

// gossipNode runs a server's gossip: its pools (topology/gossip), its
// metadata from the server's state, and the routing decisions the live
// view drives (which upstream a relay or an observer follows).
type gossipNode struct {
	f     *topology.File
	n     *topology.Node
	agent *gossip.Agent
	log   hclog.Logger
	stop  chan struct{}
	done  sync.WaitGroup
}

// startGossip joins the node's pools when the topology gives it a gossip
// address (nil, nil otherwise) and points cfg's gsip word at its view.
func startGossip(cfg *server.Config, path string, id uint64, log hclog.Logger) (*gossipNode, error) {
	f, err := topology.Load(path)
	if err != nil {
		return nil, err
	}
	n, err := f.SelectNode(id)
	if err != nil {
		return nil, err
	}
	if n.Gossip == "" {
		return nil, nil
	}
	gc := gossip.DefaultConfig()
	gc.Cluster, gc.ID, gc.Site = f.Cluster.Name, n.ID, siteName(f, n)
	gc.LAN, gc.WAN, gc.WANAdvertise = n.Gossip, n.GossipWAN, n.GossipWANAdvertise
	if f.Cluster.GossipKeyFile != "" {
		b, err := os.ReadFile(f.Cluster.GossipKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.gossip_key_file: %w", err)
		}
		if gc.Key, err = gossip.ParseKey(b); err != nil {
			return nil, fmt.Errorf("cluster.gossip_key_file %s: %w", f.Cluster.GossipKeyFile, err)
		}
	}
	for i := range f.Nodes {
		o := &f.Nodes[i]
		if o.ID == n.ID {
			continue
		}
		if o.Gossip != "" && siteName(f, o) == gc.Site {
			gc.LANSeeds = append(gc.LANSeeds, o.Gossip)
		}
		if n.GossipWAN != "" && o.GossipWAN != "" {
			gc.WANSeeds = append(gc.WANSeeds, cmp(o.GossipWANAdvertise, o.GossipWAN))
		}
	}
	gc.Admit = admitter(f)
	meta := gossip.Meta{Role: n.Role.String(), Client: n.Client, WAN: cmp(n.WANAdvertise, n.WAN)}
	agent, err := gossip.Start(gc, meta, log.Named("topology.gossip"))
	if err != nil {
		return nil, err
	}
	cfg.GossipView = func() []byte { return agent.View().JSON() }
	return &gossipNode{f: f, n: n, agent: agent, log: log.Named("topology.route"), stop: make(chan struct{})}, nil
}

// cmp returns a unless it is empty, else b.
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func siteName(f *topology.File, n *topology.Node) string {
	if n.Site != "" {
		return n.Site
	}
	if p := f.PrimarySite(); p != nil {
		return p.Name
	}
	return ""
}

// admitter refuses members the file contradicts: a node of the file must
// gossip its own site and role; one not in the file only joins as an
// observer of a known site, and only with dynamic_observers.
func admitter(f *topology.File) func(gossip.Meta, string) error {
	sites := map[string]bool{}
	for _, s := range f.Sites {
		sites[s.Name] = true
	}
	return func(m gossip.Meta, addr string) error {
		for i := range f.Nodes {
			o := &f.Nodes[i]
			if o.ID != m.ID {
				continue
			}
			if site := siteName(f, o); m.Site != site || m.Role != o.Role.String() {
				return fmt.Errorf("member %d at %s gossips site %q role %q, but the topology file says %q %q: refused", m.ID, addr, m.Site, m.Role, site, o.Role)
			}
			return nil
		}
		if !f.Cluster.DynamicObservers {
			return fmt.Errorf("member %d at %s is not in the topology file (dynamic_observers is off): refused", m.ID, addr)
		}
		if m.Role != topology.RoleObserver.String() || !sites[m.Site] {
			return fmt.Errorf("member %d at %s is not in the topology file and is not an observer of a known site: refused", m.ID, addr)
		}
		return nil
	}
}

// run gossips srv's state and routes it from the live view until close.
func (g *gossipNode) run(srv *server.Server) {
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		views := g.agent.Subscribe()
		t := time.NewTicker(metaEvery)
		defer t.Stop()
		r := router{g: g, srv: srv}
		for {
			select {
			case <-g.stop:
				return
			case <-t.C:
				g.gossipState(srv)
			case <-views:
			}
			r.route(g.agent.View())
		}
	}()
}

// gossipState puts the server's state into the node's metadata.
func (g *gossipNode) gossipState(srv *server.Server) {
	ns := srv.NodeStatus()
	m := gossip.Meta{Role: g.n.Role.String(), Client: g.n.Client, WAN: cmp(g.n.WANAdvertise, g.n.WAN),
		Leader: ns.Leader, Epoch: ns.Epoch, Upstream: ns.Upstream, Zxid: ns.Zxid, LagTxns: ns.LagTxns, LagMs: ns.LagMs}
	// Behind a relay, zab knows the relay as its leader: the primary's
	// leader is the one the relay gossips.
	if up, ok := g.agent.View().Member(ns.Upstream); ok && up.Role == topology.RoleRelay.String() && ns.Leader == ns.Upstream {
		m.Leader, m.Epoch = up.Leader, up.Epoch
	}
	switch {
	case ns.Serving:
		m.State = gossip.StateServing
	case ns.ReadOnly:
		m.State = gossip.StateReadOnly
	case ns.Syncing:
		m.State = gossip.StateSyncing
	}
	if err := g.agent.SetMeta(m); err != nil {
		g.log.Warn("node metadata not gossiped", "error", err)
	}
}

// close leaves the pools.
func (g *gossipNode) close() {
	close(g.stop)
	g.done.Wait()
	if err := g.agent.Close(); err != nil {
		g.log.Debug("leaving the pools", "error", err)
	}
}

// avoidAfter is how long an observer goes unserved by the relay it
// follows before it stops trusting the live view about that relay (a relay
// killed is seen dead by memberlist's LAN profile only seconds later);
// avoidFor how long it then leaves that relay out.
const (
	avoidAfter = 500 * time.Millisecond
	avoidFor   = 15 * time.Second
)

// router turns live views into upstream choices for srv.
type router struct {
	g      *gossipNode
	srv    *server.Server
	chosen uint64 // the upstream last chosen; 0 before any
	set    bool
	// unserved is when the server last stopped being served (zero while
	// served); avoid the relays left out until a time.
	unserved time.Time
	avoid    map[uint64]avoided
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
	n, f := r.g.n, r.g.f
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
	r.chosen, r.set = want, true
	if ns := r.srv.NodeStatus(); ns.Serving && ns.Upstream == want && want != 0 {
		return // already streaming from it (the election or the file's order found it)
	}
	r.g.log.Info("routing from the live view", "upstream", want)
	r.srv.SetUpstream(want)
}

// avoided returns the relays an observer leaves out now: the one it
// follows, for avoidFor, once it has gone unserved for avoidAfter while
// the view still shows that relay serving (it died and the pools do not
// know yet). A relay the view shows read-only or syncing is alive but cut
// off, like the rest of its site: the observer stays with it.
func (r *router) avoided(v *gossip.View, ns server.NodeStatus, cur uint64) []uint64 {
	now := time.Now()
	m, _ := v.Member(cur)
	stale := m.Health == gossip.Alive && m.State == gossip.StateServing
	switch {
	case ns.Serving || ns.Syncing: // served, or being brought up to date
		r.unserved = time.Time{}
	case r.unserved.IsZero():
		r.unserved = now
	case cur != 0 && stale && now.Sub(r.unserved) >= avoidAfter:
		if r.avoid == nil {
			r.avoid = map[uint64]avoided{}
		}
		if _, ok := r.avoid[cur]; !ok {
			r.g.log.Info("the relay followed does not serve this observer; leaving it out", "relay", cur, "for", avoidFor)
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

func primaryName(f *topology.File) string {
	if p := f.PrimarySite(); p != nil {
		return p.Name
	}
	return ""
}

func hasRelays(f *topology.File, site string) bool {
	for i := range f.Nodes {
		if f.Nodes[i].Role == topology.RoleRelay && siteName(f, &f.Nodes[i]) == site {
			return true
		}
	}
	return false
}
