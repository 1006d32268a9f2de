package server

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

func recvEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return zk.Event{}
}

func TestOneShotWatches(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	w, _ := connect(t, s)
	if _, err := c.Create("/w", []byte("a"), 0, open); err != nil {
		t.Fatal(err)
	}
	_, _, dataCh, err := w.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, childCh, err := w.ChildrenW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, existCh, err := w.ExistsW("/w/new")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/w", []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, dataCh); ev.Type != zk.EventNodeDataChanged || ev.Path != "/w" {
		t.Fatalf("data watch: %+v", ev)
	}
	if _, err := c.Create("/w/new", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, existCh); ev.Type != zk.EventNodeCreated || ev.Path != "/w/new" {
		t.Fatalf("exist watch: %+v", ev)
	}
	if ev := recvEvent(t, childCh); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/w" {
		t.Fatalf("child watch: %+v", ev)
	}
	// One-shot: a second change fires nothing on the server side.
	if _, err := c.Set("/w", []byte("c"), -1); err != nil {
		t.Fatal(err)
	}
	_, _, watches := s.watches.Stats()
	if watches != 0 {
		t.Fatalf("%d watches left after they fired", watches)
	}
}

// TestEventBeforeReply checks, at the byte level, that a watch event caused
// by a write reaches the writer before the write's reply, and that one
// connection gets one event even with a data and a child watch on the node.
func TestEventBeforeReply(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	if h, _ := r.call(proto.OpCreate, createBody("/e", nil, 0)); h.Err != 0 {
		t.Fatalf("create: %d", h.Err)
	}
	r.call(proto.OpGetData, pathWatch("/e", true))
	r.call(proto.OpGetChildren2, pathWatch("/e", true))
	xid := r.send(proto.OpDelete, func(e *jute.Encoder) { (&proto.PathVersion{Path: "/e", Version: -1}).Encode(e) })
	h, _, events := r.reply()
	if h.Xid != xid || h.Err != 0 {
		t.Fatalf("delete reply %+v", h)
	}
	if len(events) != 1 || events[0].Type != proto.EventNodeDeleted || events[0].Path != "/e" || events[0].State != 3 {
		t.Fatalf("want exactly one NodeDeleted before the reply, got %+v", events)
	}
}

func TestPersistentWatches(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	addWatch := func(path string, mode int32) {
		h, d := r.call(proto.OpAddWatch, func(e *jute.Encoder) { e.String(path); e.Int(mode) })
		if h.Err != 0 || d.Int("err") != 0 || d.Err() != nil {
			t.Fatalf("addWatch: %+v %v", h, d.Err())
		}
	}
	addWatch("/p", proto.AddWatchPersistentRecursive)
	addWatch("/p", proto.AddWatchPersistent)
	step := func(op proto.Op, body func(*jute.Encoder), want ...proto.WatcherEvent) {
		t.Helper()
		xid := r.send(op, body)
		h, _, events := r.reply()
		if h.Xid != xid || h.Err != 0 {
			t.Fatalf("%v: %+v", op, h)
		}
		if len(events) != len(want) {
			t.Fatalf("%v: events %+v, want %+v", op, events, want)
		}
		for i := range want {
			if events[i].Type != want[i].Type || events[i].Path != want[i].Path {
				t.Fatalf("%v: events %+v, want %+v", op, events, want)
			}
		}
	}
	ev := func(typ int32, path string) proto.WatcherEvent { return proto.WatcherEvent{Type: typ, Path: path} }
	step(proto.OpCreate, createBody("/p", nil, 0), ev(proto.EventNodeCreated, "/p"))
	// Child create: recursive sees NodeCreated(/p/c); persistent on /p sees NodeChildrenChanged.
	step(proto.OpCreate, createBody("/p/c", nil, 0), ev(proto.EventNodeCreated, "/p/c"), ev(proto.EventNodeChildrenChanged, "/p"))
	step(proto.OpCreate, createBody("/p/c/d", nil, 0), ev(proto.EventNodeCreated, "/p/c/d"))
	step(proto.OpSetData, func(e *jute.Encoder) { (&proto.SetDataRequest{Path: "/p/c/d", Version: -1}).Encode(e) }, ev(proto.EventNodeDataChanged, "/p/c/d"))
	// Persistent watches stay: fire again.
	step(proto.OpSetData, func(e *jute.Encoder) { (&proto.SetDataRequest{Path: "/p/c/d", Version: -1}).Encode(e) }, ev(proto.EventNodeDataChanged, "/p/c/d"))
	// removeWatches for the recursive one; checkWatches then says NoWatcher.
	if h, _ := r.call(proto.OpRemoveWatches, func(e *jute.Encoder) { e.String("/p"); e.Int(proto.WatcherPersistentRecursive) }); h.Err != 0 {
		t.Fatalf("removeWatches: %d", h.Err)
	}
	if h, _ := r.call(proto.OpCheckWatches, func(e *jute.Encoder) { e.String("/p"); e.Int(proto.WatcherPersistentRecursive) }); h.Err != proto.CodeNoWatcher {
		t.Fatalf("checkWatches after remove: %d", h.Err)
	}
	if h, _ := r.call(proto.OpCheckWatches, func(e *jute.Encoder) { e.String("/p"); e.Int(proto.WatcherAny) }); h.Err != 0 {
		t.Fatalf("checkWatches Any with the persistent one left: %d", h.Err)
	}
	step(proto.OpSetData, func(e *jute.Encoder) { (&proto.SetDataRequest{Path: "/p/c/d", Version: -1}).Encode(e) })
}

func TestSetWatchesRestore(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	for _, p := range []string{"/sw", "/sw/same", "/sw/changed", "/sw/gone"} {
		if _, err := c.Create(p, nil, 0, open); err != nil {
			t.Fatal(err)
		}
	}
	rel := s.LastZxid()
	if _, err := c.Set("/sw/changed", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/sw/gone", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/sw/born", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	xid := r.send(proto.OpSetWatches, func(e *jute.Encoder) {
		e.Long(rel)
		e.Strings([]string{"/sw/same", "/sw/changed", "/sw/gone"})
		e.Strings([]string{"/sw/born", "/sw/never"})
		e.Strings([]string{"/sw"})
	})
	h, _, events := r.reply()
	if h.Xid != xid || h.Err != 0 {
		t.Fatalf("setWatches reply %+v", h)
	}
	got := map[string]int32{}
	for _, e := range events {
		got[e.Path] = e.Type
	}
	want := map[string]int32{
		"/sw/changed": proto.EventNodeDataChanged, "/sw/gone": proto.EventNodeDeleted,
		"/sw/born": proto.EventNodeCreated, "/sw": proto.EventNodeChildrenChanged,
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for p, typ := range want {
		if got[p] != typ {
			t.Fatalf("event for %s = %d, want %d (all: %+v)", p, got[p], typ, got)
		}
	}
	// /sw/same and /sw/never were re-armed.
	if !s.watches.Check(r.connID(s), "/sw/same", proto.WatcherData, false) ||
		!s.watches.Check(r.connID(s), "/sw/never", proto.WatcherData, false) {
		t.Fatal("unchanged watches were not re-armed")
	}
}

// TestReadReplyPrecedesItsWatchEvent: the reply of a read that sets a
// watch is queued before the event of a write applied right after the
// read. Here the write is applied at the worst moment: after the read was
// answered and before the connection's processor moves on (where a reply
// sent outside the tree lock used to wait, so the event went first and
// go-zookeeper, not knowing the watch yet, dropped it).
func TestReadReplyPrecedesItsWatchEvent(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	if _, err := c.Create("/race", []byte("a"), 0, open); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s)
	r.handshake(0, nil, false)
	fired := make(chan struct{})
	testHookAfterRead = func(it *item) {
		if it.hdr.Type != proto.OpGetData {
			return
		}
		testHookAfterRead = nil
		if _, err := c.Set("/race", []byte("b"), -1); err != nil {
			t.Error(err)
		}
		close(fired)
	}
	t.Cleanup(func() { testHookAfterRead = nil })
	xid := r.send(proto.OpGetData, pathWatch("/race", true))
	<-fired
	h, _, events := r.reply()
	if h.Xid != xid || len(events) != 0 {
		t.Fatalf("first came %d event(s) %+v, then reply xid %d (want the reply to xid %d first)", len(events), events, h.Xid, xid)
	}
	b, err := r.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	d := jute.NewDecoder(b, 0)
	if h := proto.DecodeReplyHeader(d); h.Xid != proto.XidNotification {
		t.Fatalf("after the reply came xid %d, want the notification", h.Xid)
	}
	if ev := (proto.WatcherEvent{Type: d.Int("type"), State: d.Int("state"), Path: d.String("path")}); ev.Path != "/race" || ev.Type != int32(zk.EventNodeDataChanged) {
		t.Fatalf("event %+v", ev)
	}
}
