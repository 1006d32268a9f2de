package server

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// stillServing proves the server keeps serving other clients.
func stillServing(t *testing.T, s *Server) {
	t.Helper()
	c, _ := connect(t, s)
	if _, _, err := c.Exists("/"); err != nil {
		t.Fatalf("server stopped serving others: %v", err)
	}
}

func TestBadFrameLengths(t *testing.T) {
	s := startServer(t, nil)
	for _, n := range []int32{-5, 0x100000, 0x7fffffff} {
		r := dialRaw(t, s)
		r.handshake(0, nil, true)
		var lb [4]byte
		binary.BigEndian.PutUint32(lb[:], uint32(n))
		r.nc.Write(lb[:])
		r.expectClosed()
	}
	// Before the handshake too.
	r := dialRaw(t, s)
	r.nc.Write([]byte{0xff, 0xff, 0xff, 0xf0})
	r.expectClosed()
	stillServing(t, s)
}

func TestMalformedRecords(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	// A create whose path claims more bytes than the frame has.
	h, _ := r.call(proto.OpCreate, func(e *jute.Encoder) { e.Int(1000); e.String("x") })
	if h.Err != proto.CodeMarshallingError {
		t.Fatalf("truncated create: %d", h.Err)
	}
	h, _ = r.call(proto.OpGetData, func(e *jute.Encoder) { e.Int(-7) })
	if h.Err != proto.CodeMarshallingError {
		t.Fatalf("negative string length: %d", h.Err)
	}
	h, _ = r.call(proto.OpMulti, func(e *jute.Encoder) { e.Int(77); e.Bool(false); e.Int(-1) })
	if h.Err != proto.CodeMarshallingError {
		t.Fatalf("multi with a bad op type: %d", h.Err)
	}
	// The connection survives a malformed record.
	if h, _ := r.call(proto.OpExists, pathWatch("/", false)); h.Err != 0 {
		t.Fatalf("after malformed records: %d", h.Err)
	}
	// A frame too short for a request header closes the connection.
	r.writeFrame([]byte{1, 2, 3})
	r.expectClosed()
	// Garbage instead of a ConnectRequest.
	g := dialRaw(t, s)
	g.writeFrame([]byte{1, 2, 3, 4, 5})
	g.expectClosed()
	stillServing(t, s)
}

func TestUnknownOpcodes(t *testing.T) {
	s := startServer(t, nil)
	for _, op := range []proto.Op{999, proto.OpNotification, proto.OpCheck, -77} {
		r := dialRaw(t, s)
		r.handshake(0, nil, true)
		h, _ := r.call(op, nil)
		if h.Err != proto.CodeUnimplemented {
			t.Fatalf("opcode %d: err %d, want -6", op, h.Err)
		}
		r.expectClosed()
	}
	stillServing(t, s)
}

func TestPerIPConnectionLimit(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxClientCnxns = 3 })
	var kept []net.Conn
	for i := 0; i < 3; i++ {
		r := dialRaw(t, s)
		r.handshake(0, nil, true)
		kept = append(kept, r.nc)
	}
	// The fourth connection from the same address is closed at once.
	extra := dialRaw(t, s)
	extra.expectClosed()
	kept[0].Close()
	waitFor(t, "a slot to free up", 5*time.Second, func() bool { return s.connCount() < 3 })
	r := dialRaw(t, s)
	if resp := r.handshake(0, nil, true); resp.SessionID == 0 {
		t.Fatal("no session after a slot freed up")
	}
}

func TestClientThatStopsReading(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxOutboundBytes = 256 << 10 })
	c, _ := connect(t, s)
	if _, err := c.Create("/big", make([]byte, 200<<10), 0, open); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	// Ask for the 200 KiB node many times and never read the replies.
	go func() {
		for i := int32(1); i <= 200; i++ {
			e := jute.NewEncoder([]byte{0, 0, 0, 0})
			proto.RequestHeader{Xid: i, Type: proto.OpGetData}.Encode(e)
			(&proto.PathWatch{Path: "/big"}).Encode(e)
			e.PatchInt(0, int32(e.Len()-4))
			if _, err := r.nc.Write(e.Bytes()); err != nil {
				return // the server closed us, as expected
			}
		}
	}()
	waitFor(t, "the server to drop the non-reading client", 10*time.Second, func() bool {
		return r.connIDOK(s) == false
	})
	stillServing(t, s)
}
