package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"

	"github.com/zoogate/zoogate/topology/gossip"
)

// `zoogate bench gossip`: what the gossip pools cost. N agents of one site
// run in this process on loopback (memberlist's LAN profile, encrypted,
// each node's zxid moving every second as under load); after the pool has
// formed and settled, every byte each node sends (UDP packets and TCP
// streams) is counted for the measurement window. The window must span
// memberlist's periodic state exchange (push/pull: every 30 s, 60 s in a
// pool of 33 to 64), or it leaves that traffic out.

// GossipResult is one pool size's measurement.
type GossipResult struct {
	Nodes int `json:"nodes"`
	// BytesPerSecPerNode is the mean of what each node sent per second;
	// MaxBytesPerSec the busiest node's.
	BytesPerSecPerNode float64 `json:"bytes_per_sec_per_node"`
	MaxBytesPerSec     float64 `json:"max_bytes_per_sec"`
	// FormedIn is how long until every node saw every other alive.
	FormedIn time.Duration `json:"formed_in_ns"`
	Window   time.Duration `json:"window_ns"`
	TLS      bool          `json:"tls"` // certificate identity on
}

// countingTransport counts the bytes a memberlist transport sends: its
// packets, and its streams unless the bytes of those are counted beneath
// TLS (streams false: TLSIdentity.WrapConn does it).
type countingTransport struct {
	memberlist.Transport
	sent    *atomic.Int64
	streams bool
	in      chan net.Conn // accepted streams, wrapped (memberlist asks for the channel in a loop)
	once    sync.Once
}

// countingTransport is node-aware whatever it wraps, so that memberlist
// names the member it dials (the TLS transport checks the name).
var _ memberlist.NodeAwareTransport = (*countingTransport)(nil)

func (c *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	c.sent.Add(int64(len(b)))
	return c.Transport.WriteTo(b, addr)
}

func (c *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if na, ok := c.Transport.(memberlist.NodeAwareTransport); ok {
		c.sent.Add(int64(len(b)))
		return na.WriteToAddress(b, a)
	}
	return c.WriteTo(b, a.Addr)
}

func (c *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return c.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (c *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var err error
	if na, ok := c.Transport.(memberlist.NodeAwareTransport); ok {
		conn, err = na.DialAddressTimeout(a, timeout)
	} else {
		conn, err = c.Transport.DialTimeout(a.Addr, timeout)
	}
	if err != nil || !c.streams {
		return conn, err
	}
	return &countingConn{Conn: conn, sent: c.sent}, nil
}

func (c *countingTransport) StreamCh() <-chan net.Conn {
	if !c.streams {
		return c.Transport.StreamCh()
	}
	c.once.Do(func() {
		in := c.Transport.StreamCh()
		c.in = make(chan net.Conn)
		go func() {
			for conn := range in {
				c.in <- &countingConn{Conn: conn, sent: c.sent}
			}
		}()
	})
	return c.in
}

type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.Add(int64(n))
	return n, err
}

// GossipIdentities, when set (cmd/zoogate sets it), returns certificate
// identities for nodes 1..n of cluster, issued as `zoogate tls init`
// issues them: what --tls measures with.
var GossipIdentities func(cluster string, n int) ([]*gossip.TLSIdentity, error)

// GossipOptions is one pool's measurement.
type GossipOptions struct {
	Nodes     int
	Window    time.Duration // how long it is measured, once formed and settled
	ZxidEvery time.Duration // how often every node's zxid moves; 0: never
	// TLS gives the pool certificate identity (a deployment with tls_ca):
	// streams over mutual TLS, every member's id checked by a probe.
	TLS bool
	// Settle is how long the formed pool runs before the window; 0 =
	// gossipSettle.
	Settle time.Duration
}

// RunGossip measures a pool as o says.
func RunGossip(ctx context.Context, o GossipOptions, log hclog.Logger) (*GossipResult, error) {
	n, window, zxidEvery := o.Nodes, o.Window, o.ZxidEvery
	var idents []*gossip.TLSIdentity
	if o.TLS {
		if GossipIdentities == nil {
			return nil, errors.New("--tls: no certificate issuer (run it as zoogate bench gossip)")
		}
		var err error
		if idents, err = GossipIdentities("bench", n); err != nil {
			return nil, fmt.Errorf("--tls: %w", err)
		}
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	type node struct {
		a    *gossip.Agent
		sent atomic.Int64
	}
	nodes := make([]*node, n)
	addrs := make([]string, n)
	lns := make([]net.PacketConn, n)
	for i := range addrs { // free ports for TCP and UDP alike, held until every one is chosen
		for {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			addr := l.Addr().String()
			p, err := net.ListenPacket("udp", addr)
			l.Close()
			if err == nil {
				lns[i], addrs[i] = p, addr
				break
			}
		}
	}
	for _, p := range lns {
		p.Close()
	}
	defer func() {
		for _, nd := range nodes {
			if nd != nil && nd.a != nil {
				nd.a.Close()
			}
		}
	}()
	for i := range nodes {
		nd := &node{}
		nodes[i] = nd
		cfg := gossip.DefaultConfig()
		cfg.Cluster, cfg.ID, cfg.Site, cfg.Key = "bench", uint64(i+1), "p", key
		cfg.LAN = addrs[i]
		cfg.LANSeeds = slices.Clone(addrs[:i]) // join the ones already up
		if i == 0 {
			cfg.LANSeeds = nil
		}
		var tuneErr error
		if o.TLS {
			// Count beneath TLS: handshakes and records as they go out.
			id := *idents[i]
			id.WrapConn = func(c net.Conn) net.Conn { return &countingConn{Conn: c, sent: &nd.sent} }
			cfg.TLS = &id
			cfg.Tune = func(lan bool, c *memberlist.Config) {
				c.Transport = &countingTransport{Transport: c.Transport, sent: &nd.sent}
			}
		} else {
			cfg.Tune = func(lan bool, c *memberlist.Config) {
				nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
					BindAddrs: []string{c.BindAddr}, BindPort: c.BindPort, Logger: c.Logger,
				})
				if err != nil {
					tuneErr = err
					return
				}
				c.Transport = &countingTransport{Transport: nt, sent: &nd.sent, streams: true}
			}
		}
		a, err := gossip.Start(cfg, gossip.Meta{Role: "voter", Client: "127.0.0.1:2181", State: gossip.StateServing, Leader: 1, Epoch: 1},
			log.Named(fmt.Sprintf("n%d", i+1)))
		if err == nil && tuneErr != nil {
			a.Close()
			err = tuneErr // its bytes would not be counted
		}
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		nd.a = a
	}
	start := time.Now()
	for {
		formed := true
		for _, nd := range nodes {
			if c := countAlive(nd.a.View()); c != n {
				formed = false
				break
			}
		}
		if formed {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return nil, fmt.Errorf("the pool of %d did not form within 2 minutes", n)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // poll interval of the pool's formation
		}
	}
	res := &GossipResult{Nodes: n, FormedIn: time.Since(start), Window: window, TLS: o.TLS}
	// Settle: the join's own traffic (alive messages retransmitted by
	// every member) is not the steady state measured.
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cmp.Or(o.Settle, gossipSettle)):
	}
	for _, nd := range nodes {
		nd.sent.Store(0)
	}
	// The window: each node's zxid moves every second, as on a loaded
	// deployment (zxid changes are gossiped at most once a second).
	var tickC <-chan time.Time
	if zxidEvery > 0 {
		tick := time.NewTicker(zxidEvery)
		defer tick.Stop()
		tickC = tick.C
	}
	end := time.After(window)
	zxid := int64(0x100000001)
loop:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-end:
			break loop
		case <-tickC:
			zxid += 1000
			for _, nd := range nodes {
				nd.a.SetMeta(gossip.Meta{Role: "voter", Client: "127.0.0.1:2181", State: gossip.StateServing, Leader: 1, Epoch: 1, Zxid: zxid})
			}
		}
	}
	var total int64
	for _, nd := range nodes {
		s := nd.sent.Load()
		total += s
		res.MaxBytesPerSec = max(res.MaxBytesPerSec, float64(s)/window.Seconds())
	}
	res.BytesPerSecPerNode = float64(total) / float64(n) / window.Seconds()
	return res, nil
}

// gossipSettle is how long a formed pool runs before it is measured.
const gossipSettle = 10 * time.Second

func countAlive(v *gossip.View) int {
	c := 0
	for _, m := range v.Members {
		if m.Health == gossip.Alive {
			c++
		}
	}
	return c
}

// runGossipCmd: zoogate bench gossip [--nodes 5,20,50] [--window 2m] [--zxid-every 1s] [--tls] [--json]
func runGossipCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench gossip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("nodes", "5,20,50", "pool sizes to measure, comma-separated")
	window := fs.Duration("window", 2*time.Minute, "how long each pool is measured once formed (span two of memberlist's push/pull intervals: 60 s at 33 to 64 nodes)")
	asJSON := fs.Bool("json", false, "print JSON")
	zxidEvery := fs.Duration("zxid-every", time.Second, "how often each node's zxid moves, as under load (0: never: memberlist's own traffic)")
	withTLS := fs.Bool("tls", false, "certificate identity, as in a deployment with [cluster] tls_ca: streams over mutual TLS, every member's id checked")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 200 {
			fmt.Fprintf(stderr, "zoogate bench gossip: --nodes %q: want sizes in 2..200\n", s)
			return ExitUsage
		}
		ns = append(ns, n)
	}
	if *window <= 0 {
		fmt.Fprintln(stderr, "zoogate bench gossip: --window must be positive")
		return ExitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "gossip", Level: hclog.Error, Output: stderr})
	var out []*GossipResult
	for _, n := range ns {
		r, err := RunGossip(ctx, GossipOptions{Nodes: n, Window: *window, ZxidEvery: *zxidEvery, TLS: *withTLS}, log)
		if err != nil {
			fmt.Fprintf(stderr, "zoogate bench gossip: %v\n", err)
			return ExitFailure
		}
		out = append(out, r)
		if !*asJSON {
			tlsNote := ""
			if r.TLS {
				tlsNote = ", TLS"
			}
			fmt.Fprintf(stdout, "%3d nodes%s: %7.0f B/s per node (busiest %7.0f), pool formed in %v, measured %v\n",
				n, tlsNote, r.BytesPerSecPerNode, r.MaxBytesPerSec, r.FormedIn.Round(time.Millisecond), r.Window)
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return ExitOK
}
