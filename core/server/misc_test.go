package server

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

func TestSmallOps(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	for _, p := range []string{"/s", "/s/a", "/s/a/b", "/s/c"} {
		r.call(proto.OpCreate, createBody(p, nil, 0))
	}
	r.call(proto.OpCreate, createBody("/s/e1", nil, proto.FlagEphemeral))
	r.call(proto.OpCreate, createBody("/s/a/e2", nil, proto.FlagEphemeral))
	h, d := r.call(proto.OpGetAllChildrenNumber, func(e *jute.Encoder) { e.String("/s") })
	if n := d.Int("n"); h.Err != 0 || n != 5 {
		t.Fatalf("getAllChildrenNumber(/s) = %d (err %d), want 5", n, h.Err)
	}
	// For "/" every node but the root counts, the built-in ones included.
	_, d = r.call(proto.OpGetAllChildrenNumber, func(e *jute.Encoder) { e.String("/") })
	if n := d.Int("n"); n != 9 {
		t.Fatalf("getAllChildrenNumber(/) = %d, want 9", n)
	}
	h, d = r.call(proto.OpGetEphemerals, func(e *jute.Encoder) { e.String("/s/a") })
	if got := d.Strings("eph"); h.Err != 0 || len(got) != 1 || got[0] != "/s/a/e2" {
		t.Fatalf("getEphemerals(/s/a) = %v", got)
	}
	_, d = r.call(proto.OpGetEphemerals, func(e *jute.Encoder) { e.String("/") })
	if got := d.Strings("eph"); len(got) != 2 {
		t.Fatalf("getEphemerals(/) = %v", got)
	}
	h, d = r.call(proto.OpSync, func(e *jute.Encoder) { e.String("/s") })
	if h.Err != 0 || d.String("path") != "/s" {
		t.Fatalf("sync: %+v", h)
	}
	h, _ = r.call(proto.OpReconfig, func(e *jute.Encoder) { e.String(""); e.String(""); e.String(""); e.Long(-1) })
	if h.Err != proto.CodeReconfigDisabled {
		t.Fatalf("reconfig: %d, want -123", h.Err)
	}
	h, d = r.call(proto.OpMultiRead, func(e *jute.Encoder) {
		proto.EncodeMulti(e, []proto.MultiOp{
			{Type: proto.OpGetData, Read: &proto.PathWatch{Path: "/s/a"}},
			{Type: proto.OpGetChildren, Read: &proto.PathWatch{Path: "/s"}},
			{Type: proto.OpGetData, Read: &proto.PathWatch{Path: "/nope"}},
		})
	})
	if h.Err != 0 {
		t.Fatalf("multiRead: %d", h.Err)
	}
	// getData result, getChildren result, error result.
	if typ := d.Int("t"); typ != int32(proto.OpGetData) {
		t.Fatalf("first result type %d", typ)
	}
	d.Bool("done")
	d.Int("err")
	d.Buffer("data")
	proto.DecodeStat(d)
	if typ := d.Int("t"); typ != int32(proto.OpGetChildren) {
		t.Fatalf("second result type %d", typ)
	}
	d.Bool("done")
	d.Int("err")
	kids := d.Strings("children")
	sort.Strings(kids)
	if len(kids) != 3 {
		t.Fatalf("children %v", kids)
	}
	if typ, _, code := d.Int("t"), d.Bool("done"), d.Int("err"); typ != -1 || code != int32(proto.CodeNoNode) {
		t.Fatalf("third result %d/%d", typ, code)
	}
	// sasl without a SASL provider: AuthFailed and a close.
	h, _ = r.call(proto.OpSASL, func(e *jute.Encoder) { e.Buffer([]byte("tok")) })
	if h.Err != proto.CodeAuthFailed {
		t.Fatalf("sasl: %d", h.Err)
	}
	r.expectClosed()
}

func TestContainersAndTTL(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.TTLNodes = true
		c.ContainerCheckInterval = 50 * time.Millisecond
	})
	c, _ := connect(t, s)
	if _, err := c.CreateContainer("/ctr", nil, zk.FlagContainer, open); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/ctr/kid", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	_, st, _ := c.Get("/ctr")
	if st.EphemeralOwner != 0 {
		t.Fatalf("container shows owner %x", st.EphemeralOwner)
	}
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, open, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTTL("/ttlbad", nil, zk.FlagTTL, open, 0); err == nil {
		t.Fatal("ttl 0 accepted")
	}
	// A container that never had a child stays; one emptied is reaped.
	if _, err := c.CreateContainer("/never", nil, zk.FlagContainer, open); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/ctr/kid", -1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reaping of the emptied container and the expired TTL node", 10*time.Second, func() bool {
		ok1, _, _ := c.Exists("/ctr")
		ok2, _, _ := c.Exists("/ttl")
		return !ok1 && !ok2
	})
	if ok, _, _ := c.Exists("/never"); !ok {
		t.Fatal("never-used container was reaped")
	}
}

func TestTTLDisabled(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	_, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, open, time.Second)
	if err == nil || errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("createTTL with TTL nodes off: %v", err)
	}
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	h, _ := r.call(proto.OpCreateTTL, func(e *jute.Encoder) {
		(&proto.CreateRequest{Path: "/t", ACL: proto.OpenACLUnsafe, Flags: proto.FlagPersistentWithTTL, TTL: 1000}).Encode(e, true)
	})
	if h.Err != proto.CodeUnimplemented {
		t.Fatalf("createTTL disabled: %d, want -6", h.Err)
	}
}
