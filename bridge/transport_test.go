package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/wan"
)

// Unit tests of routing and fan-in, with fake transports on both sides.

const self = 7

func newUnit(t *testing.T, cfg Config) (*Transport, *fakeLAN, *fakeWAN) {
	t.Helper()
	lan, w := newFakeLAN(self), newFakeWAN(self)
	tr, err := newTransport(cfg, lan, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, lan, w
}

// waitToken waits for a token on the bridge's Notify.
func waitToken(t *testing.T, tr *Transport) {
	t.Helper()
	select {
	case <-tr.Notify():
	case <-time.After(5 * time.Second):
		t.Fatal("no token on Notify")
	}
}

// drain takes events the way a driver does (wait on Notify, Recv until
// empty) until n were taken.
func drain(t *testing.T, tr *Transport, n int) []peer.Event {
	t.Helper()
	var out []peer.Event
	deadline := time.After(5 * time.Second)
	for len(out) < n {
		for ev, ok := tr.Recv(); ok; ev, ok = tr.Recv() {
			out = append(out, ev)
		}
		if len(out) >= n {
			break
		}
		select {
		case <-tr.Notify():
		case <-deadline:
			t.Fatalf("took %d events, want %d", len(out), n)
		}
	}
	if len(out) != n {
		t.Fatalf("took %d events, want %d", len(out), n)
	}
	return out
}

func describeEvent(ev peer.Event) string {
	if ev.Msg == nil {
		return fmt.Sprintf("Broken(%d)", ev.Broken)
	}
	return ev.Msg.String()
}

// Send picks the transport by peer: configured WAN peers (map or func)
// over the WAN, on the lane the message type calls for; everyone else
// over the LAN, unchanged. CloseStream follows the same routing.
func TestSendRoutesByPeerAndLane(t *testing.T) {
	tr, lan, w := newUnit(t, Config{WANPeers: map[uint64]bool{1: true}, IsWANPeer: func(id uint64) bool { return id == 5 }})
	blob := &memBlob{data: "snapshot bytes"}
	tr.Send(1, zab.Message{Type: zab.MsgObserverInfo, Epoch: 3, Zxid: 9})
	tr.Send(1, zab.Message{Type: zab.MsgRequest, Data: []byte("create /x")})
	tr.Send(1, zab.Message{Type: zab.MsgRequest, Flags: zab.FlagSync, Data: []byte("token")})
	tr.Send(1, zab.Message{Type: zab.MsgSnap, Zxid: 77, Blob: blob})
	tr.Send(1, zab.Message{Type: zab.MsgPing, Zxid: 78})
	tr.Send(5, zab.Message{Type: zab.MsgSync, Data: []byte("t")})
	tr.Send(9, zab.Message{Type: zab.MsgInform, Zxid: 5, Data: []byte("txn")})
	tr.CloseStream(1)
	tr.CloseStream(5)
	tr.CloseStream(9)

	want := []struct {
		to   uint64
		lane wan.Lane
		typ  zab.MessageType
		blob bool
	}{
		{1, wan.LaneOrdered, zab.MsgObserverInfo, false},
		{1, wan.LaneRequests, zab.MsgRequest, false},
		{1, wan.LaneRequests, zab.MsgRequest, false},
		{1, wan.LaneOrdered, zab.MsgSnap, true},
		{1, wan.LaneOrdered, zab.MsgPing, false},
		{5, wan.LaneOrdered, zab.MsgSync, false},
	}
	got := w.takeSent()
	if len(got) != len(want) {
		t.Fatalf("%d frames over the WAN, want %d", len(got), len(want))
	}
	for i, s := range got {
		m, err := zab.Unmarshal(s.frame)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		wn := want[i]
		if s.to != wn.to || s.lane != wn.lane || m.Type != wn.typ || (s.blob != nil) != wn.blob || s.dropped {
			t.Fatalf("frame %d: %s to %d on %s (blob %v), want %s to %d on %s (blob %v)",
				i, m.Type, s.to, s.lane, s.blob != nil, wn.typ, wn.to, wn.lane, wn.blob)
		}
		if m.From != self || m.To != s.to {
			t.Fatalf("frame %d: %d->%d, want %d->%d", i, m.From, m.To, self, s.to)
		}
		if m.Blob != nil || len(m.Data) > 0 && m.Type == zab.MsgSnap {
			t.Fatalf("the SNAP header carries its payload: %+v", m)
		}
		if wn.blob && (s.blob != blob || m.Zxid != 77) {
			t.Fatalf("the SNAP went without its blob or zxid: %+v", m)
		}
	}
	ls := lan.takeSent()
	if len(ls) != 1 || ls[0].to != 9 || ls[0].m.Type != zab.MsgInform || string(ls[0].m.Data) != "txn" {
		t.Fatalf("LAN got %+v", ls)
	}
	if fmt.Sprint(w.closes) != "[1 5]" || fmt.Sprint(lan.closes) != "[9]" {
		t.Fatalf("CloseStream: WAN %v, LAN %v", w.closes, lan.closes)
	}
}

// A WAN peer that is not configured (a relay that dialed this voter) is
// reached over the WAN once the driver has taken an event from it there,
// and stays so after its Broken (its next stream comes over the WAN too);
// a message from it over the LAN moves it back.
func TestAcceptedWANPeerIsLearned(t *testing.T) {
	tr, lan, w := newUnit(t, Config{})
	const relay = 42
	w.pushMsg(zab.Message{Type: zab.MsgVote, From: relay, To: self, State: zab.Looking})
	tr.Send(relay, zab.Message{Type: zab.MsgPing})
	if n := len(lan.takeSent()); n != 1 {
		t.Fatalf("before its event was taken the relay should be a LAN peer (%d LAN sends)", n)
	}
	drain(t, tr, 1)
	tr.Send(relay, zab.Message{Type: zab.MsgVote, State: zab.Leading})
	if s := w.takeSent(); len(s) != 1 || s[0].to != relay {
		t.Fatalf("after its first event the relay is reached over the WAN: %+v", s)
	}
	w.pushBroken(relay)
	if ev := drain(t, tr, 1)[0]; ev.Msg != nil || ev.Broken != relay {
		t.Fatalf("got %s, want Broken(%d)", describeEvent(ev), relay)
	}
	tr.Send(relay, zab.Message{Type: zab.MsgPing})
	tr.CloseStream(relay)
	if s := w.takeSent(); len(s) != 1 || len(lan.takeSent()) != 0 || fmt.Sprint(w.closes) != "[42]" {
		t.Fatalf("after its Broken the relay is still a WAN peer: %+v", s)
	}
	lan.pushMsg(zab.Message{Type: zab.MsgPing, From: relay, To: self})
	drain(t, tr, 1)
	tr.Send(relay, zab.Message{Type: zab.MsgPing})
	if len(lan.takeSent()) != 1 || len(w.takeSent()) != 0 {
		t.Fatal("a peer heard on the LAN is reached over the LAN")
	}
}

// The fan-in keeps every peer's order (LAN and WAN producers running
// concurrently), delivers everything, and alternates between the two
// sides so neither starves the other.
func TestFanInKeepsPerPeerOrder(t *testing.T) {
	tr, lan, w := newUnit(t, Config{WANPeers: map[uint64]bool{1: true, 4: true}})
	const per = 500
	var wg sync.WaitGroup
	for _, p := range []uint64{1, 4} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				typ := zab.MsgInform
				if i%3 == 0 {
					typ = zab.MsgRequest // the requests lane
				}
				w.pushMsg(zab.Message{Type: typ, From: p, To: self, Zxid: int64(i + 1)})
				if i%100 == 99 {
					runtime.Gosched()
				}
			}
		}()
	}
	for _, p := range []uint64{2, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				lan.pushMsg(zab.Message{Type: zab.MsgAck, From: p, To: self, Zxid: int64(i + 1)})
			}
		}()
	}
	evs := drain(t, tr, 4*per)
	wg.Wait()
	next := map[uint64]int64{1: 1, 2: 1, 3: 1, 4: 1}
	for _, ev := range evs {
		if ev.Msg == nil {
			t.Fatalf("unexpected %s", describeEvent(ev))
		}
		m := ev.Msg
		if m.Zxid != next[m.From] {
			t.Fatalf("from %d: got #%d, want #%d (order broken)", m.From, m.Zxid, next[m.From])
		}
		next[m.From]++
	}
	if _, ok := tr.Recv(); ok {
		t.Fatal("an event left over")
	}

	// Both sides full: the driver gets them alternately.
	for i := range 4 {
		lan.pushMsg(zab.Message{Type: zab.MsgAck, From: 2, To: self, Zxid: int64(i + 1)})
		w.pushMsg(zab.Message{Type: zab.MsgInform, From: 1, To: self, Zxid: int64(i + 1)})
	}
	var sides []uint64
	for _, ev := range drain(t, tr, 8) {
		sides = append(sides, ev.Msg.From)
	}
	for i := 1; i < len(sides); i++ {
		if sides[i] == sides[i-1] {
			t.Fatalf("the fan-in did not alternate: %v", sides)
		}
	}
}

// Drop until told, on each side: the bridge forwards the token of an
// underlying Notify but takes no event before the driver's Recv, so a
// Send to a peer whose Broken is waiting is still dropped by the
// underlying transport; once the driver took the Broken, Sends go out.
// A driver that takes one event per wake-up is woken again.
func TestDropUntilToldOnEachSide(t *testing.T) {
	tr, lan, w := newUnit(t, Config{WANPeers: map[uint64]bool{1: true}})
	w.pushBroken(1)
	lan.pushBroken(9)
	// The forwarder takes both transports' tokens and passes one on (or
	// two, if the first is taken in between): it takes no event.
	waitFor(t, "the forwarder to take both tokens", 5*time.Second, func() bool {
		return len(w.notify) == 0 && len(lan.notify) == 0
	})
	waitToken(t, tr)
	if w.recvCount() != 0 || lan.recvCount() != 0 {
		t.Fatal("the bridge took an event before the driver asked")
	}
	tr.Send(1, zab.Message{Type: zab.MsgPing})
	tr.Send(9, zab.Message{Type: zab.MsgPing})
	if s := w.takeSent(); len(s) != 1 || !s[0].dropped {
		t.Fatalf("WAN send before the driver took Broken(1): %+v, want dropped", s)
	}
	if s := lan.takeSent(); len(s) != 1 || !s[0].dropped {
		t.Fatalf("LAN send before the driver took Broken(9): %+v, want dropped", s)
	}
	first, ok := tr.Recv()
	if !ok || first.Msg != nil {
		t.Fatalf("got %s", describeEvent(first))
	}
	waitToken(t, tr) // one event is left: the driver is woken again
	second, ok := tr.Recv()
	if !ok || second.Msg != nil || first.Broken+second.Broken != 10 {
		t.Fatalf("got %s then %s, want Broken(1) and Broken(9)", describeEvent(first), describeEvent(second))
	}
	if _, ok := tr.Recv(); ok {
		t.Fatal("an event left over")
	}
	tr.Send(1, zab.Message{Type: zab.MsgPing})
	tr.Send(9, zab.Message{Type: zab.MsgPing})
	if s := w.takeSent(); len(s) != 1 || s[0].dropped {
		t.Fatalf("WAN send after Broken(1) was taken: %+v", s)
	}
	if s := lan.takeSent(); len(s) != 1 || s[0].dropped {
		t.Fatalf("LAN send after Broken(9) was taken: %+v", s)
	}
}

// A frame from a WAN peer that is not a message it may send breaks the
// stream with that peer only: the driver gets Broken in its place, the
// wan stream is closed (what followed from that peer on the same stream
// is discarded), the spooled blob of a bad blob header is removed, and
// the other peers' events and sends go on.
func TestBadFrameBreaksThatPeerOnly(t *testing.T) {
	good := func(from uint64, z int64) wanEvent {
		return wanEvent{From: from, Lane: wan.LaneOrdered, Frame: zab.Marshal(zab.Message{Type: zab.MsgInform, From: from, To: self, Zxid: z})}
	}
	cases := []struct {
		name string
		bad  func(b *memBlob) wanEvent
	}{
		{"garbage", func(*memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneOrdered, Frame: []byte{0xff, 0xff, 0xff}}
		}},
		{"empty", func(*memBlob) wanEvent { return wanEvent{From: 1, Lane: wan.LaneOrdered} }},
		{"trailing bytes", func(*memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneOrdered, Frame: append(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1}), 0)}
		}},
		{"another sender", func(*memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneOrdered, Frame: zab.Marshal(zab.Message{Type: zab.MsgPing, From: 2, To: self})}
		}},
		{"another receiver", func(*memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneOrdered, Frame: zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: self + 1})}
		}},
		{"COMMIT on the requests lane", func(*memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneRequests, Frame: zab.Marshal(zab.Message{Type: zab.MsgCommit, From: 1, To: self, Zxid: 3})}
		}},
		{"blob with Data", func(b *memBlob) wanEvent {
			return wanEvent{From: 1, Lane: wan.LaneOrdered, Blob: b,
				Frame: zab.Marshal(zab.Message{Type: zab.MsgSnap, From: 1, To: self, Data: []byte("x")})}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, lan, w := newUnit(t, Config{WANPeers: map[uint64]bool{1: true, 4: true}})
			blob := &memBlob{data: "snap"}
			w.push(good(1, 1))
			w.push(c.bad(blob))
			w.push(good(1, 2)) // same stream as the bad frame: discarded
			w.push(good(4, 1))
			lan.pushMsg(zab.Message{Type: zab.MsgAck, From: 9, To: self, Zxid: 1})
			var got []string
			for _, ev := range drain(t, tr, 4) {
				got = append(got, describeEvent(ev))
			}
			want := map[string]bool{"1->7 INFORM zxid=0x1": true, "Broken(1)": true, "4->7 INFORM zxid=0x1": true, "9->7 ACK zxid=0x1": true}
			for _, g := range got {
				if !want[g] {
					t.Fatalf("got %q", got)
				}
				delete(want, g)
			}
			if got[0] != "1->7 INFORM zxid=0x1" && got[1] != "1->7 INFORM zxid=0x1" {
				t.Fatalf("peer 1's good frame should come first: %q", got)
			}
			if _, ok := tr.Recv(); ok {
				t.Fatal("the frame after the bad one was not discarded")
			}
			if fmt.Sprint(w.closes) != "[1]" {
				t.Fatalf("CloseStream calls on the WAN: %v, want [1]", w.closes)
			}
			if c.name == "blob with Data" && !blob.wasRemoved() {
				t.Fatal("the spooled blob of the bad frame was not removed")
			}
			// The others' streams are untouched; peer 1's next Send
			// starts a new stream.
			tr.Send(4, zab.Message{Type: zab.MsgPing})
			tr.Send(1, zab.Message{Type: zab.MsgObserverInfo})
			tr.Send(9, zab.Message{Type: zab.MsgPing})
			if s := w.takeSent(); len(s) != 2 || s[0].dropped || s[1].dropped {
				t.Fatalf("WAN sends after the bad frame: %+v", s)
			}
			if s := lan.takeSent(); len(s) != 1 || s[0].dropped {
				t.Fatalf("LAN sends after the bad frame: %+v", s)
			}
		})
	}
}

// A blob header over the WAN becomes the SNAP with the spooled blob,
// which the driver can read and remove.
func TestBlobHeaderBecomesSnap(t *testing.T) {
	tr, _, w := newUnit(t, Config{WANPeers: map[uint64]bool{1: true}})
	blob := &memBlob{data: "the whole snapshot"}
	w.push(wanEvent{From: 1, Lane: wan.LaneOrdered, Blob: blob,
		Frame: zab.Marshal(zab.Message{Type: zab.MsgSnap, From: 1, To: self, Zxid: 0x500000003})})
	w.push(wanEvent{From: 1, Lane: wan.LaneOrdered, Frame: zab.Marshal(zab.Message{Type: zab.MsgNewLeader, From: 1, To: self, Epoch: 5})})
	evs := drain(t, tr, 2)
	m := evs[0].Msg
	if m == nil || m.Type != zab.MsgSnap || m.Zxid != 0x500000003 || m.Blob == nil {
		t.Fatalf("got %s", describeEvent(evs[0]))
	}
	rc, err := m.Blob.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, []byte(blob.data)) {
		t.Fatalf("blob %q", b)
	}
	rm, ok := m.Blob.(interface{ Remove() error })
	if !ok {
		t.Fatal("the blob is not removable: DiskStorage would leave the spool file behind")
	}
	rm.Remove()
	if !blob.wasRemoved() {
		t.Fatal("Remove did not reach the spooled blob")
	}
	if evs[1].Msg == nil || evs[1].Msg.Type != zab.MsgNewLeader || evs[1].Msg.Blob != nil {
		t.Fatalf("got %s after the SNAP", describeEvent(evs[1]))
	}
}

// Close closes both transports and stops the forwarding goroutine (it is
// idempotent); New
// refuses transports of two different servers.
func TestCloseAndNew(t *testing.T) {
	lan, w := newFakeLAN(self), newFakeWAN(self)
	tr, err := newTransport(Config{}, lan, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if !lan.closed || !w.closed {
		t.Fatal("Close left a transport open")
	}
	select {
	case <-tr.done: // Close waited for the forwarder to return
	default:
		t.Fatal("the forwarder was not stopped")
	}
	if _, err := newTransport(Config{}, newFakeLAN(self+1), newFakeWAN(self), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ids differ: %v", err)
	}
	if _, err := newTransport(Config{}, nil, newFakeWAN(self), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no LAN: %v", err)
	}
	if _, err := New(Config{}, newFakeLAN(self), nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no WAN: %v", err)
	}
}
