package zabsim

import (
	"cmp"
	"slices"

	"github.com/zoogate/zoogate/core/zab"
)

// The network has one ordered stream per pair of servers, like TCP. A
// stream breaks on a crash, a partition, or when a server closes it
// (Ready.Disconnect): everything in flight both ways is lost and each live
// end is told (Disconnected) after a delay. Until both ends have been told,
// anything sent on the pair is dropped, so no message ever follows a lost
// one without a Disconnected in between.

type envelope struct {
	seq    uint64
	at     int64
	m      zab.Message
	notice bool // deliver Disconnected(m.From) to m.To instead of a message
}

type pairKey struct{ a, b uint64 }

func keyOf(x, y uint64) pairKey {
	if x > y {
		x, y = y, x
	}
	return pairKey{x, y}
}

type link struct{ from, to uint64 }

// stream is the queue of one link: q[h:] is in flight. Streams are kept
// once made; active lists the non-empty ones.
type stream struct {
	l   link
	q   []envelope
	h   int
	pos int // index in network.active, -1 when empty
}

type dueLink struct {
	seq uint64
	l   link
}

type network struct {
	// streams holds every link used so far; active the ones with
	// something in flight (due walks it on every delivery).
	streams map[link]*stream
	active  []*stream
	dueBuf  []dueLink
	dueOut  []link
	broken  map[pairKey]map[uint64]bool // ends still to be told
	blocked map[pairKey]bool            // partitioned pairs
	muted   map[pairKey]bool            // silently dropping pairs (scenarios only)
	seq     uint64
	// counters
	sent, dropped, breaks int
}

func newNetwork() *network {
	return &network{
		streams: map[link]*stream{},
		broken:  map[pairKey]map[uint64]bool{},
		blocked: map[pairKey]bool{},
		muted:   map[pairKey]bool{},
	}
}

func (nw *network) nextSeq() uint64 { nw.seq++; return nw.seq }

// queue returns what is in flight on l (nil: nothing). The caller must
// not keep it across changes to l.
func (nw *network) queue(l link) []envelope {
	if st := nw.streams[l]; st != nil {
		return st.q[st.h:]
	}
	return nil
}

func (nw *network) stream(l link) *stream {
	st := nw.streams[l]
	if st == nil {
		st = &stream{l: l, pos: -1}
		nw.streams[l] = st
	}
	return st
}

func (nw *network) activate(st *stream) {
	if st.pos < 0 {
		st.pos = len(nw.active)
		nw.active = append(nw.active, st)
	}
}

func (nw *network) deactivate(st *stream) {
	if st.pos >= 0 {
		last := nw.active[len(nw.active)-1]
		nw.active[st.pos], last.pos = last, st.pos
		nw.active = nw.active[:len(nw.active)-1]
		st.pos = -1
	}
	clear(st.q) // let go of the messages
	st.q, st.h = st.q[:0], 0
}

// setQueue replaces what is in flight on l with q (a slice of its own).
func (nw *network) setQueue(l link, q []envelope) {
	st := nw.streams[l]
	if st == nil && len(q) == 0 {
		return
	}
	if st == nil {
		st = nw.stream(l)
	}
	if len(q) == 0 {
		nw.deactivate(st)
		return
	}
	st.q, st.h = q, 0
	nw.activate(st)
}

// push appends e to l, reusing the room its delivered messages left.
func (nw *network) push(l link, e envelope) {
	st := nw.stream(l)
	if st.h > 0 && len(st.q) == cap(st.q) {
		n := copy(st.q, st.q[st.h:])
		clear(st.q[n:])
		st.q, st.h = st.q[:n], 0
	}
	st.q = append(st.q, e)
	nw.activate(st)
}

// send queues m unless its pair is broken or partitioned.
func (nw *network) send(m zab.Message, at int64, noticeAt func() int64, alive func(uint64) bool) bool {
	k := keyOf(m.From, m.To)
	if nw.muted[k] {
		nw.dropped++
		return false
	}
	if nw.blocked[k] {
		nw.breakPair(m.From, m.To, noticeAt, alive)
	}
	if nw.broken[k] != nil {
		nw.dropped++
		return false
	}
	l := link{m.From, m.To}
	q := nw.queue(l)
	if len(q) > 0 && q[len(q)-1].at > at {
		at = q[len(q)-1].at // FIFO: never overtake
	}
	nw.push(l, envelope{seq: nw.nextSeq(), at: at, m: m})
	nw.sent++
	return true
}

// breakPair breaks the stream between x and y.
func (nw *network) breakPair(x, y uint64, noticeAt func() int64, alive func(uint64) bool) {
	k := keyOf(x, y)
	if nw.broken[k] != nil || nw.muted[k] {
		return // a muted pair is broken when it is unmuted
	}
	nw.breaks++
	nw.setQueue(link{x, y}, nil)
	nw.setQueue(link{y, x}, nil)
	tell := map[uint64]bool{}
	for _, end := range []uint64{x, y} {
		other := x
		if end == x {
			other = y
		}
		if alive(end) {
			tell[end] = true
			nw.push(link{other, end}, envelope{seq: nw.nextSeq(), at: noticeAt(),
				m: zab.Message{From: other, To: end}, notice: true})
		}
	}
	if len(tell) > 0 {
		nw.broken[k] = tell
	}
}

// crashed forgets everything to id and breaks its streams. What id had
// sent on a stream is lost too, unless delivers() says that the crash
// leaves it to be delivered: a process crash, after which the kernel still
// sends what the process wrote, then closes the stream.
func (nw *network) crashed(id uint64, peers []uint64, noticeAt func() int64, alive func(uint64) bool, delivers func() bool) {
	for _, p := range peers {
		if p == id {
			continue
		}
		k := keyOf(id, p)
		if tell := nw.broken[k]; tell != nil {
			// id will not need telling any more: it restarts fresh.
			delete(tell, id)
			nw.setQueue(link{p, id}, nil)
			if len(tell) == 0 {
				delete(nw.broken, k)
			}
			continue
		}
		if len(nw.queue(link{id, p})) > 0 && alive(p) && !nw.blocked[k] && !nw.muted[k] && delivers() {
			nw.closePair(id, p, noticeAt, alive)
			continue
		}
		nw.breakPair(id, p, noticeAt, func(x uint64) bool { return x != id && alive(x) })
	}
}

// due lists the links whose head is deliverable at now, in the order
// their heads were sent. The slice is reused by the next call.
func (nw *network) due(now int64) []link {
	buf := nw.dueBuf[:0]
	for _, st := range nw.active {
		if h := &st.q[st.h]; h.at <= now {
			buf = append(buf, dueLink{h.seq, st.l})
		}
	}
	slices.SortFunc(buf, func(a, b dueLink) int { return cmp.Compare(a.seq, b.seq) })
	out := nw.dueOut[:0]
	for _, d := range buf {
		out = append(out, d.l)
	}
	nw.dueBuf, nw.dueOut = buf, out
	return out
}

// pop removes the head of l. For a notice it marks that end told.
func (nw *network) pop(l link) envelope {
	st := nw.streams[l]
	e := st.q[st.h]
	st.q[st.h] = envelope{}
	if st.h++; st.h == len(st.q) {
		nw.deactivate(st)
	}
	if e.notice {
		k := keyOf(l.from, l.to)
		if tell := nw.broken[k]; tell != nil {
			delete(tell, l.to)
			if len(tell) == 0 {
				delete(nw.broken, k)
			}
		}
	}
	return e
}

func (nw *network) empty() bool { return len(nw.active) == 0 }

// dropMessages loses the messages in flight on l, keeping break notices.
func (nw *network) dropMessages(l link) {
	var keep []envelope
	for _, e := range nw.queue(l) {
		if e.notice {
			keep = append(keep, e)
		}
	}
	nw.setQueue(l, keep)
}

// closePair is a graceful close by x: what x already sent to y is still
// delivered, then y is told; what y sent to x is discarded. Nothing more
// flows on the pair until y has been told.
func (nw *network) closePair(x, y uint64, noticeAt func() int64, alive func(uint64) bool) {
	k := keyOf(x, y)
	if nw.broken[k] != nil || nw.muted[k] {
		return
	}
	nw.breaks++
	nw.setQueue(link{y, x}, nil)
	if !alive(y) {
		// A stream to a process that is gone: what x sent on it must not
		// reach the next process of y (which would serve a stream x has
		// closed and will never use again).
		nw.dropped += len(nw.queue(link{x, y}))
		nw.setQueue(link{x, y}, nil)
		return
	}
	l := link{x, y}
	at := noticeAt()
	if q := nw.queue(l); len(q) > 0 && q[len(q)-1].at > at {
		at = q[len(q)-1].at
	}
	nw.push(l, envelope{seq: nw.nextSeq(), at: at, m: zab.Message{From: x, To: y}, notice: true})
	nw.broken[k] = map[uint64]bool{y: true}
}
