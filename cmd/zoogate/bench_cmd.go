package main

import (
	"fmt"
	"io"
	"time"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
	"github.com/zoogate/zoogate/wan"
)

// cmdBench runs the load generator (see cmd/zoogate/bench).
func cmdBench(args []string, stdout, stderr io.Writer) int {
	bench.GossipIdentities = benchGossipIdentities
	return bench.Main(args, stdout, stderr)
}

// benchGossipIdentities issues certificates for nodes 1..n of cluster as
// `zoogate tls init` does (on 127.0.0.1; kept in memory, never written)
// and returns each node's gossip identity: `zoogate bench gossip --tls`.
func benchGossipIdentities(cluster string, n int) ([]*gossip.TLSIdentity, error) {
	f := &topology.File{Cluster: topology.Cluster{Name: cluster}}
	for i := 1; i <= n; i++ {
		f.Nodes = append(f.Nodes, topology.Node{ID: uint64(i), Client: "127.0.0.1:2181", Gossip: "127.0.0.1:7946"})
	}
	files, err := tlsFiles(f, time.Now())
	if err != nil {
		return nil, err
	}
	byName := map[string][]byte{}
	for _, tf := range files {
		byName[tf.name] = tf.data
	}
	out := make([]*gossip.TLSIdentity, n)
	for i := range out {
		name := fmt.Sprintf("node-%d", i+1)
		t, err := wan.NewTLS(byName["ca.crt"], byName[name+".crt"], byName[name+".key"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[i] = gossipIdentity(t)
	}
	return out, nil
}
