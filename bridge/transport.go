package bridge

import (
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/wan"
)

// Config says which peers are reached over the WAN; every other peer is
// reached over the LAN transport. A peer that neither lists but that
// connects over the WAN (a relay dialing a voter) is learned from the first
// event the driver takes from it there (see the package documentation).
type Config struct {
	// WANPeers are the ids reached over the WAN, typically the keys of the
	// wan transport's Config.Dial (a relay's upstream voters).
	WANPeers map[uint64]bool
	// IsWANPeer, when set, is asked about ids WANPeers does not list
	// (e.g. from the topology's live view). It is called on every Send
	// and CloseStream to such an id: it must be fast and safe for
	// concurrent use, and must not call the Transport.
	IsWANPeer func(id uint64) bool
}

// ErrInvalid is returned by New for a missing transport or mismatched ids.
var ErrInvalid = errors.New("bridge: invalid arguments")

// wanSide is what the bridge uses of a *wan.Transport (wanAdapter), so that
// tests can put a fake in its place.
type wanSide interface {
	ID() uint64
	Send(to uint64, lane wan.Lane, frame []byte)
	SendBlob(to uint64, header []byte, blob wan.Blob)
	CloseStream(peer uint64)
	Notify() <-chan struct{}
	Recv() (wanEvent, bool)
	Close() error
}

// spooled is a received blob: a zab.Blob the receiver owns and removes
// once installed (core/replica.DiskStorage removes a snapshot's Blob that
// has Remove after installing it).
type spooled interface {
	zab.Blob
	Remove() error
}

// A *wan.SpoolBlob is a zab.Blob whose file DiskStorage removes.
var (
	_ spooled        = (*wan.SpoolBlob)(nil)
	_ peer.Removable = (*wan.SpoolBlob)(nil)
	_ wan.Blob       = zab.Blob(nil) // a zab.Blob can be sent with SendBlob
)

// wanEvent is a wan.Event with its blob as an interface (nil when none).
type wanEvent struct {
	From   uint64
	Lane   wan.Lane
	Frame  []byte
	Blob   spooled
	Broken bool
}

// wanAdapter adapts a *wan.Transport to wanSide.
type wanAdapter struct{ *wan.Transport }

func (a wanAdapter) Recv() (wanEvent, bool) {
	ev, ok := a.Transport.Recv()
	if !ok {
		return wanEvent{}, false
	}
	out := wanEvent{From: ev.From, Lane: ev.Lane, Frame: ev.Frame, Broken: ev.Broken}
	if ev.Blob != nil { // never a typed nil in the interface
		out.Blob = ev.Blob
	}
	return out, true
}

// Transport is a peer.Transport that reaches the peers of the server's own
// site over a LAN transport (core/peer's TCP, or its Mem twin) and the
// peers of other sites over a *wan.Transport, with core/peer's semantics on
// every stream. Send, CloseStream, Notify and Recv may be called from any
// goroutine, but, as for core/peer, the guarantees are stated for one
// driver goroutine that is the only caller of Recv.
type Transport struct {
	cfg Config
	id  uint64
	lan peer.Transport
	wan wanSide
	raw *wan.Transport // nil with a fake wanSide (tests)
	log hclog.Logger

	notify chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	learned map[uint64]bool // accepted WAN peers not in cfg, last heard on the WAN
	wanNext bool            // Recv tries the WAN first (alternates, for fairness)
	closed  bool
}

var _ peer.Transport = (*Transport)(nil)

// New combines lan (the peers of this server's site) and w (the peers of
// other sites) into one peer.Transport. The Transport owns both from now
// on: Close closes them. This server's id is w's; lan, if it tells its id
// (ID() uint64, as core/peer's transports do), must have the same one.
// logger may be nil; the Transport logs as "bridge" under it. If New
// fails, the caller still owns (and closes) both transports.
func New(cfg Config, lan peer.Transport, w *wan.Transport, logger hclog.Logger) (*Transport, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: no WAN transport", ErrInvalid)
	}
	t, err := newTransport(cfg, lan, wanAdapter{w}, logger)
	if err != nil {
		return nil, err
	}
	t.raw = w
	return t, nil
}

func newTransport(cfg Config, lan peer.Transport, w wanSide, logger hclog.Logger) (*Transport, error) {
	if lan == nil {
		return nil, fmt.Errorf("%w: no LAN transport", ErrInvalid)
	}
	id := w.ID()
	if l, ok := lan.(interface{ ID() uint64 }); ok && l.ID() != id {
		return nil, fmt.Errorf("%w: the LAN transport is server %d's, the WAN transport server %d's", ErrInvalid, l.ID(), id)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	cfg.WANPeers = maps.Clone(cfg.WANPeers) // read without a lock from now on
	t := &Transport{
		cfg:     cfg,
		id:      id,
		lan:     lan,
		wan:     w,
		log:     logger.Named("bridge"),
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		learned: map[uint64]bool{},
	}
	t.wg.Add(1)
	go t.forward()
	return t, nil
}

// forward turns a token of either transport's Notify into a token of
// ours. It takes no event: events are taken only by Recv, when the driver
// asks, so that "drop until told" keeps meaning the driver was told.
func (t *Transport) forward() {
	defer t.wg.Done()
	ln, wn := t.lan.Notify(), t.wan.Notify()
	for {
		select {
		case <-ln:
		case <-wn:
		case <-t.done:
			return
		}
		select {
		case t.notify <- struct{}{}:
		default:
		}
	}
}

// ID returns this server's id.
func (t *Transport) ID() uint64 { return t.id }

// WAN returns the WAN transport (for Stats and Peers), nil in unit tests.
func (t *Transport) WAN() *wan.Transport { return t.raw }

// LAN returns the LAN transport.
func (t *Transport) LAN() peer.Transport { return t.lan }

// overWAN reports whether peer id is reached over the WAN.
func (t *Transport) overWAN(id uint64) bool {
	if t.cfg.WANPeers[id] {
		return true
	}
	t.mu.Lock()
	learned := t.learned[id]
	t.mu.Unlock()
	if learned {
		return true
	}
	return t.cfg.IsWANPeer != nil && t.cfg.IsWANPeer(id)
}

// Send implements peer.Transport: over the WAN, a REQUEST goes on
// wan.LaneRequests, a message with a Blob (a SNAP) with wan.SendBlob
// (the marshalled message without its blob as the header), anything else
// on wan.LaneOrdered.
func (t *Transport) Send(to uint64, m zab.Message) {
	if !t.overWAN(to) {
		t.lan.Send(to, m)
		return
	}
	m.From, m.To = t.id, to
	blob := m.Blob
	m.Blob = nil
	frame := zab.Marshal(m)
	switch {
	case blob != nil:
		t.wan.SendBlob(to, frame, blob)
	case m.Type == zab.MsgRequest:
		t.wan.Send(to, wan.LaneRequests, frame)
	default:
		t.wan.Send(to, wan.LaneOrdered, frame)
	}
}

// CloseStream implements peer.Transport, on the transport that reaches
// peer.
func (t *Transport) CloseStream(peer uint64) {
	if t.overWAN(peer) {
		t.wan.CloseStream(peer)
		return
	}
	t.lan.CloseStream(peer)
}

// Notify implements peer.Transport: it holds a token when either
// transport has events waiting.
func (t *Transport) Notify() <-chan struct{} { return t.notify }

// Recv implements peer.Transport. It takes at most one event from one of
// the two transports, alternating which one it asks first, and only now:
// nothing is read ahead of the driver.
//
// After it took an event it re-arms Notify: the forwarder merges the two
// transports' tokens into one, so the other transport may still hold
// events whose token the driver already consumed. A driver that takes
// only some events is thus woken again; one that drains until Recv
// reports nothing gets at most one wake-up that finds nothing.
func (t *Transport) Recv() (peer.Event, bool) {
	ev, ok := t.recvOne()
	if ok {
		select {
		case t.notify <- struct{}{}:
		default:
		}
	}
	return ev, ok
}

func (t *Transport) recvOne() (peer.Event, bool) {
	t.mu.Lock()
	wanFirst := t.wanNext
	t.wanNext = !t.wanNext
	t.mu.Unlock()
	if wanFirst {
		if ev, ok := t.recvWAN(); ok {
			return ev, true
		}
		return t.recvLAN()
	}
	if ev, ok := t.recvLAN(); ok {
		return ev, true
	}
	return t.recvWAN()
}

func (t *Transport) recvLAN() (peer.Event, bool) {
	ev, ok := t.lan.Recv()
	if ok && ev.Msg != nil {
		// A peer heard on the LAN is reached over the LAN again (it
		// moved), unless it is configured as a WAN peer.
		t.mu.Lock()
		if t.learned[ev.Msg.From] {
			delete(t.learned, ev.Msg.From)
			t.log.Warn("a peer learned on the WAN is now heard on the LAN; routing it over the LAN", "peer", ev.Msg.From)
		}
		t.mu.Unlock()
	}
	return ev, ok
}

func (t *Transport) recvWAN() (peer.Event, bool) {
	ev, ok := t.wan.Recv()
	if !ok {
		return peer.Event{}, false
	}
	if ev.Broken {
		return peer.Event{Broken: ev.From}, true
	}
	m, err := decode(t.id, ev)
	if err != nil {
		return t.badFrame(ev, err), true
	}
	if !t.cfg.WANPeers[ev.From] {
		t.mu.Lock()
		if !t.learned[ev.From] {
			t.learned[ev.From] = true
			t.log.Debug("learned a WAN peer", "peer", ev.From)
		}
		t.mu.Unlock()
	}
	return peer.Event{Msg: &m}, true
}

// badFrame ends the stream with the frame's sender: the wan stream is
// closed (the peer sees Broken after what was sent to it, what it sent
// and the driver did not take is discarded) and the driver is told Broken
// now, in place of the frame. If the wan stream had already broken, its
// own Broken follows: the driver then sees the end of the (empty) stream
// its Sends in between started, whose messages wan dropped.
func (t *Transport) badFrame(ev wanEvent, err error) peer.Event {
	t.log.Error("bad frame from a WAN peer, breaking the stream", "peer", ev.From, "lane", ev.Lane.String(),
		"bytes", len(ev.Frame), "error", err)
	if ev.Blob != nil {
		if rerr := ev.Blob.Remove(); rerr != nil {
			t.log.Warn("cannot remove the spooled blob of a bad frame", "peer", ev.From, "error", rerr)
		}
	}
	t.wan.CloseStream(ev.From)
	return peer.Event{Broken: ev.From}
}

// Close implements peer.Transport: it closes both transports.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	close(t.done)
	t.wg.Wait()
	return errors.Join(t.wan.Close(), t.lan.Close())
}
