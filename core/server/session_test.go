package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

func TestHandshakeSizes(t *testing.T) {
	s := startServer(t, nil)
	for _, ro := range []bool{false, true} {
		r := dialRaw(t, s)
		e := jute.NewEncoder(nil)
		(&proto.ConnectRequest{Timeout: 3000, Passwd: make([]byte, 16), HasReadOnly: ro}).Encode(e)
		want := 44
		if ro {
			want = 45
		}
		if len(e.Bytes()) != want {
			t.Fatalf("request size %d, want %d", len(e.Bytes()), want)
		}
		r.writeFrame(e.Bytes())
		b, err := r.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		// The readOnly byte is echoed only when the request had it.
		if wantResp := want - 8; len(b) != wantResp {
			t.Fatalf("readOnly=%v: response %d bytes, want %d", ro, len(b), wantResp)
		}
		resp, _ := proto.DecodeConnectResponse(b)
		if _, hi := s.cfg.SessionTimeouts(); resp.Timeout != int32(min(hi, 3*time.Second).Milliseconds()) {
			t.Fatalf("timeout %d", resp.Timeout)
		}
		if resp.SessionID == 0 || len(resp.Passwd) != 16 {
			t.Fatalf("session %x passwd %d bytes", resp.SessionID, len(resp.Passwd))
		}
	}
}

func TestTimeoutNegotiation(t *testing.T) {
	s := startServer(t, fastTick) // [200ms, 2s]
	for _, tc := range []struct{ ask, want int32 }{{10, 200}, {1000, 1000}, {60000, 2000}} {
		r := dialRaw(t, s)
		e := jute.NewEncoder(nil)
		(&proto.ConnectRequest{Timeout: tc.ask, Passwd: make([]byte, 16)}).Encode(e)
		r.writeFrame(e.Bytes())
		b, err := r.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := proto.DecodeConnectResponse(b)
		if resp.Timeout != tc.want {
			t.Errorf("asked %d ms: got %d, want %d", tc.ask, resp.Timeout, tc.want)
		}
	}
}

func TestReconnectAndBadPassword(t *testing.T) {
	s := startServer(t, nil)
	a := dialRaw(t, s)
	resp := a.handshake(0, nil, true)
	if h, _ := a.call(proto.OpCreate, createBody("/eph", nil, proto.FlagEphemeral)); h.Err != 0 {
		t.Fatalf("create: %d", h.Err)
	}
	// Same session from a new connection: the old one is closed, ephemerals stay.
	b := dialRaw(t, s)
	resp2 := b.handshake(resp.SessionID, resp.Passwd, true)
	if resp2.SessionID != resp.SessionID || !bytes.Equal(resp2.Passwd, resp.Passwd) {
		t.Fatalf("resume: %+v", resp2)
	}
	a.expectClosed()
	if h, _ := b.call(proto.OpExists, pathWatch("/eph", false)); h.Err != 0 {
		t.Fatalf("ephemeral gone after reconnect: %d", h.Err)
	}
	// A wrong password gets timeOut=0, sessionId=0, 16 zero bytes, then a close.
	c := dialRaw(t, s)
	bad := append([]byte(nil), resp.Passwd...)
	bad[0] ^= 0xff
	resp3 := c.handshake(resp.SessionID, bad, true)
	if resp3.Timeout != 0 || resp3.SessionID != 0 || !bytes.Equal(resp3.Passwd, make([]byte, 16)) {
		t.Fatalf("bad password response: %+v", resp3)
	}
	c.expectClosed()
}

func TestEphemeralsGoWithSession(t *testing.T) {
	s := startServer(t, nil)
	owner, _ := connect(t, s)
	other, _ := connect(t, s)
	if _, err := owner.Create("/e", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create("/e/child", nil, 0, open); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of ephemeral: %v", err)
	}
	_, st, _ := other.Get("/e")
	if st.EphemeralOwner != owner.SessionID() {
		t.Fatalf("ephemeralOwner %x, want %x", st.EphemeralOwner, owner.SessionID())
	}
	_, _, ch, err := other.ExistsW("/e")
	if err != nil {
		t.Fatal(err)
	}
	owner.Close() // closeSession
	if ev := recvEvent(t, ch); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("event %+v", ev)
	}
	if ok, _, _ := other.Exists("/e"); ok {
		t.Fatal("ephemeral survived closeSession")
	}
}

func TestSessionExpiry(t *testing.T) {
	s := startServer(t, fastTick)
	r := dialRaw(t, s)
	resp := r.handshake(0, nil, true) // asks 4000ms, negotiated 2000ms max
	if h, _ := r.call(proto.OpCreate, createBody("/exp", nil, proto.FlagEphemeral)); h.Err != 0 {
		t.Fatal(h.Err)
	}
	// Stop sending anything: the session expires, the connection is closed
	// and the ephemeral is removed everywhere.
	r.expectClosed()
	waitFor(t, "ephemeral removal", 10*time.Second, func() bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return !s.tree.Exists("/exp")
	})
	// Reconnecting to the expired session is refused the ZooKeeper way.
	r2 := dialRaw(t, s)
	if resp2 := r2.handshake(resp.SessionID, resp.Passwd, true); resp2.Timeout != 0 || resp2.SessionID != 0 {
		t.Fatalf("expired session accepted: %+v", resp2)
	}
	r2.expectClosed()
}

func TestPingsKeepSessionAlive(t *testing.T) {
	s := startServer(t, fastTick)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	deadline := time.Now().Add(3 * time.Second) // longer than the 2s max timeout
	for time.Now().Before(deadline) {
		xid := r.send(proto.OpPing, nil)
		_ = xid
		h, _, _ := r.reply()
		if h.Xid != proto.XidPing {
			t.Fatalf("ping reply xid %d", h.Xid)
		}
		time.Sleep(200 * time.Millisecond) // the client's ping interval, not a wait for a condition
	}
	if h, _ := r.call(proto.OpExists, pathWatch("/", false)); h.Err != 0 {
		t.Fatalf("session died despite pings: %d", h.Err)
	}
}

func TestClientAheadIsRefused(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	e := jute.NewEncoder(nil)
	(&proto.ConnectRequest{LastZxidSeen: s.LastZxid() + 100, Timeout: 3000, Passwd: make([]byte, 16), HasReadOnly: true}).Encode(e)
	r.writeFrame(e.Bytes())
	r.expectClosed()
}

func TestRequestsAnsweredInOrder(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	// Pipeline writes and reads without waiting: replies come back in order and
	// each read sees the writes sent before it.
	var xids []int32
	for i := 0; i < 50; i++ {
		p := "/o" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		xids = append(xids, r.send(proto.OpCreate, createBody(p, nil, 0)))
		xids = append(xids, r.send(proto.OpExists, pathWatch(p, false)))
	}
	for i, want := range xids {
		h, _, _ := r.reply()
		if h.Xid != want || h.Err != 0 {
			t.Fatalf("reply %d: %+v, want xid %d err 0", i, h, want)
		}
	}
}

// fastTick makes sessions short (tick 100ms: timeouts 200ms..2s).
func fastTick(c *Config) { c.Tick = 100 * time.Millisecond }
