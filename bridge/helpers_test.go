package bridge

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/wan"
	"github.com/zoogate/zoogate/wan/emulate"
)

// An in-process deployment across two sites: three voters on the primary
// site's LAN (a peer.MemNetwork), each with a wan.Transport listening on
// an emulated WAN PacketConn and accepting the relay; a remote site with a
// relay whose bridge dials the three voters over QUIC and serves, over
// its own site's LAN (another MemNetwork), an observer. The servers are
// core/server servers with real disks in t.TempDir().

const (
	testCluster = "bridge-test"
	relayID     = 8
	obsID       = 9
)

var voterIDs = []uint64{1, 2, 3}

// ---- certificates (as `zoogate tls init` issues them) ----

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	serial  int64
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bridge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

// tlsFor issues node id's certificate (URI SAN zoogate://<cluster>/node/<id>,
// server and client auth) and returns it checked by wan.NewTLS.
func (c *testCA) tlsFor(t testing.TB, id uint64) *wan.TLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(wan.NodeURI(testCluster, id))
	if err != nil {
		t.Fatal(err)
	}
	c.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("node-%d", id)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := wan.NewTLS(c.certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// ---- logs ----

// logSink keeps every log line of the deployment (hclog writes one line
// per Write) for assertions, and prints the tail if the test failed.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func newLogSink(t *testing.T) *logSink {
	s := &logSink{}
	t.Cleanup(func() { // registered first: runs after every server is closed
		if !t.Failed() {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		from := max(0, len(s.lines)-600)
		t.Logf("last %d of %d log lines:\n%s", len(s.lines)-from, len(s.lines), strings.Join(s.lines[from:], ""))
	})
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.lines = append(s.lines, string(p))
	s.mu.Unlock()
	return len(p), nil
}

// mark returns a position; has looks only at lines logged after it.
func (s *logSink) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// has reports whether a line after mark contains every part.
func (s *logSink) has(mark int, parts ...string) bool { return s.find(mark, parts...) != "" }

// find returns the first line after mark that contains every part, or "".
func (s *logSink) find(mark int, parts ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines[mark:] {
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

func (s *logSink) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug, Output: s, DisableTime: true})
}

// ---- the deployment ----

type deployment struct {
	t        *testing.T
	ca       *testCA
	seed     uint64
	spec     emulate.Spec
	primary  *peer.MemNetwork
	remote   *peer.MemNetwork
	logs     *logSink
	servers  map[uint64]*server.Server
	dirs     map[uint64]string
	emus     map[uint64]*emulate.Conn
	wanAddrs map[uint64]string
	bridges  map[uint64]*Transport

	snapCount int // voters' SnapCount (0: the default)
	began     time.Time
	// readOnly and maxStale: read-only mode for the servers started
	// after they are set (ClusterConfig.ReadOnly, ReadOnlyMaxStaleness).
	readOnly bool
	maxStale time.Duration
	// hold: the voters' RemoteSessionHold (0: expire as ZooKeeper does).
	hold time.Duration
	// localSessions: the relay's and the observer's LocalSessions.
	localSessions bool
}

// siteOf is the deployment's topology as the servers see it: the voters
// in "primary", the relay and the observer in "remote".
func siteOf() map[uint64]string {
	m := map[uint64]string{relayID: "remote", obsID: "remote"}
	for _, id := range voterIDs {
		m[id] = "primary"
	}
	return m
}

// step logs how long the test has run, to see where the time goes.
func (d *deployment) step(what string) {
	d.t.Helper()
	d.t.Logf("%6.2fs %s", time.Since(d.began).Seconds(), what)
}

// wanLimits are the limits of a WAN link, in ticks of 50 ms: 3 s to sync,
// 1.5 s of silence.
var wanLimits = zab.Limits{InitLimit: 60, SyncLimit: 30}

func newDeployment(t *testing.T, spec string) *deployment {
	t.Helper()
	sp, err := emulate.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BRIDGE_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("BRIDGE_SEED=%q: %v", s, err)
		}
	}
	d := &deployment{
		t: t, ca: newTestCA(t), seed: seed, spec: sp,
		logs:    newLogSink(t),
		began:   time.Now(),
		servers: map[uint64]*server.Server{}, dirs: map[uint64]string{},
		emus: map[uint64]*emulate.Conn{}, wanAddrs: map[uint64]string{}, bridges: map[uint64]*Transport{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator seed: BRIDGE_SEED=%d", seed)
		}
	})
	d.primary, d.remote = peer.NewMemNetwork(), peer.NewMemNetwork()
	t.Cleanup(d.primary.Close)
	t.Cleanup(d.remote.Close)
	for _, id := range append(slices.Clone(voterIDs), relayID, obsID) {
		d.dirs[id] = t.TempDir()
	}
	return d
}

// wanTransport starts node id's wan.Transport on an emulated PacketConn.
func (d *deployment) wanTransport(id uint64, dial map[uint64]string, allow func(uint64) bool) *wan.Transport {
	t := d.t
	t.Helper()
	emu, err := emulate.Listen("127.0.0.1:0", d.spec, mrand.New(mrand.NewPCG(d.seed, id)))
	if err != nil {
		t.Fatal(err)
	}
	c := wan.DefaultConfig()
	c.ID = id
	c.Cluster = testCluster
	c.TLS = d.ca.tlsFor(t, id)
	c.PacketConn = emu
	c.Dial = dial
	c.AllowPeer = allow
	c.HandshakeTimeout = 2 * time.Second
	// ZAB's limits (wanLimits) detect a silent link in ticks, which a
	// starved test process does not lose; quic-go's idle timeout counts
	// wall-clock time, so it is kept above the longest stall a loaded CI
	// machine inflicts on the process.
	c.KeepAlive = time.Second
	c.IdleTimeout = 5 * time.Second
	c.BackoffMin = 20 * time.Millisecond
	c.BackoffMax = 250 * time.Millisecond
	c.ConnectWait = 2 * time.Second
	c.CloseLinger = time.Second
	c.SpoolDir = filepath.Join(d.dirs[id], "wan-spool")
	c.Rand = mrand.New(mrand.NewPCG(d.seed, 1000+id))
	w, err := wan.New(c, d.logs.logger(fmt.Sprintf("s%d.wan", id)))
	if err != nil {
		emu.Close()
		t.Fatal(err)
	}
	d.emus[id] = emu
	return w
}

// bridge combines lan and a new wan transport of node id.
func (d *deployment) bridge(id uint64, cfg Config, lan peer.Transport, dial map[uint64]string, allow func(uint64) bool) *Transport {
	t := d.t
	t.Helper()
	w := d.wanTransport(id, dial, allow)
	br, err := New(cfg, lan, w, d.logs.logger(fmt.Sprintf("s%d", id)))
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() }) // idempotent; the server closes it first
	d.bridges[id] = br
	return br
}

func (d *deployment) startServer(id uint64, cc *server.ClusterConfig, mod func(*server.Config)) *server.Server {
	t := d.t
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.ServerID = id
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = d.dirs[id]
	cfg.Tick = 50 * time.Millisecond
	cfg.MinSessionTimeout = 2 * time.Second
	cfg.MaxSessionTimeout = 10 * time.Second
	cfg.SessionSecret = "bridge-test-secret"
	cfg.FourLetterWords = []string{"*"}
	cc.Name = testCluster
	cc.Voters = voterIDs
	cc.ReadOnly, cc.ReadOnlyMaxStaleness = d.readOnly, d.maxStale
	if cc.InitLimit == 0 {
		cc.InitLimit, cc.SyncLimit = 20, 10
	}
	cfg.Cluster = cc
	if mod != nil {
		mod(&cfg)
	}
	s, err := server.New(cfg, d.logs.logger(fmt.Sprintf("s%d", id)))
	if err != nil {
		cc.Transport.Close()
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d.servers[id] = s
	return s
}

// startVoters starts the primary site: each voter on the primary LAN, and
// on the WAN accepting the relay only.
func (d *deployment) startVoters() {
	for _, id := range voterIDs {
		br := d.bridge(id, Config{}, d.primary.Transport(id), nil, func(p uint64) bool { return p == relayID })
		d.wanAddrs[id] = br.WAN().Addr().String()
		d.startServer(id, &server.ClusterConfig{
			Site: "primary", SiteOf: siteOf(),
			AcceptLearners:    true,
			PeerLimits:        map[uint64]zab.Limits{relayID: wanLimits},
			Transport:         br,
			RemoteSessionHold: d.hold,
		}, func(c *server.Config) {
			if d.snapCount > 0 {
				c.SnapCount = d.snapCount
			}
		})
	}
}

// startRelay starts the remote site's relay: it dials the three voters
// over the WAN, and serves observers over the remote LAN.
func (d *deployment) startRelay() {
	dial := map[uint64]string{}
	wanPeers := map[uint64]bool{}
	limits := map[uint64]zab.Limits{}
	for _, id := range voterIDs {
		dial[id] = d.wanAddrs[id]
		wanPeers[id] = true
		limits[id] = wanLimits
	}
	br := d.bridge(relayID, Config{WANPeers: wanPeers}, d.remote.Transport(relayID), dial, nil)
	d.startServer(relayID, &server.ClusterConfig{
		Observer: true, ServeLearners: true, AcceptLearners: true,
		PeerLimits:    limits,
		Transport:     br,
		LocalSessions: d.localSessions,
	}, nil)
}

// startObserver starts the remote site's observer, following the relay
// over the remote LAN.
func (d *deployment) startObserver() {
	d.startServer(obsID, &server.ClusterConfig{
		Observer: true, Upstream: relayID,
		Transport:     d.remote.Learner(obsID, relayID),
		LocalSessions: d.localSessions,
	}, nil)
}

func (d *deployment) stop(id uint64) {
	d.servers[id].Close()
	delete(d.servers, id)
}

// leader waits for exactly one leader and every live voter serving.
func (d *deployment) leader(within time.Duration) uint64 {
	d.t.Helper()
	var lead uint64
	waitFor(d.t, "a leader with every live voter serving", within, func() bool {
		lead = 0
		for _, id := range voterIDs {
			s := d.servers[id]
			if s == nil {
				continue
			}
			if !s.Serving() {
				return false
			}
			if s.Mode() == "leader" {
				if lead != 0 {
					return false
				}
				lead = id
			}
		}
		return lead != 0
	})
	return lead
}

// serving waits until server id serves clients.
func (d *deployment) serving(id uint64, within time.Duration) {
	d.t.Helper()
	waitFor(d.t, fmt.Sprintf("server %d to serve", id), within, func() bool { return d.servers[id].Serving() })
}

// upAll starts the whole deployment and waits until the observer serves.
func (d *deployment) upAll() uint64 {
	d.startVoters()
	lead := d.leader(10 * time.Second)
	d.startRelay()
	d.startObserver()
	d.serving(relayID, 10*time.Second)
	d.serving(obsID, 10*time.Second)
	return lead
}

// ---- clients ----

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session on server id and waits for it.
func (d *deployment) connect(id uint64) *zk.Conn {
	d.t.Helper()
	c, _ := d.connectWatched(id)
	return c
}

// stateLog records the session states a client went through.
type stateLog struct {
	mu     sync.Mutex
	states []zk.State
}

func (l *stateLog) add(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, ev.State)
}

// saw reports whether the client went through state s.
func (l *stateLog) saw(s zk.State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.states, s)
}

// connectWatched is connect that also records the session's states.
func (d *deployment) connectWatched(id uint64) (*zk.Conn, *stateLog) {
	t := d.t
	t.Helper()
	log := &stateLog{}
	c, ev, err := zk.Connect([]string{d.servers[id].Addr().String()}, 4*time.Second,
		zk.WithLogInfo(false), zk.WithLogger(quietLogger{}), zk.WithEventCallback(log.add))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(8 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session on server %d (state %v)", id, c.State())
		}
	}
	return c, log
}

// syncRead syncs c and reads path, retrying while the client reconnects
// (its server may have left its upstream for a moment), until the data is
// want or the deadline passes.
func syncRead(t *testing.T, c *zk.Conn, path, want string, within time.Duration) {
	t.Helper()
	var last string
	waitFor(t, fmt.Sprintf("%s = %q after sync()", path, want), within, func() bool {
		if _, err := c.Sync(path); err != nil {
			last = "sync: " + err.Error()
			return false
		}
		data, _, err := c.Get(path)
		if err != nil {
			last = "get: " + err.Error()
			return false
		}
		last = fmt.Sprintf("read %q", data)
		return string(data) == want
	}, func() string { return last })
}

// create retries a create while the client reconnects; a create whose
// first answer was lost may find its node already there.
func create(t *testing.T, c *zk.Conn, path, data string, within time.Duration) {
	t.Helper()
	var last error
	waitFor(t, "create "+path, within, func() bool {
		_, last = c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
		return last == nil || last == zk.ErrNodeExists
	}, func() string { return fmt.Sprint(last) })
}

// ---- four-letter words ----

// mntr runs the mntr four-letter word over TCP on s's client port.
func mntr(t *testing.T, s *server.Server) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := nc.Write([]byte("mntr")); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(bufio.NewReader(nc))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mntrValue returns the value of key (e.g. "zk_upstream") in mntr's output.
func mntrValue(out, key string) (string, bool) {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// waitFor polls cond until it holds or within passes; why, if given,
// explains the last failure.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool, why ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if len(why) > 0 {
				msg = ": " + why[0]()
			}
			t.Fatalf("timed out after %v waiting for %s%s", within, what, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type zkConn = *zk.Conn

var zkACL = zk.WorldACL(zk.PermAll)

// dumpTree lists "path=data" for every node under root, sorted.
func dumpTree(t *testing.T, c zkConn, root string) []string {
	t.Helper()
	data, _, err := c.Get(root)
	if err != nil {
		t.Fatalf("get %s: %v", root, err)
	}
	out := []string{root + "=" + string(data)}
	kids, _, err := c.Children(root)
	if err != nil {
		t.Fatalf("children of %s: %v", root, err)
	}
	slices.Sort(kids)
	for _, k := range kids {
		p := root + "/" + k
		if root == "/" {
			p = "/" + k
		}
		out = append(out, dumpTree(t, c, p)...)
	}
	return out
}

// cutWrite creates /cutNNN (data: its path) through c, a client of the
// primary while the remote site is cut, and returns the path.
func cutWrite(t *testing.T, c *zk.Conn, n int) string {
	t.Helper()
	p := fmt.Sprintf("/cut%03d", n)
	if _, err := c.Create(p, []byte(p), 0, zkACL); err != nil {
		t.Fatalf("write in the primary during the cut: %v", err)
	}
	return p
}
