package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// publicKeys are values anyone may know: what passwords were keyed by
// before the session secret (the cluster name, the built-in default), and
// the names tests and configs use.
var publicKeys = []string{"", "zoogate-default-session-secret", "zoogate", "standalone", "cluster-3", "test-cluster"}

// hmacPassword is the password derivation keyed by key.
func hmacPassword(key []byte, sid int64) []byte {
	m := hmac.New(sha256.New, key)
	binary.Write(m, binary.BigEndian, sid)
	return m.Sum(nil)[:proto.PasswordLen]
}

// checkNotPublic asserts that sid's password cannot be computed from a
// public value, and that a reconnect with such a password is refused the
// way ZooKeeper refuses a bad password (timeOut 0, sessionId 0, 16 zero
// bytes, then a close), while the real password is accepted.
func checkNotPublic(t *testing.T, s *Server, sid int64) {
	t.Helper()
	real := s.sessions.password(sid)
	for _, k := range publicKeys {
		forged := hmacPassword([]byte(k), sid)
		if bytes.Equal(forged, real) {
			t.Fatalf("the password of session %#x is HMAC(%q, id)", sid, k)
		}
		r := dialRaw(t, s)
		if resp := r.handshake(sid, forged, true); resp.SessionID != 0 || resp.Timeout != 0 || !bytes.Equal(resp.Passwd, make([]byte, 16)) {
			t.Fatalf("reconnect with HMAC(%q, id) accepted: %+v", k, resp)
		}
		r.expectClosed()
	}
	// The password a new session gets is the real one, and works. (A
	// session of its own: taking sid over would race with its client.)
	own := dialRaw(t, s)
	resp := own.handshake(0, nil, true)
	if !bytes.Equal(resp.Passwd, s.sessions.password(resp.SessionID)) {
		t.Fatal("a new session's password is not the server's")
	}
	again := dialRaw(t, s)
	if r := again.handshake(resp.SessionID, resp.Passwd, true); r.SessionID != resp.SessionID || !bytes.Equal(r.Passwd, resp.Passwd) {
		t.Fatalf("reconnect with the real password refused: %+v", r)
	}
	again.nc.Close()
}

// steeredDialer lets a go-zookeeper client move between servers: it dials
// the server the test points it at, whatever address the client picked,
// and can replace the password of the client's reconnects with a forged one.
type steeredDialer struct {
	mu     sync.Mutex
	target string
	forge  []byte
}

func (d *steeredDialer) point(addr string, forge []byte) {
	d.mu.Lock()
	d.target, d.forge = addr, forge
	d.mu.Unlock()
}

func (d *steeredDialer) dial(network, _ string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	target, forge := d.target, d.forge
	d.mu.Unlock()
	nc, err := net.DialTimeout(network, target, timeout)
	if err != nil || forge == nil {
		return nc, err
	}
	return &forgingConn{Conn: nc, forge: forge}, nil
}

// forgingConn rewrites the password of a reconnect's ConnectRequest (the
// client's first write): length, protocolVersion, lastZxidSeen, timeOut,
// sessionId at byte 20, then the password's length and its 16 bytes.
type forgingConn struct {
	net.Conn
	forge   []byte
	written bool
}

func (c *forgingConn) Write(b []byte) (int, error) {
	if !c.written {
		c.written = true
		if len(b) >= 48 && binary.BigEndian.Uint64(b[20:28]) != 0 {
			b = append([]byte(nil), b...)
			copy(b[32:48], c.forge)
		}
	}
	return c.Conn.Write(b)
}

// connectSteered opens a go-zookeeper session through d. The three host
// names are placeholders (d picks the server); three of them keep the
// client from pausing a second before each reconnect.
func connectSteered(t *testing.T, d *steeredDialer) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	// The longest timeout the test servers grant: restarts under the race
	// detector are slow.
	c, ev, err := zk.Connect([]string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, 10*time.Second,
		zk.WithLogInfo(false), zk.WithDialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitState(t, ev, zk.StateHasSession, zk.StateExpired)
	return c, ev
}

// waitState reads the client's events until want, failing on bad.
func waitState(t *testing.T, ev <-chan zk.Event, want, bad zk.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Type != zk.EventSession {
				continue
			}
			if e.State == want {
				return
			}
			if e.State == bad {
				t.Fatalf("client state %v while waiting for %v", e.State, want)
			}
		case <-deadline:
			t.Fatalf("client not %v after 10s", want)
		}
	}
}

// drain discards the client's pending events, so the next waitState sees
// only what follows (go-zookeeper drops events when its channel is full).
func drain(ev <-chan zk.Event) {
	for {
		select {
		case <-ev:
		default:
			return
		}
	}
}

// waitSession waits until the client is in session sid again (after its
// server went away, so a stale state cannot pass).
func waitSession(t *testing.T, c *zk.Conn, sid int64) {
	t.Helper()
	waitFor(t, "the client back in its session", 10*time.Second, func() bool {
		return c.State() == zk.StateHasSession && c.SessionID() == sid
	})
}

func waitDisconnected(t *testing.T, c *zk.Conn) {
	t.Helper()
	waitFor(t, "the client disconnected", 5*time.Second, func() bool { return c.State() != zk.StateHasSession })
}

// dropClient closes the server's end of a session's connection, so its
// client reconnects.
func dropClient(s *Server, sid int64) {
	s.forEachConn(func(c *conn) {
		if c.session.Load() == sid {
			c.close()
		}
	})
}

func treeSecret(s *Server) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.SessionSecret()
}

// TestSessionSecretStandalone: a standalone server with a data directory
// agrees with itself on a random secret through its log, keys passwords by
// it, and keeps it across a restart, so a real client resumes its session
// with its old password; a client reconnecting with a password made from
// public values is told its session expired.
func TestSessionSecretStandalone(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, func(c *Config) { c.DataDir = dir })
	d := &steeredDialer{}
	d.point(s.Addr().String(), nil)
	c, ev := connectSteered(t, d)
	sid := c.SessionID()
	secret := treeSecret(s)
	if len(secret) < txn.MinSessionSecretLen || !bytes.Equal(s.sessions.password(sid), hmacPassword(secret, sid)) {
		t.Fatalf("passwords are not keyed by the replicated secret (%d bytes)", len(secret))
	}
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	checkNotPublic(t, s, sid)

	// Restart on the same address: the client reconnects with its old
	// password and keeps its session and ephemeral.
	addr := s.Addr().String()
	s.Close()
	waitDisconnected(t, c)
	s2 := startServer(t, func(c *Config) { c.DataDir = dir; c.ClientAddr = addr })
	if !bytes.Equal(treeSecret(s2), secret) {
		t.Fatal("the secret changed across a restart")
	}
	waitSession(t, c, sid)
	if ok, _, err := c.Exists("/eph"); !ok || err != nil {
		t.Fatalf("ephemeral after restart: %v %v", ok, err)
	}

	// The real client's reconnect with a password made from the cluster
	// name: its session has expired, as far as it can tell.
	drain(ev)
	d.point(addr, hmacPassword([]byte("standalone"), sid))
	dropClient(s2, sid)
	waitState(t, ev, zk.StateExpired, zk.StateHasSession)
}

// TestSessionSecretAgreedByVoters: in a 3-voter cluster without a secret
// file, the leader proposes one; every voter applies the same; a real
// client moves between voters with its password; after every voter
// restarts (one from a snapshot, the others from their logs) the secret is
// the same and the session still resumes.
func TestSessionSecretAgreedByVoters(t *testing.T) {
	tc := newSecretCluster(t, 3)
	lead := tc.leader()
	var secret []byte
	waitFor(t, "every voter holding the same secret", 10*time.Second, func() bool {
		secret = treeSecret(tc.servers[1])
		for _, s := range tc.servers {
			if got := treeSecret(s); got == nil || !bytes.Equal(got, secret) {
				return false
			}
		}
		return true
	})

	d := &steeredDialer{}
	d.point(tc.servers[1].Addr().String(), nil)
	c, ev := connectSteered(t, d)
	sid := c.SessionID()
	if _, err := c.Create("/moving", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{2, 3} {
		drain(ev)
		d.point(tc.servers[id].Addr().String(), nil)
		dropClient(tc.servers[id-1], sid)
		waitState(t, ev, zk.StateHasSession, zk.StateExpired)
		if c.SessionID() != sid {
			t.Fatalf("on voter %d: session %#x, want %#x", id, c.SessionID(), sid)
		}
		if _, err := c.Set("/moving", []byte{byte(id)}, -1); err != nil {
			t.Fatalf("write through voter %d: %v", id, err)
		}
	}
	for _, s := range tc.servers {
		if !bytes.Equal(s.sessions.password(sid), hmacPassword(secret, sid)) {
			t.Fatal("a voter's password is not keyed by the agreed secret")
		}
	}
	checkNotPublic(t, tc.servers[2], sid)

	// Restart every voter; the leader's snapshot holds the secret, the
	// followers have it only in their logs. The client resumes its session
	// with its old password.
	if err := tc.servers[lead].Snapshot(); err != nil {
		t.Fatal(err)
	}
	for id := range tc.servers {
		tc.stop(id)
	}
	waitDisconnected(t, c)
	for _, id := range tc.voters {
		startSecretVoter(tc, id)
		if id == 1 {
			d.point(tc.servers[1].Addr().String(), nil)
		}
	}
	tc.leader()
	waitFor(t, "every restarted voter holding a secret", 10*time.Second, func() bool {
		for _, s := range tc.servers {
			if treeSecret(s) == nil {
				return false
			}
		}
		return true
	})
	for id, s := range tc.servers {
		if !bytes.Equal(treeSecret(s), secret) {
			t.Fatalf("voter %d holds another secret after the restart", id)
		}
	}
	waitSession(t, c, sid)
}

// newSecretCluster is newTestCluster without a SessionSecret, so that the
// voters agree on one through the replicated state.
func newSecretCluster(t *testing.T, n int) *testCluster {
	tc := &testCluster{t: t, net: newMemNet(), servers: map[uint64]*Server{}, dirs: map[uint64]string{}}
	for i := 1; i <= n; i++ {
		tc.voters = append(tc.voters, uint64(i))
		tc.dirs[uint64(i)] = t.TempDir()
	}
	for _, id := range tc.voters {
		startSecretVoter(tc, id)
	}
	return tc
}

func startSecretVoter(tc *testCluster, id uint64) *Server {
	s := startServer(tc.t, func(c *Config) {
		c.ServerID = id
		c.DataDir = tc.dirs[id]
		c.Tick = 50 * time.Millisecond
		c.MinSessionTimeout = 2 * time.Second
		c.MaxSessionTimeout = 10 * time.Second
		c.Cluster = &ClusterConfig{Voters: tc.voters, InitLimit: 20, SyncLimit: 10, Transport: tc.net.endpoint(id)}
	})
	tc.servers[id] = s
	return s
}

func writeSecretFile(t *testing.T, secret []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "session.secret")
	if err := os.WriteFile(path, FormatSessionSecret(secret), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

// TestSessionSecretFile: two servers reading the same file key passwords
// alike, by the file's secret; no secret transaction is proposed.
func TestSessionSecretFile(t *testing.T) {
	secret := NewSessionSecret()
	path := writeSecretFile(t, secret, 0o600)
	a := startServer(t, func(c *Config) { c.SessionSecretFile = path })
	b := startServer(t, func(c *Config) { c.SessionSecretFile = path })
	ca, _ := connect(t, a)
	sid := ca.SessionID()
	want := hmacPassword(secret, sid)
	if !bytes.Equal(a.sessions.password(sid), want) || !bytes.Equal(b.sessions.password(sid), want) {
		t.Fatal("the servers do not both key passwords by the file's secret")
	}
	if treeSecret(a) != nil || a.LastZxid() != 1 {
		t.Fatalf("a secret transaction was proposed despite the file (zxid %#x)", a.LastZxid())
	}
	checkNotPublic(t, a, sid)
}

func TestSessionSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	notHex := filepath.Join(dir, "nothex")
	os.WriteFile(notHex, []byte(strings.Repeat("zz", 32)), 0o600)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{short, "too short"},
		{notHex, "not hex"},
		{dir, "not a regular file"},
	} {
		cfg := DefaultConfig()
		cfg.ClientAddr, cfg.DataDir, cfg.SessionSecretFile = "127.0.0.1:0", "", tc.path
		_, err := New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "session_secret_file "+tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming session_secret_file, the path and %q", tc.path, err, tc.want)
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v does not match ErrInvalidConfig", tc.path, err)
		}
	}
	// A world-readable file works, with a warning.
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.ClientAddr, cfg.DataDir = "127.0.0.1:0", ""
	secret := NewSessionSecret()
	cfg.SessionSecretFile = writeSecretFile(t, secret, 0o644)
	s, err := New(cfg, hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "readable by every user") {
		t.Fatalf("no warning for a world-readable secret file:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), string(FormatSessionSecret(secret)[:16])) {
		t.Fatal("the secret is in the log")
	}
	if !bytes.Equal(s.sessions.password(7), hmacPassword(secret, 7)) {
		t.Fatal("password not keyed by the file")
	}
	s.Close()
}

// TestMemoryServerSecret: a server without a data directory keys passwords
// by a random secret of its own and logs nothing.
func TestMemoryServerSecret(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DataDir = "" })
	c, _ := connect(t, s)
	if treeSecret(s) != nil || s.LastZxid() != 1 {
		t.Fatalf("a memory-only server proposed a secret (zxid %#x)", s.LastZxid())
	}
	checkNotPublic(t, s, c.SessionID())
}

// fakeSecretSource hands out its secret only once released.
type fakeSecretSource struct {
	mu       sync.Mutex
	secret   []byte
	requests chan struct{}
}

func (f *fakeSecretSource) current() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secret
}

func (f *fakeSecretSource) request() {
	select {
	case f.requests <- struct{}{}:
	default:
	}
}

// TestHandshakeWaitsForSecret: until the replicated secret is known, a new
// session id (and a password) is not handed out; it is, once the secret is
// applied; and the wait ends when the server closes.
func TestHandshakeWaitsForSecret(t *testing.T) {
	src := &fakeSecretSource{requests: make(chan struct{}, 1)}
	closing := make(chan struct{})
	tr := newSessionTracker(1, time.Second, time.Now(), nil, src, closing)
	got := make(chan int64, 1)
	go func() { got <- tr.newID() }()
	<-src.requests // the waiter asked for a secret to be proposed...
	select {
	case id := <-got: // ...and has not returned
		t.Fatalf("session id %#x handed out before the secret was known", id)
	default:
	}
	secret := NewSessionSecret()
	src.mu.Lock()
	src.secret = secret
	src.mu.Unlock()
	id := <-got
	if !bytes.Equal(tr.password(id), hmacPassword(secret, id)) {
		t.Fatal("password not keyed by the secret once known")
	}

	tr2 := newSessionTracker(1, time.Second, time.Now(), nil, &fakeSecretSource{requests: make(chan struct{}, 1)}, closing)
	close(closing)
	if k := tr2.waitKey(); k != nil {
		t.Fatal("a key without a secret")
	}
	if pw := tr2.password(5); len(pw) != proto.PasswordLen || bytes.Equal(pw, tr2.password(5)) {
		t.Fatal("a closing server's password is predictable")
	}
}
