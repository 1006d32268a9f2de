package bridge

import (
	"io"
	"strings"
	"sync"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/wan"
)

// Fakes of both sides with the pull semantics of core/peer and wan: a
// queue of events, Broken owed until taken (Send drops meanwhile), a
// token on Notify whenever an event is queued or left behind by Recv,
// CloseStream discarding the peer's frames before its first waiting
// Broken. No sockets, no goroutines.

type sentFrame struct {
	to      uint64
	lane    wan.Lane
	frame   []byte
	blob    wan.Blob
	dropped bool // dropped because a Broken was owed
}

type fakeWAN struct {
	id     uint64
	mu     sync.Mutex
	q      []wanEvent
	owed   map[uint64]int
	notify chan struct{}
	sent   []sentFrame
	closes []uint64
	recvs  int
	closed bool
}

func newFakeWAN(id uint64) *fakeWAN {
	return &fakeWAN{id: id, owed: map[uint64]int{}, notify: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (f *fakeWAN) ID() uint64 { return f.id }

func (f *fakeWAN) Notify() <-chan struct{} { return f.notify }

// push queues a frame from a peer (a message, marshalled as its sender
// would, on the lane the bridge's sender picks).
func (f *fakeWAN) push(ev wanEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = append(f.q, ev)
	signal(f.notify)
}

func (f *fakeWAN) pushMsg(m zab.Message) {
	lane := wan.LaneOrdered
	if m.Type == zab.MsgRequest {
		lane = wan.LaneRequests
	}
	f.push(wanEvent{From: m.From, Lane: lane, Frame: zab.Marshal(m)})
}

func (f *fakeWAN) pushBroken(p uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owed[p]++
	f.q = append(f.q, wanEvent{From: p, Broken: true})
	signal(f.notify)
}

func (f *fakeWAN) Recv() (wanEvent, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recvs++
	if len(f.q) == 0 {
		return wanEvent{}, false
	}
	ev := f.q[0]
	f.q = f.q[1:]
	if ev.Broken {
		if f.owed[ev.From]--; f.owed[ev.From] == 0 {
			delete(f.owed, ev.From)
		}
	}
	if len(f.q) > 0 {
		signal(f.notify)
	}
	return ev, true
}

func (f *fakeWAN) record(s sentFrame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.dropped = f.owed[s.to] > 0
	f.sent = append(f.sent, s)
}

func (f *fakeWAN) Send(to uint64, lane wan.Lane, frame []byte) {
	f.record(sentFrame{to: to, lane: lane, frame: frame})
}

func (f *fakeWAN) SendBlob(to uint64, header []byte, blob wan.Blob) {
	f.record(sentFrame{to: to, lane: wan.LaneOrdered, frame: header, blob: blob})
}

func (f *fakeWAN) CloseStream(p uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, p)
	var out []wanEvent
	stop := false
	for _, ev := range f.q {
		if ev.From == p && ev.Broken {
			stop = true
		}
		if !stop && ev.From == p {
			if ev.Blob != nil {
				ev.Blob.Remove()
			}
			continue
		}
		out = append(out, ev)
	}
	f.q = out
}

func (f *fakeWAN) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeWAN) takeSent() []sentFrame {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

func (f *fakeWAN) recvCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recvs
}

type lanSent struct {
	to      uint64
	m       zab.Message
	dropped bool
}

type fakeLAN struct {
	id     uint64
	mu     sync.Mutex
	q      []peer.Event
	owed   map[uint64]int
	notify chan struct{}
	sent   []lanSent
	closes []uint64
	recvs  int
	closed bool
}

var _ peer.Transport = (*fakeLAN)(nil)

func newFakeLAN(id uint64) *fakeLAN {
	return &fakeLAN{id: id, owed: map[uint64]int{}, notify: make(chan struct{}, 1)}
}

func (f *fakeLAN) ID() uint64 { return f.id }

func (f *fakeLAN) Notify() <-chan struct{} { return f.notify }

func (f *fakeLAN) pushMsg(m zab.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = append(f.q, peer.Event{Msg: &m})
	signal(f.notify)
}

func (f *fakeLAN) pushBroken(p uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owed[p]++
	f.q = append(f.q, peer.Event{Broken: p})
	signal(f.notify)
}

func (f *fakeLAN) Recv() (peer.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recvs++
	if len(f.q) == 0 {
		return peer.Event{}, false
	}
	ev := f.q[0]
	f.q = f.q[1:]
	if ev.Msg == nil {
		if f.owed[ev.Broken]--; f.owed[ev.Broken] == 0 {
			delete(f.owed, ev.Broken)
		}
	}
	if len(f.q) > 0 {
		signal(f.notify)
	}
	return ev, true
}

func (f *fakeLAN) Send(to uint64, m zab.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.From, m.To = f.id, to
	f.sent = append(f.sent, lanSent{to: to, m: m, dropped: f.owed[to] > 0})
}

func (f *fakeLAN) CloseStream(p uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, p)
}

func (f *fakeLAN) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeLAN) takeSent() []lanSent {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

func (f *fakeLAN) recvCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recvs
}

// memBlob is a received blob that records its removal.
type memBlob struct {
	data    string
	mu      sync.Mutex
	removed bool
}

func (b *memBlob) Size() int64 { return int64(len(b.data)) }

func (b *memBlob) Open() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(b.data)), nil
}

func (b *memBlob) Remove() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removed = true
	return nil
}

func (b *memBlob) wasRemoved() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.removed
}
