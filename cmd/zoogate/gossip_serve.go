package main

import (
	"cmp"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
	"github.com/zoogate/zoogate/wan"
)

// noDynamicObservers is what a node hands a joining node when its
// deployment does not take observers that are not in its file.
const noDynamicObservers = "zoogate: dynamic_observers is off\n"

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
func startGossip(cfg *server.Config, f *topology.File, n *topology.Node, ident *wan.TLS, log hclog.Logger) (*gossipNode, error) {
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
			gc.WANSeeds = append(gc.WANSeeds, cmp.Or(o.GossipWANAdvertise, o.GossipWAN))
		}
	}
	gc.Admit = admitter(f)
	if ident != nil {
		gc.TLS = gossipIdentity(ident)
	}
	// A node that joins through this one is handed the deployment's file
	// (zoogate serve --join), or a refusal it reports.
	source := []byte(noDynamicObservers)
	if f.Cluster.DynamicObservers && len(f.Source) > 0 {
		source = f.Source
	}
	gc.JoinState = func() []byte { return source }
	meta := gossip.Meta{Role: n.Role.String(), Client: n.Client, WAN: cmp.Or(n.WANAdvertise, n.WAN)}
	agent, err := gossip.Start(gc, meta, log.Named("topology.gossip"))
	if err != nil {
		return nil, err
	}
	cfg.GossipView = func() []byte { return agent.View().JSON() }
	return &gossipNode{f: f, n: n, agent: agent, log: log.Named("topology.route"), stop: make(chan struct{})}, nil
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
		r := router{f: g.f, n: g.n, log: g.log, srv: srv, now: time.Now}
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
	m := gossip.Meta{Role: g.n.Role.String(), Client: g.n.Client, WAN: cmp.Or(g.n.WANAdvertise, g.n.WAN),
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
