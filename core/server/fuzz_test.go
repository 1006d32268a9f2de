package server

import (
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// FuzzRequest drives the server's request parsing, prep and apply with
// arbitrary request bodies, without sockets: whatever a client sends, the
// server must answer (or refuse) without panicking, and the tree must stay
// consistent with its digest.
func FuzzRequest(f *testing.F) {
	seed := func(op proto.Op, body func(e *jute.Encoder)) {
		e := jute.NewEncoder(nil)
		body(e)
		f.Add(int32(op), e.Bytes())
	}
	seed(proto.OpCreate, createBody("/a", []byte("x"), 0))
	seed(proto.OpCreate, createBody("/a/s-", nil, proto.FlagEphemeralSequential))
	seed(proto.OpSetData, func(e *jute.Encoder) { (&proto.SetDataRequest{Path: "/a", Data: []byte("y"), Version: -1}).Encode(e) })
	seed(proto.OpMulti, func(e *jute.Encoder) {
		proto.EncodeMulti(e, []proto.MultiOp{
			{Type: proto.OpCreate, Create: &proto.CreateRequest{Path: "/m", ACL: proto.OpenACLUnsafe}},
			{Type: proto.OpCheck, Path: &proto.PathVersion{Path: "/m", Version: 0}},
		})
	})
	seed(proto.OpGetChildren2, pathWatch("/", true))
	seed(proto.OpSetWatches, func(e *jute.Encoder) { e.Long(0); e.Strings([]string{"/a"}); e.Strings(nil); e.Strings([]string{"/"}) })
	seed(proto.OpAddWatch, func(e *jute.Encoder) { e.String("/"); e.Int(1) })
	seed(proto.OpMultiRead, func(e *jute.Encoder) {
		proto.EncodeMulti(e, []proto.MultiOp{{Type: proto.OpGetData, Read: &proto.PathWatch{Path: "/a"}}})
	})
	cfg := DefaultConfig()
	cfg.DataDir = "" // memory only
	cfg.TTLNodes = true
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	c := &conn{s: s, id: 1, out: newOutQueue(1 << 30), closed: make(chan struct{})}
	ids := []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}}
	c.auth.Store(&ids)
	c.session.Store(0x0100000000000001)
	s.conns[c.id] = c
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		it := &item{hdr: proto.RequestHeader{Xid: 1, Type: proto.Op(op)}, body: body, auth: ids, received: time.Now()}
		switch {
		case it.hdr.Type.IsWrite() && it.hdr.Type != proto.OpCreateSession && it.hdr.Type != proto.OpCloseSession:
			w, err := s.newWrite(c, it)
			if err != nil {
				return
			}
			if w.req != nil {
				s.nextZxid++
				x, err := s.prep.Prepare(w.req, s.nextZxid, 1)
				w.txn, w.err, w.zxid = x, err, x.Zxid
			}
			s.apply(w)
			if len(w.reply) < 20 {
				t.Fatalf("short reply %x", w.reply)
			}
		case isRead(it.hdr.Type):
			if frame := s.handleRead(c, it); len(frame) < 20 {
				t.Fatalf("short reply %x", frame)
			}
		}
		c.out.take()
	})
}
