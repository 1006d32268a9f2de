package zabsim

import (
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

type network struct {
	queues  map[link][]envelope
	broken  map[pairKey]map[uint64]bool // ends still to be told
	blocked map[pairKey]bool            // partitioned pairs
	muted   map[pairKey]bool            // silently dropping pairs (scenarios only)
	seq     uint64
	// counters
	sent, dropped, breaks int
}

func newNetwork() *network {
	return &network{
		queues:  map[link][]envelope{},
		broken:  map[pairKey]map[uint64]bool{},
		blocked: map[pairKey]bool{},
		muted:   map[pairKey]bool{},
	}
}

func (nw *network) nextSeq() uint64 { nw.seq++; return nw.seq }

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
	q := nw.queues[l]
	if len(q) > 0 && q[len(q)-1].at > at {
		at = q[len(q)-1].at // FIFO: never overtake
	}
	nw.queues[l] = append(q, envelope{seq: nw.nextSeq(), at: at, m: m})
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
	delete(nw.queues, link{x, y})
	delete(nw.queues, link{y, x})
	tell := map[uint64]bool{}
	for _, end := range []uint64{x, y} {
		other := x
		if end == x {
			other = y
		}
		if alive(end) {
			tell[end] = true
			l := link{other, end}
			nw.queues[l] = append(nw.queues[l], envelope{seq: nw.nextSeq(), at: noticeAt(),
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
			delete(nw.queues, link{p, id})
			if len(tell) == 0 {
				delete(nw.broken, k)
			}
			continue
		}
		if len(nw.queues[link{id, p}]) > 0 && alive(p) && !nw.blocked[k] && !nw.muted[k] && delivers() {
			nw.closePair(id, p, noticeAt, alive)
			continue
		}
		nw.breakPair(id, p, noticeAt, func(x uint64) bool { return x != id && alive(x) })
	}
}

// due lists the links whose head is deliverable at now, in a stable order.
func (nw *network) due(now int64) []link {
	var out []link
	for l, q := range nw.queues {
		if len(q) > 0 && q[0].at <= now {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b link) int {
		return int(nw.queues[a][0].seq) - int(nw.queues[b][0].seq)
	})
	return out
}

// pop removes the head of l. For a notice it marks that end told.
func (nw *network) pop(l link) envelope {
	q := nw.queues[l]
	e := q[0]
	if len(q) == 1 {
		delete(nw.queues, l)
	} else {
		nw.queues[l] = q[1:]
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

func (nw *network) empty() bool { return len(nw.queues) == 0 }

// dropMessages loses the messages in flight on l, keeping break notices.
func (nw *network) dropMessages(l link) {
	var keep []envelope
	for _, e := range nw.queues[l] {
		if e.notice {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		delete(nw.queues, l)
	} else {
		nw.queues[l] = keep
	}
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
	delete(nw.queues, link{y, x})
	if !alive(y) {
		return
	}
	l := link{x, y}
	at := noticeAt()
	if q := nw.queues[l]; len(q) > 0 && q[len(q)-1].at > at {
		at = q[len(q)-1].at
	}
	nw.queues[l] = append(nw.queues[l], envelope{seq: nw.nextSeq(), at: at, m: zab.Message{From: x, To: y}, notice: true})
	nw.broken[k] = map[uint64]bool{y: true}
}
