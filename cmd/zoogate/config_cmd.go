package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
)

// serverConfig maps one node of a topology file onto the server's config.
func serverConfig(f *topology.File, n *topology.Node) server.Config {
	c := f.Cluster
	cfg := server.DefaultConfig()
	cfg.ServerID = int64(n.ID)
	cfg.ClientAddr = n.Client
	cfg.DataDir = n.DataDir
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
	cfg.SessionSecret = c.Name
	return cfg
}

// loadServerConfig reads a topology file and returns the server config of
// node id (0: the file's only node), plus that node's log level.
func loadServerConfig(path string, id int) (server.Config, string, error) {
	f, err := topology.Load(path)
	if err != nil {
		return server.Config{}, "", err
	}
	n, err := f.SelectNode(id)
	if err != nil {
		return server.Config{}, "", err
	}
	if n.Role != topology.RoleVoter {
		return server.Config{}, "", fmt.Errorf("%s: node %d: role %s is not supported yet (observers and relays come with the WAN work); only voters run", path, n.ID, n.Role)
	}
	level := ""
	if n.LogLevel != hclog.NoLevel {
		level = n.LogLevel.String()
	}
	cfg := serverConfig(f, n)
	if voters := f.Voters(); len(voters) > 1 {
		cc := &server.ClusterConfig{Name: f.Cluster.Name, InitLimit: f.Cluster.InitLimit, SyncLimit: f.Cluster.SyncLimit, Peers: map[uint64]string{}}
		for _, v := range voters {
			cc.Voters = append(cc.Voters, uint64(v.ID))
			cc.Peers[uint64(v.ID)] = v.Peer
		}
		cfg.Cluster = cc
	}
	return cfg, level, nil
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
			var ve *topology.ValidationError
			if errors.As(err, &ve) {
				fmt.Fprintln(stderr, err)
			} else {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
			}
			status = 1
			continue
		}
		for _, w := range f.Warnings() {
			fmt.Fprintf(stderr, "warning: %v\n", w)
		}
		for _, n := range f.Nodes {
			cfg := serverConfig(f, &n)
			if err := cfg.Validate(); err != nil {
				fmt.Fprintf(stderr, "%s: node %d: %v\n", path, n.ID, err)
				status = 1
			}
		}
		if status == 0 {
			fmt.Fprintf(stdout, "%s: ok (%d nodes in %d sites)\n", filepath.Clean(path), len(f.Nodes), len(f.Sites))
		}
	}
	return status
}
