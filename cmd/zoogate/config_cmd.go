package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
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
	primary := f.PrimarySite()
	if n.Role == topology.RoleRelay || (n.Role == topology.RoleObserver && (primary == nil || n.Site != primary.Name)) {
		return server.Config{}, "", fmt.Errorf("%s: node %d: a %s in site %q is not supported yet (relays and remote-site observers need the WAN transport); voters and observers of the primary site run", path, n.ID, n.Role, n.Site)
	}
	level := ""
	if n.LogLevel != hclog.NoLevel {
		level = n.LogLevel.String()
	}
	cfg := serverConfig(f, n)
	voters, observers := f.Voters(), primaryObservers(f)
	if len(voters) > 1 || len(observers) > 0 {
		cc := &server.ClusterConfig{Name: f.Cluster.Name, InitLimit: f.Cluster.InitLimit, SyncLimit: f.Cluster.SyncLimit, Peers: map[uint64]string{}}
		for _, v := range voters {
			cc.Voters = append(cc.Voters, v.ID)
			cc.Peers[v.ID] = v.Peer
		}
		// Observers dial the voters; voters accept them.
		cc.AcceptLearners = len(observers) > 0
		if n.Role == topology.RoleObserver {
			cc.Observer = true
			if n.Peer != "" {
				cc.Peers[n.ID] = n.Peer
			}
		}
		cfg.Cluster = cc
	}
	return cfg, level, nil
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
