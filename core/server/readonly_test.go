package server

import (
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// handshakeRO connects with the readOnly flag set (and a session to
// resume when sid is not 0).
func (r *rawClient) handshakeRO(sid int64, pw []byte) (*proto.ConnectResponse, error) {
	e := jute.NewEncoder(nil)
	if pw == nil {
		pw = make([]byte, 16)
	}
	(&proto.ConnectRequest{Timeout: 4000, SessionID: sid, Passwd: pw, HasReadOnly: true, ReadOnly: true}).Encode(e)
	r.writeFrame(e.Bytes())
	b, err := r.readFrame()
	if err != nil {
		return nil, err
	}
	resp, err := proto.DecodeConnectResponse(b)
	if err == nil {
		r.sid, r.pw = resp.SessionID, resp.Passwd
	}
	return resp, err
}

// TestReadOnlyMode: a voter cut from its quorum takes read-only clients
// after the grace: reads from its last state, NotReadOnly for writes and
// sync, isro "ro", srvr "Mode: read-only"; clients without the flag are
// refused; a client reconnecting with its global session keeps it; once
// the quorum is back, read-only connections are closed and the server
// answers "rw".
func newReadOnlyCluster(t *testing.T, maxStale time.Duration) *testCluster {
	tc := &testCluster{t: t, net: newMemNet(), servers: map[uint64]*Server{}, dirs: map[uint64]string{}, readOnly: true, maxStale: maxStale}
	for i := uint64(1); i <= 3; i++ {
		tc.voters = append(tc.voters, i)
		tc.dirs[i] = t.TempDir()
	}
	for _, id := range tc.voters {
		tc.start(id)
	}
	return tc
}

func TestReadOnlyMode(t *testing.T) {
	tc := newReadOnlyCluster(t, 0)
	lead := tc.leader()
	survivor := uint64(1)
	if survivor == lead {
		survivor = 2
	}
	c := tc.connect(lead)
	if _, err := c.Create("/ro", []byte("v1"), 0, open); err != nil {
		t.Fatal(err)
	}
	tc.converged()
	s := tc.servers[survivor]
	if got := flw(s, "isro"); got != "rw" {
		t.Fatalf("isro while serving: %q", got)
	}
	// A global session made while serving, resumed read-only later.
	g := dialRaw(t, s)
	if resp, err := g.handshakeRO(0, nil); err != nil || resp.ReadOnly || resp.SessionID == 0 {
		t.Fatalf("read-write server answered a read-only-capable client %+v %v", resp, err)
	}
	gsid, gpw := g.sid, g.pw
	g.nc.Close()

	for _, id := range tc.voters {
		if id != survivor {
			tc.stop(id)
		}
	}
	waitFor(t, "the survivor in read-only mode", 20*time.Second, s.readOnly)
	if got := flw(s, "isro"); got != "ro" {
		t.Fatalf("isro in read-only mode: %q", got)
	}
	if got := flw(s, "srvr"); !strings.Contains(got, "Mode: read-only") {
		t.Fatalf("srvr in read-only mode:\n%s", got)
	}
	// Without the flag: refused, as ZooKeeper does.
	plain := dialRaw(t, s)
	e := jute.NewEncoder(nil)
	(&proto.ConnectRequest{Timeout: 4000, Passwd: make([]byte, 16), HasReadOnly: true}).Encode(e)
	plain.writeFrame(e.Bytes())
	plain.expectClosed()

	r := dialRaw(t, s)
	resp, err := r.handshakeRO(0, nil)
	if err != nil || !resp.ReadOnly || resp.SessionID == 0 || resp.Timeout == 0 {
		t.Fatalf("read-only handshake: %+v %v", resp, err)
	}
	h, d := r.call(proto.OpGetData, pathWatch("/ro", true))
	if h.Err != 0 {
		t.Fatalf("getData in read-only mode: %d", h.Err)
	}
	if data := d.Buffer("data"); string(data) != "v1" {
		t.Fatalf("read %q", data)
	}
	if h, _ := r.call(proto.OpSetData, func(e *jute.Encoder) { e.String("/ro"); e.Buffer([]byte("v2")); e.Int(-1) }); h.Err != proto.CodeNotReadOnly {
		t.Fatalf("setData in read-only mode: err %d, want NotReadOnly", h.Err)
	}
	if h, _ := r.call(proto.OpCreate, createBody("/new", nil, 0)); h.Err != proto.CodeNotReadOnly {
		t.Fatalf("create in read-only mode: err %d, want NotReadOnly", h.Err)
	}
	if h, _ := r.call(proto.OpSync, func(e *jute.Encoder) { e.String("/") }); h.Err != proto.CodeNotReadOnly {
		t.Fatalf("sync in read-only mode: err %d, want NotReadOnly", h.Err)
	}
	r.send(proto.OpPing, nil)
	if h, _, _ := r.reply(); h.Xid != proto.XidPing {
		t.Fatalf("ping: %+v", h)
	}
	// The global session resumes, read-only; a wrong password does not.
	g2 := dialRaw(t, s)
	if resp, err := g2.handshakeRO(gsid, gpw); err != nil || !resp.ReadOnly || resp.SessionID != gsid {
		t.Fatalf("resuming a global session read-only: %+v %v", resp, err)
	}
	bad := dialRaw(t, s)
	if resp, err := bad.handshakeRO(gsid, make([]byte, 16)); err != nil || resp.Timeout != 0 {
		t.Fatalf("a wrong password: %+v %v", resp, err)
	}

	// The quorum returns: read-only clients are closed; the watch set in
	// read-only mode did not fire (nothing changed) and the server is rw.
	for _, id := range tc.voters {
		if id != survivor {
			tc.start(id)
		}
	}
	tc.leader()
	r.expectClosed()
	g2.expectClosed()
	if got := flw(s, "isro"); got != "rw" {
		t.Fatalf("isro after the quorum returned: %q", got)
	}
	// The local read-only session is unknown to the quorum: expired.
	again := dialRaw(t, s)
	if resp := again.handshake(r.sid, r.pw, true); resp.Timeout != 0 {
		t.Fatalf("a read-only local session resumed on a read-write server: %+v", resp)
	}
}

// TestReadOnlyOff: with read_only = false a server without quorum takes
// nobody.
func TestReadOnlyOff(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	survivor := uint64(1)
	if survivor == lead {
		survivor = 2
	}
	for _, id := range tc.voters {
		if id != survivor {
			tc.stop(id)
		}
	}
	s := tc.servers[survivor]
	waitFor(t, "the survivor to stop serving", 20*time.Second, func() bool { return !s.serving() })
	// Past the grace the server would be read-only if it were enabled.
	deadline := time.Now().Add(s.readOnlyGrace() + 200*time.Millisecond)
	waitFor(t, "the read-only grace to pass", 10*time.Second, func() bool { return time.Now().After(deadline) })
	if s.readOnly() || flw(s, "isro") != "null" {
		t.Fatalf("read-only mode although ReadOnly is off: isro %q", flw(s, "isro"))
	}
	r := dialRaw(t, s)
	if _, err := r.handshakeRO(0, nil); err == nil {
		t.Fatal("a read-only client was answered with read-only mode off")
	}
}

// TestReadOnlyStalenessBound: past ReadOnlyMaxStaleness since its last
// contact with the committed stream, a read-only server closes its
// read-only clients, refuses new ones, answers isro "null", and mntr shows
// the staleness it enforces.
func TestReadOnlyStalenessBound(t *testing.T) {
	const bound = 5 * time.Second
	tc := newReadOnlyCluster(t, bound)
	lead := tc.leader()
	survivor := uint64(1)
	if survivor == lead {
		survivor = 2
	}
	s := tc.servers[survivor]
	for _, id := range tc.voters {
		if id != survivor {
			tc.stop(id)
		}
	}
	waitFor(t, "the survivor in read-only mode", 20*time.Second, s.readOnly)
	r := dialRaw(t, s)
	if resp, err := r.handshakeRO(0, nil); err != nil || !resp.ReadOnly {
		t.Fatalf("read-only handshake within the bound: %+v %v", resp, err)
	}
	m := flw(s, "mntr")
	if !strings.Contains(m, "zk_upstream_last_heard_ms\t") {
		t.Fatalf("mntr in read-only mode shows no staleness:\n%s", m)
	}
	r.nc.SetDeadline(time.Now().Add(bound + 5*time.Second))
	r.expectClosed() // once the bound passes
	if s.staleness(time.Now()) <= bound {
		t.Fatalf("closed at staleness %v, before the bound %v", s.staleness(time.Now()), bound)
	}
	if got := flw(s, "isro"); got != "null" {
		t.Fatalf("isro past the bound: %q", got)
	}
	again := dialRaw(t, s)
	if _, err := again.handshakeRO(0, nil); err == nil {
		t.Fatal("a read-only client was taken past the staleness bound")
	}
}
