package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/watch"
)

// testLogger routes server logs to t.Log until the test's cleanups have
// run. A connection goroutine may still log as the test ends; t.Log after
// that is a data race in package testing, so later lines are dropped. The
// cleanup is registered before the test starts its servers, so it runs
// after they are closed (cleanups run last-in first-out).
func testLogger(t testing.TB) hclog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: w})
}

type tWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// startServer runs a server on a free loopback port with a short tick.
func startServer(t testing.TB, mod func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	// A long enough tick (sessions up to 10s) that a loaded CI machine does
	// not time clients out; tests of expiry set their own.
	cfg.Tick = 500 * time.Millisecond
	cfg.FourLetterWords = []string{"*"}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect opens a go-zookeeper session and waits until it has one.
func connect(t testing.TB, s *Server) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	return connectTo(t, s.Addr().String(), nil)
}

// connectTo is connect to any address, through dial when not nil.
func connectTo(t testing.TB, addr string, dial zk.Dialer) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	if dial == nil {
		dial = net.DialTimeout // go-zookeeper's own default
	}
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(5 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session after 5s (state %v)", c.State())
		}
	}
	return c, ev
}

// rawClient speaks the wire protocol directly, for byte-level checks.
type rawClient struct {
	t   testing.TB
	nc  net.Conn
	br  *bufio.Reader
	xid int32
	sid int64
	pw  []byte
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawClient) writeFrame(b []byte) {
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(len(b)))
	if _, err := r.nc.Write(append(lb[:], b...)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// readFrame returns the next frame, or an error (EOF when closed).
func (r *rawClient) readFrame() ([]byte, error) {
	return readFrame(r.br, 16<<20, nil)
}

// handshake opens a new session (or resumes sid with pw).
func (r *rawClient) handshake(sid int64, pw []byte, readOnly bool) *proto.ConnectResponse {
	r.t.Helper()
	e := jute.NewEncoder(nil)
	if pw == nil {
		pw = make([]byte, 16)
	}
	(&proto.ConnectRequest{Timeout: 4000, SessionID: sid, Passwd: pw, HasReadOnly: readOnly}).Encode(e)
	r.writeFrame(e.Bytes())
	b, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("connect response: %v", err)
	}
	resp, err := proto.DecodeConnectResponse(b)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sid, r.pw = resp.SessionID, resp.Passwd
	return resp
}

// send writes a request with the next xid and returns the xid.
func (r *rawClient) send(op proto.Op, body func(e *jute.Encoder)) int32 {
	r.xid++
	e := jute.NewEncoder(nil)
	proto.RequestHeader{Xid: r.xid, Type: op}.Encode(e)
	if body != nil {
		body(e)
	}
	r.writeFrame(e.Bytes())
	return r.xid
}

// reply reads frames until a non-notification reply and returns its header
// and body decoder; notifications seen on the way are returned too.
func (r *rawClient) reply() (proto.ReplyHeader, *jute.Decoder, []proto.WatcherEvent) {
	r.t.Helper()
	var events []proto.WatcherEvent
	for {
		b, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("read reply: %v", err)
		}
		d := jute.NewDecoder(b, 0)
		h := proto.DecodeReplyHeader(d)
		if h.Xid == proto.XidNotification {
			events = append(events, proto.WatcherEvent{Type: d.Int("type"), State: d.Int("state"), Path: d.String("path")})
			continue
		}
		return h, d, events
	}
}

// call sends a request and returns its reply.
func (r *rawClient) call(op proto.Op, body func(e *jute.Encoder)) (proto.ReplyHeader, *jute.Decoder) {
	r.t.Helper()
	xid := r.send(op, body)
	h, d, _ := r.reply()
	if h.Xid != xid {
		r.t.Fatalf("reply xid %d, want %d", h.Xid, xid)
	}
	return h, d
}

// expectClosed waits for the server to close the connection.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := r.readFrame(); err != nil {
			if err == io.EOF || isReset(err) {
				return
			}
			r.t.Fatalf("expected the server to close the connection, got %v", err)
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errorsAs(err, &ne) && !ne.Timeout()
}

func createBody(path string, data []byte, flags int32) func(e *jute.Encoder) {
	return func(e *jute.Encoder) {
		(&proto.CreateRequest{Path: path, Data: data, ACL: proto.OpenACLUnsafe, Flags: flags}).Encode(e, false)
	}
}

func pathWatch(path string, watch bool) func(e *jute.Encoder) {
	return func(e *jute.Encoder) { (&proto.PathWatch{Path: path, Watch: watch}).Encode(e) }
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// connID finds the server-side id of the raw client's connection.
func (r *rawClient) connID(s *Server) watchID {
	var id watchID
	s.forEachConn(func(c *conn) {
		if c.session.Load() == r.sid {
			id = c.id
		}
	})
	return id
}

type watchID = watch.ID

// connIDOK reports whether the server still has the raw client's connection.
func (r *rawClient) connIDOK(s *Server) bool {
	found := false
	s.forEachConn(func(c *conn) {
		if c.session.Load() == r.sid {
			found = true
		}
	})
	return found
}

func stringsContains(s, sub string) bool { return strings.Contains(s, sub) }
