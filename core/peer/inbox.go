package peer

import (
	"sync"

	"github.com/zoogate/zoogate/core/zab"
)

// inbox is the queue of events waiting for the driver. Every method is
// called with the owner's mutex held (the one passed to newInbox).
type inbox struct {
	q      []Event
	head   int
	bytes  int            // bytes of the messages waiting
	max    int            // producers wait while bytes >= max (0: never)
	owed   map[uint64]int // Broken events decided and not yet taken, per peer
	from   map[uint64]int // bytes waiting per sender
	notify chan struct{}
	space  *sync.Cond // signalled when bytes drop or the owner changes state
}

func newInbox(mu *sync.Mutex, max int) *inbox {
	return &inbox{
		max:    max,
		owed:   map[uint64]int{},
		from:   map[uint64]int{},
		notify: make(chan struct{}, 1),
		space:  sync.NewCond(mu),
	}
}

// msgSize is the accounting size of a message: its data plus a fixed
// allowance for the header fields. A Blob is not counted: the sender reads
// it only when writing it, the receiver keeps it on disk.
func msgSize(m *zab.Message) int { return len(m.Data) + 48 }

func (b *inbox) signal() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *inbox) len() int { return len(b.q) - b.head }

// full reports whether a producer should wait before pushing a message.
func (b *inbox) full() bool { return b.max > 0 && b.bytes >= b.max }

func (b *inbox) pushMsg(m zab.Message) {
	n := msgSize(&m)
	b.bytes += n
	b.from[m.From] += n
	b.q = append(b.q, Event{Msg: &m})
	b.signal()
}

// owe records that a Broken event for peer is coming: Send to peer drops
// messages until the driver has taken it.
func (b *inbox) owe(peer uint64) { b.owed[peer]++ }

// pushBroken queues a Broken event already recorded with owe.
func (b *inbox) pushBroken(peer uint64) {
	b.q = append(b.q, Event{Broken: peer})
	b.signal()
}

// untold reports whether a Broken event for peer is still owed.
func (b *inbox) untold(peer uint64) bool { return b.owed[peer] > 0 }

func (b *inbox) pop() (Event, bool) {
	if b.len() == 0 {
		return Event{}, false
	}
	ev := b.q[b.head]
	b.q[b.head] = Event{}
	b.head++
	if b.head == len(b.q) {
		b.q, b.head = b.q[:0], 0
	} else if b.head > 64 && b.head > len(b.q)/2 {
		n := copy(b.q, b.q[b.head:])
		clear(b.q[n:])
		b.q, b.head = b.q[:n], 0
	}
	if ev.Msg != nil {
		n := msgSize(ev.Msg)
		b.bytes -= n
		if b.from[ev.Msg.From] -= n; b.from[ev.Msg.From] <= 0 {
			delete(b.from, ev.Msg.From)
		}
		b.space.Broadcast()
	} else if b.owed[ev.Broken]--; b.owed[ev.Broken] <= 0 {
		delete(b.owed, ev.Broken)
	}
	if b.len() > 0 {
		b.signal()
	}
	return ev, true
}

// purge drops the waiting messages from peer that belong to the driver's
// current stream with it: those before the first waiting Broken(peer), if
// any. Messages after such an event belong to a later stream and stay. A
// dropped message's spool file, if any, is deleted.
func (b *inbox) purge(peer uint64) {
	out := b.q[b.head:b.head]
	dropped := 0
	stop := false
	for _, ev := range b.q[b.head:] {
		if !stop && ev.Msg == nil && ev.Broken == peer {
			stop = true
		}
		if !stop && ev.Msg != nil && ev.Msg.From == peer {
			removeBlob(ev.Msg)
			n := msgSize(ev.Msg)
			b.bytes -= n
			b.from[peer] -= n
			dropped++
			continue
		}
		out = append(out, ev)
	}
	if dropped == 0 {
		return
	}
	if b.from[peer] <= 0 {
		delete(b.from, peer)
	}
	clear(b.q[b.head+len(out):])
	b.q = b.q[:b.head+len(out)]
	b.space.Broadcast()
}
