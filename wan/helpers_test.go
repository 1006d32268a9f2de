package wan

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoogate/zoogate/internal/testpki"
	"github.com/zoogate/zoogate/wan/emulate"
)

const testCluster = "prod"

// testSeed returns the seed for this test: WAN_SEED if set, else the
// clock; it is printed if the test fails so that a run can be replayed.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WAN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WAN_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with WAN_SEED=%d", seed)
		}
	})
	return seed
}

// ca is a test certificate authority (internal/testpki) and its
// certificate in PEM.
type ca struct {
	*testpki.CA
	certPEM []byte
}

func newCA(t testing.TB, name string) *ca {
	t.Helper()
	c := testpki.New(t, name)
	return &ca{CA: c, certPEM: c.CertPEM()}
}

// certOpts varies a node certificate away from what `zoogate tls init`
// writes.
type certOpts struct {
	uri       string // default NodeURI(cluster, id)
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage // default ServerAuth + ClientAuth
}

// issue returns PEM certificate and key for node id of cluster.
func (c *ca) issue(t testing.TB, cluster string, id uint64, o certOpts) (certPEM, keyPEM []byte) {
	t.Helper()
	if o.uri == "" {
		o.uri = NodeURI(cluster, id)
	}
	cert := c.Issue(testpki.Leaf{
		URI: o.uri, Subject: pkix.Name{CommonName: fmt.Sprintf("node-%d", id)},
		NotBefore: o.notBefore, NotAfter: o.notAfter, EKU: o.eku,
	})
	return testpki.PEM(t, cert)
}

// tlsFor returns a checked TLS for node id (NewTLS).
func (c *ca) tlsFor(t testing.TB, id uint64) *TLS {
	t.Helper()
	cert, key := c.issue(t, testCluster, id, certOpts{})
	tl, err := NewTLS(c.certPEM, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// rawTLS returns a TLS whose certificate is issued by issuer but trusting
// roots, without NewTLS's checks (for certificates peers must refuse).
func rawTLS(t testing.TB, roots, issuer *ca, cluster string, id uint64, o certOpts) *TLS {
	t.Helper()
	cert, key := issuer.issue(t, cluster, id, o)
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	tl := &TLS{roots: roots.Pool, cert: pair, cluster: testCluster, id: id}
	return tl
}

// logSink is a Logger that keeps every line for assertions and forwards
// it to t.Log until the test ends.
type logSink struct {
	t     testing.TB
	name  string
	mu    sync.Mutex
	lines []string
	ended bool
	cond  *sync.Cond
}

func newLogSink(t testing.TB, name string) *logSink {
	s := &logSink{t: t, name: name}
	s.cond = sync.NewCond(&s.mu)
	t.Cleanup(func() { s.mu.Lock(); s.ended = true; s.mu.Unlock() })
	return s
}

func (s *logSink) log(level, msg string, kv []any) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s", s.name, level, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	line := b.String()
	s.mu.Lock()
	s.lines = append(s.lines, line)
	ended := s.ended
	s.cond.Broadcast()
	s.mu.Unlock()
	if !ended && level != "TRACE" {
		s.t.Log(line)
	}
}

func (s *logSink) Trace(msg string, kv ...any) { s.log("TRACE", msg, kv) }
func (s *logSink) Debug(msg string, kv ...any) { s.log("DEBUG", msg, kv) }
func (s *logSink) Info(msg string, kv ...any)  { s.log("INFO", msg, kv) }
func (s *logSink) Warn(msg string, kv ...any)  { s.log("WARN", msg, kv) }
func (s *logSink) Error(msg string, kv ...any) { s.log("ERROR", msg, kv) }

// waitLine waits until a line contains every part, or fails the test.
func (s *logSink) waitLine(t testing.TB, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for seen := 0; ; {
		for ; seen < len(s.lines); seen++ {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(s.lines[seen], p)
			}
			if ok {
				return s.lines[seen]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line with %q within %v", s.name, parts, timeout)
		}
		s.cond.Wait()
	}
}

// node is a transport under test with its emulated PacketConn.
type node struct {
	tr  *Transport
	emu *emulate.Conn
	log *logSink
}

// nodeOpts describes a node to start.
type nodeOpts struct {
	id    uint64
	tls   *TLS // default: issued by the harness CA
	spec  string
	dial  map[uint64]string
	allow func(uint64) bool // default: allow all
	mod   func(*Config)
	udp   bool // no emulator: the transport listens on 127.0.0.1:0
}

type harness struct {
	t    testing.TB
	ca   *ca
	seed uint64
	n    uint64
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, ca: newCA(t, "zoogate test CA"), seed: testSeed(t)}
}

func testConfig(id uint64) Config {
	c := DefaultConfig()
	c.ID = id
	c.Cluster = testCluster
	c.HandshakeTimeout = 2 * time.Second
	c.KeepAlive = 200 * time.Millisecond
	c.IdleTimeout = 1500 * time.Millisecond
	c.BackoffMin = 20 * time.Millisecond
	c.BackoffMax = 200 * time.Millisecond
	c.ConnectWait = 3 * time.Second
	c.CloseLinger = 2 * time.Second
	return c
}

func (h *harness) start(o nodeOpts) *node {
	t := h.t
	t.Helper()
	spec, err := emulate.ParseSpec(o.spec)
	if err != nil {
		t.Fatal(err)
	}
	h.n++
	emu, err := emulate.Listen("127.0.0.1:0", spec, mrand.New(mrand.NewPCG(h.seed, h.n)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(o.id)
	cfg.TLS = o.tls
	if cfg.TLS == nil {
		cfg.TLS = h.ca.tlsFor(t, o.id)
	}
	cfg.PacketConn = emu
	if o.udp { // a real UDP socket that the transport opens itself
		emu.Close()
		emu, cfg.PacketConn, cfg.ListenAddr = nil, nil, "127.0.0.1:0"
	}
	cfg.Dial = o.dial
	cfg.AllowPeer = o.allow
	if cfg.AllowPeer == nil {
		cfg.AllowPeer = func(uint64) bool { return true }
	}
	cfg.SpoolDir = t.TempDir()
	cfg.Rand = mrand.New(mrand.NewPCG(h.seed, 1000+h.n))
	if o.mod != nil {
		o.mod(&cfg)
	}
	sink := newLogSink(t, fmt.Sprintf("n%d", o.id))
	tr, err := New(cfg, sink)
	if err != nil {
		if emu != nil {
			emu.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return &node{tr: tr, emu: emu, log: sink}
}

func (n *node) addr() string { return n.tr.Addr().String() }

// next returns the next event, waiting at most timeout.
func next(t testing.TB, tr *Transport, timeout time.Duration) Event {
	t.Helper()
	ev, ok := tryNext(tr, timeout)
	if !ok {
		t.Fatalf("node %d: no event within %v", tr.ID(), timeout)
	}
	return ev
}

func tryNext(tr *Transport, timeout time.Duration) (Event, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		if ev, ok := tr.Recv(); ok {
			return ev, true
		}
		select {
		case <-tr.Notify():
		case <-timer.C:
			return tr.Recv()
		}
	}
}

// expectFrame takes the next event and checks it is frame want on lane from.
func expectFrame(t testing.TB, tr *Transport, from uint64, lane Lane, want string) {
	t.Helper()
	ev := next(t, tr, 5*time.Second)
	if ev.Broken || ev.From != from || ev.Lane != lane || string(ev.Frame) != want {
		t.Fatalf("node %d: got %s, want %q on %s from %d", tr.ID(), describe(ev), want, lane, from)
	}
}

func expectBroken(t testing.TB, tr *Transport, from uint64, timeout time.Duration) {
	t.Helper()
	ev := next(t, tr, timeout)
	if !ev.Broken || ev.From != from {
		t.Fatalf("node %d: got %s, want Broken from %d", tr.ID(), describe(ev), from)
	}
}

func describe(ev Event) string {
	switch {
	case ev.Broken:
		return fmt.Sprintf("Broken(%d)", ev.From)
	case ev.Blob != nil:
		return fmt.Sprintf("blob %q (%d bytes) on %s from %d", short(ev.Frame), ev.Blob.Size(), ev.Lane, ev.From)
	}
	return fmt.Sprintf("frame %q on %s from %d", short(ev.Frame), ev.Lane, ev.From)
}

func short(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// queued returns a copy of the events waiting in tr's inbox, without
// taking them.
func queued(tr *Transport) []Event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]Event(nil), tr.in.q[tr.in.head:]...)
}

// connect makes a dialer's stream with the acceptor come up: a frame each
// way, so that both ends have a live stream.
func connect(t testing.TB, dialer, acceptor *node) {
	t.Helper()
	d, a := dialer.tr.ID(), acceptor.tr.ID()
	dialer.tr.Send(a, LaneOrdered, []byte("hello"))
	expectFrame(t, acceptor.tr, d, LaneOrdered, "hello")
	acceptor.tr.Send(d, LaneOrdered, []byte("welcome"))
	expectFrame(t, dialer.tr, a, LaneOrdered, "welcome")
}

func pemBlock(t testing.TB, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	return blk.Bytes
}

// find returns the first line logged so far that contains every part, or "".
func (s *logSink) find(parts ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return l
		}
	}
	return ""
}
