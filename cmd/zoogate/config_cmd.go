package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/topology"
)

// serverConfig maps one node of a topology file onto the server's config.
func serverConfig(f *topology.File, n *topology.Node) server.Config {
	c := f.Cluster
	cfg := server.DefaultConfig()
	cfg.ServerID = n.ID
	cfg.ClientAddr = n.Client
	cfg.DataDir = n.DataDir
	if filepath.Clean(n.LogDir) != filepath.Clean(n.DataDir) {
		// Left "" when it is the data dir (the file's default), so that the
		// log follows a --data-dir override.
		cfg.LogDir = n.LogDir
	}
	cfg.Tick = c.Tick
	cfg.MinSessionTimeout = c.MinSessionTimeout
	cfg.MaxSessionTimeout = c.MaxSessionTimeout
	cfg.MaxClientCnxns = c.MaxClientCnxns
	cfg.MaxPacketSize = c.MaxPacketSize
	cfg.FourLetterWords = c.FourLetterWords
	cfg.SuperDigest = c.SuperDigest
	cfg.TTLNodes = c.TTLNodes
	cfg.ContainerCheckInterval = c.ContainerCheckInterval
	cfg.ContainerMaxPerMinute = c.ContainerMaxPerMinute
	cfg.ContainerMaxNeverUsed = c.ContainerMaxNeverUsed
	cfg.GlobalOutstandingLimit = c.GlobalOutstandingLimit
	cfg.SnapCount = c.SnapCount
	cfg.SnapRetainCount = c.SnapRetainCount
	cfg.PurgeInterval = c.PurgeInterval
	cfg.SessionSecretFile = c.SessionSecretFile // "" = the voters agree on a random secret
	cfg.AdminAddr = n.Admin                     // "" = no admin server
	cfg.AdminTokenFile = c.AdminTokenFile
	cfg.ClientTLSAddr = n.ClientTLS // "" = no TLS client port (core/server/tls.go)
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = n.TLSCert, n.TLSKey, c.TLSCA
	return cfg
}

// loadServerConfig reads a topology file and returns the server config of
// node id (0: the file's only node), plus that node's log level.
func loadServerConfig(path string, id uint64) (server.Config, string, error) {
	f, err := topology.Load(path)
	if err != nil {
		return server.Config{}, "", err
	}
	n, err := f.SelectNode(id)
	if err != nil {
		return server.Config{}, "", err
	}
	cfg, level := nodeServerConfig(f, n)
	return cfg, level, nil
}

// nodeServerConfig returns the server config of node n of file f, plus
// that node's log level ("" = the default).
func nodeServerConfig(f *topology.File, n *topology.Node) (server.Config, string) {
	level := ""
	if n.LogLevel != hclog.NoLevel {
		level = n.LogLevel.String()
	}
	cfg := serverConfig(f, n)
	cc := clusterConfig(f, n)
	cfg.Cluster = cc
	cfg.Deployment = deployment(f)
	return cfg, level
}

// clusterConfig maps the node's place in the deployment onto the server's
// cluster settings; nil for a file with one voter and nothing else. The
// WAN side (a transport that also reaches other sites) is added by
// attachWAN once the logger exists.
func clusterConfig(f *topology.File, n *topology.Node) *server.ClusterConfig {
	voters, observers, relays := f.Voters(), primaryObservers(f), f.Relays()
	if len(voters) <= 1 && len(observers) == 0 && len(relays) == 0 {
		return nil
	}
	cc := &server.ClusterConfig{Name: f.Cluster.Name, InitLimit: f.Cluster.InitLimit, SyncLimit: f.Cluster.SyncLimit, Peers: map[uint64]string{},
		ReadOnly: f.Cluster.ReadOnly, LocalSessions: f.Cluster.LocalSessions, RemoteSessionHold: f.Cluster.RemoteSessionHold, LeaderWait: f.Cluster.LeaderWait}
	for _, v := range voters {
		cc.Voters = append(cc.Voters, v.ID)
	}
	primary := f.PrimarySite()
	// A site's read_only_max_staleness overrides the cluster's.
	cc.ReadOnlyMaxStaleness = f.Cluster.ReadOnlyMaxStaleness
	site := n.Site
	if site == "" && primary != nil {
		site = primary.Name
	}
	for _, s := range f.Sites {
		if s.Name == site && s.ReadOnlyMaxStaleness != nil {
			cc.ReadOnlyMaxStaleness = *s.ReadOnlyMaxStaleness
		}
	}
	if len(f.Sites) > 1 {
		siteOf := func(o *topology.Node) string {
			if o.Site == "" && primary != nil {
				return primary.Name
			}
			return o.Site
		}
		cc.Site = siteOf(n)
		cc.SiteOf = map[uint64]string{}
		for i := range f.Nodes {
			if o := &f.Nodes[i]; o.ID != n.ID {
				cc.SiteOf[o.ID] = siteOf(o)
			}
		}
	}
	switch {
	case n.Role == topology.RoleVoter:
		for _, v := range voters {
			cc.Peers[v.ID] = v.Peer
		}
		// The primary site's observers dial the voters on the LAN; relays
		// reach them over the WAN.
		cc.AcceptLearners = len(observers) > 0
		cc.PeerLimits = wanLimits(f, relayIDs(f))
		// relay_upstream = "follower": every voter serves relays from its
		// own log, as ZooKeeper's ObserverMaster does.
		cc.ServeLearners = len(relays) > 0 && f.Cluster.RelayUpstream == topology.RelayFollowsFollower
	case n.Role == topology.RoleRelay:
		// A relay follows the leader the election finds, across the WAN
		// (bridge/), and serves its site's observers on its peer address.
		cc.Observer, cc.ServeLearners, cc.AcceptLearners = true, true, true
		cc.Peers[n.ID] = n.Peer
		cc.PeerLimits = wanLimits(f, cc.Voters)
		if f.Cluster.RelayUpstream == topology.RelayFollowsFollower {
			// The voters take turns: the k-th relay of the file starts at
			// the (k+1)-th voter (wrapping), moves along the list when its
			// voter does not serve it, and after the last one follows the
			// leader the election finds. Which voter leads is not known
			// here; when it is the one a relay starts at, the leader
			// serves that relay.
			k := slices.IndexFunc(relays, func(r *topology.Node) bool { return r.ID == n.ID })
			for i := range voters {
				id := voters[(k+1+i)%len(voters)].ID
				if i == 0 {
					cc.Upstream = id
				} else {
					cc.Fallbacks = append(cc.Fallbacks, id)
				}
			}
			cc.FallbackToPrimary = true
		}
	case primary != nil && n.Site == primary.Name: // an observer of the primary site
		cc.Observer = true
		for _, v := range voters {
			cc.Peers[v.ID] = v.Peer
		}
		if n.Peer != "" {
			cc.Peers[n.ID] = n.Peer
		}
	default: // an observer of another site follows the site's relays, in file order
		cc.Observer = true
		for _, r := range relays {
			if r.Site != n.Site {
				continue
			}
			if cc.Upstream == 0 {
				cc.Upstream = r.ID
			} else {
				cc.Fallbacks = append(cc.Fallbacks, r.ID)
			}
			cc.Peers[r.ID] = r.Peer
		}
		if n.Peer != "" {
			cc.Peers[n.ID] = n.Peer
		}
		// With a WAN link of its own it follows the primary directly when
		// no relay of its site serves it (attachWAN dials the voters).
		cc.FallbackToPrimary = n.WAN != "" && cc.Upstream != 0
		if n.WAN != "" {
			cc.PeerLimits = wanLimits(f, cc.Voters)
		}
	}
	return cc
}

// wanLimits gives the links with ids twice the file's initLimit and
// syncLimit: a WAN round trip is tens to hundreds of milliseconds, and a
// snapshot crosses it far slower than a LAN.
func wanLimits(f *topology.File, ids []uint64) map[uint64]zab.Limits {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[uint64]zab.Limits, len(ids))
	for _, id := range ids {
		m[id] = zab.Limits{InitLimit: 2 * f.Cluster.InitLimit, SyncLimit: 2 * f.Cluster.SyncLimit}
	}
	return m
}

func relayIDs(f *topology.File) []uint64 {
	var ids []uint64
	for _, r := range f.Relays() {
		ids = append(ids, r.ID)
	}
	return ids
}

// primaryObservers returns the observers of the primary site (the ones that
// follow the voters over the LAN).
func primaryObservers(f *topology.File) []*topology.Node {
	p := f.PrimarySite()
	var out []*topology.Node
	for _, o := range f.Observers() {
		if p != nil && o.Site == p.Name {
			out = append(out, o)
		}
	}
	return out
}

// cmdConfig implements `zoogate config check FILE...`.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: zoogate config check FILE...")
		return 2
	}
	status := 0
	for _, path := range args[1:] {
		f, err := topology.Load(path)
		if err != nil {
			if errors.Is(err, topology.ErrInvalidConfig) {
				fmt.Fprintln(stderr, err) // one "file:line: key: problem" per line
			} else {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
			}
			status = 1
			continue
		}
		for _, w := range f.Warnings() {
			fmt.Fprintf(stderr, "warning: %v\n", w)
		}
		ok := true
		for _, n := range f.Nodes {
			cfg := serverConfig(f, &n)
			if err := cfg.Validate(); err != nil {
				printErrors(stderr, fmt.Sprintf("%s: node %d: ", path, n.ID), err)
				ok = false
			}
		}
		if ok {
			fmt.Fprintf(stdout, "%s: ok (%d nodes in %d sites)\n", filepath.Clean(path), len(f.Nodes), len(f.Sites))
		} else {
			status = 1
		}
	}
	return status
}

// printErrors writes err with prefix on each of its lines (a Validate
// result, an errors.Join, has one problem per line).
func printErrors(w io.Writer, prefix string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}
