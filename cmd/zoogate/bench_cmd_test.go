package main

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
)

// TestBenchGossipCountsWithTLS runs `bench gossip`'s measurement on a pool
// of three with and without certificate identity: with TLS the pool must
// form through the identity checks (RunGossip fails otherwise) and the
// bytes beneath TLS must be counted.
func TestBenchGossipCountsWithTLS(t *testing.T) {
	bench.GossipIdentities = benchGossipIdentities
	ids, err := benchGossipIdentities("bench", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Fatalf("%d identities, want 3", len(ids))
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Warn, Output: t.Output()})
	for _, withTLS := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := bench.RunGossip(ctx, bench.GossipOptions{Nodes: 3, Window: 2 * time.Second, TLS: withTLS, Settle: time.Millisecond}, log)
		cancel()
		if err != nil {
			t.Fatalf("tls %v: %v", withTLS, err)
		}
		if !(r.BytesPerSecPerNode > 0) || r.TLS != withTLS {
			t.Fatalf("tls %v: %+v", withTLS, r)
		}
		t.Logf("tls %v: %.0f B/s per node", withTLS, r.BytesPerSecPerNode)
	}
}
