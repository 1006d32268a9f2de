package peer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testSeed returns the seed for this test: PEER_SEED if set, else the
// clock. It is printed if the test fails so that a run can be replayed.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PEER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PEER_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with PEER_SEED=%d", seed)
		}
	})
	return seed
}

// logSink routes hclog output to t.Log and keeps a copy for assertions.
type logSink struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b.Write(p)
	s.mu.Unlock()
	s.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *logSink) contains(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range strings.Split(s.b.String(), "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func testLogger(t testing.TB) (hclog.Logger, *logSink) {
	sink := &logSink{t: t}
	level := hclog.Info
	if os.Getenv("PEER_DEBUG") != "" {
		level = hclog.Trace
	}
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: sink, Level: level}), sink
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkNoLeaks fails the test if goroutines of this package's transports
// are still running once the deadline passes.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	markers := []string{"core/peer.(*TCP)", "core/peer.(*link)", "core/peer.(*MemNetwork)"}
	var leaked []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = leaked[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, m := range markers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running after Close:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// endpoint is a transport as the tests see it.
type endpoint interface {
	Transport
	QueuedBytes(peer uint64) int
}

// fixture runs the conformance suite against one implementation.
type fixture interface {
	// learner makes id a learner of upstream (before id starts): id dials
	// it and is not a voter; upstream accepts learners.
	learner(id, upstream uint64)
	start(id uint64) endpoint // start, or restart after stop
	stop(id uint64)
	breakStream(a, b uint64) // both ends see Broken
	closeAll()
}

type fixtureMaker struct {
	name string
	make func(t *testing.T, ids []uint64, queueBytes int) fixture
}

var fixtures = []fixtureMaker{
	{"tcp", func(t *testing.T, ids []uint64, qb int) fixture { return newTCPFixture(t, ids, qb) }},
	{"tcp-tls", func(t *testing.T, ids []uint64, qb int) fixture {
		f := newTCPFixture(t, ids, qb)
		f.pki = newTestPKI(t, "deployment")
		return f
	}},
	{"mem", func(t *testing.T, ids []uint64, qb int) fixture { return newMemFixture(t, 0, qb) }},
	{"mem-delay", func(t *testing.T, ids []uint64, qb int) fixture { return newMemFixture(t, 2*time.Millisecond, qb) }},
}

// forEachFixture runs body once per implementation, closing everything and
// checking for leaked goroutines afterwards.
func forEachFixture(t *testing.T, ids []uint64, queueBytes int, body func(t *testing.T, f fixture)) {
	for _, fm := range fixtures {
		t.Run(fm.name, func(t *testing.T) {
			f := fm.make(t, ids, queueBytes)
			t.Cleanup(func() {
				f.closeAll()
				checkNoLeaks(t)
			})
			body(t, f)
		})
	}
}

// --- Mem fixture

type memFixture struct {
	nw *MemNetwork
}

func newMemFixture(t *testing.T, delay time.Duration, queueBytes int) *memFixture {
	opts := []MemOption{WithDelay(delay)}
	if queueBytes > 0 {
		opts = append(opts, WithQueueBytes(queueBytes))
	}
	return &memFixture{nw: NewMemNetwork(opts...)}
}

func (f *memFixture) learner(id, upstream uint64) { f.nw.Learner(id, upstream) }
func (f *memFixture) start(id uint64) endpoint    { return f.nw.Transport(id) }
func (f *memFixture) stop(id uint64)              { f.nw.Transport(id).Close() }
func (f *memFixture) breakStream(a, b uint64)     { f.nw.Break(a, b) }
func (f *memFixture) closeAll()                   { f.nw.Close() }

// --- TCP fixture

type tcpFixture struct {
	t     testing.TB
	rnd   *rand.Rand
	addrs map[uint64]string
	lns   map[uint64]net.Listener // listeners made up front, used by the first start
	eps   map[uint64]*TCP
	ups   map[uint64]uint64 // learner -> its upstream
	spool string            // every server's SpoolDir
	tweak func(*TCPConfig)
	sink  *logSink
	log   hclog.Logger
	// pki, when set, has every server dial over TLS with a certificate
	// naming it, and admit only learners that come with one.
	pki   *testPKI
	admit admissions
}

func newTCPFixture(t testing.TB, ids []uint64, queueBytes int) *tcpFixture {
	log, sink := testLogger(t)
	f := &tcpFixture{
		t: t, rnd: rand.New(rand.NewPCG(testSeed(t), 7)),
		addrs: map[uint64]string{}, lns: map[uint64]net.Listener{}, eps: map[uint64]*TCP{},
		ups: map[uint64]uint64{}, spool: t.TempDir(), sink: sink, log: log,
	}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f.lns[id] = ln
		f.addrs[id] = ln.Addr().String()
	}
	if queueBytes > 0 {
		f.tweak = func(c *TCPConfig) {
			c.MaxQueueBytes = queueBytes
			c.MaxInboxBytes = queueBytes
		}
	}
	return f
}

func testTCPConfig(id uint64, addrs map[uint64]string, seed uint64) TCPConfig {
	cfg := DefaultTCPConfig(id)
	cfg.Peers = addrs
	cfg.Cluster = "test"
	cfg.DialTimeout = time.Second
	cfg.HandshakeTimeout = 2 * time.Second
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.ConnectWait = 2 * time.Second
	cfg.CloseLinger = 2 * time.Second
	cfg.ReplaceGrace = 500 * time.Millisecond
	cfg.Rand = rand.New(rand.NewPCG(seed, id))
	return cfg
}

func (f *tcpFixture) start(id uint64) endpoint {
	f.t.Helper()
	cfg := testTCPConfig(id, f.addrs, f.rnd.Uint64())
	cfg.SpoolDir = f.spool
	if len(f.ups) > 0 { // voters know voters only; learners know their upstream
		cfg.Peers = map[uint64]string{}
		for k, addr := range f.addrs {
			if _, isLearner := f.ups[k]; !isLearner {
				cfg.Peers[k] = addr
			}
		}
		if up, isLearner := f.ups[id]; isLearner {
			cfg.Peers = nil
			cfg.Upstreams = map[uint64]string{up: f.addrs[up]}
		}
		for _, up := range f.ups {
			cfg.AcceptLearners = cfg.AcceptLearners || up == id
		}
	}
	if f.pki != nil {
		cfg.TLS = f.pki.tlsConfig(f.pki.node(id), true)
		cfg.AdmitLearner = f.admit.requireVerified
	}
	if ln := f.lns[id]; ln != nil {
		cfg.Listener = ln
		delete(f.lns, id)
	} else {
		cfg.Listener = relisten(f.t, f.addrs[id])
	}
	if f.tweak != nil {
		f.tweak(&cfg)
	}
	tr, err := NewTCP(cfg, f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	f.eps[id] = tr
	return tr
}

// relisten listens again on addr after a restart (the port may linger
// briefly in use).
func relisten(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	waitFor(t, 5*time.Second, "listening again on "+addr, func() bool {
		ln, err = net.Listen("tcp", addr)

		return err == nil
	})
	return ln
}

func (f *tcpFixture) learner(id, upstream uint64) { f.ups[id] = upstream }

func (f *tcpFixture) stop(id uint64) {
	if tr := f.eps[id]; tr != nil {
		tr.Close()
		delete(f.eps, id)
	}
}

// breakStream closes a's connection with b, as a network failure would.
func (f *tcpFixture) breakStream(a, b uint64) {
	f.t.Helper()
	tr := f.eps[a]
	waitFor(f.t, 5*time.Second, fmt.Sprintf("a connection %d-%d", a, b), func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if h := tr.peers[b].head(); h != nil && h.conn != nil {
			h.conn.Close()
			return true
		}
		return false
	})
}

func (f *tcpFixture) closeAll() {
	for id := range f.eps {
		f.stop(id)
	}
	for _, ln := range f.lns {
		ln.Close()
	}
}
