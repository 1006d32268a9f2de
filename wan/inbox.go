package wan

import "sync"

// inbox is the queue of events waiting for the driver. Every method is
// called with the owner's mutex held (the one passed to newInbox).
type inbox struct {
	q      []Event
	head   int
	bytes  int            // bytes of the frames waiting
	max    int            // producers wait while bytes >= max (0: never)
	owed   map[uint64]int // Broken events decided and not yet taken, per peer
	notify chan struct{}
	space  *sync.Cond // signalled when bytes drop or the owner changes state
}

func newInbox(mu *sync.Mutex, max int) *inbox {
	return &inbox{
		max:    max,
		owed:   map[uint64]int{},
		notify: make(chan struct{}, 1),
		space:  sync.NewCond(mu),
	}
}

// eventSize is the accounting size of a frame event: its bytes plus a
// fixed allowance. A blob counts by its header (its bytes are on disk).
func eventSize(ev *Event) int { return len(ev.Frame) + 48 }

func (b *inbox) signal() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *inbox) len() int { return len(b.q) - b.head }

// full reports whether a producer should wait before pushing a frame.
func (b *inbox) full() bool { return b.max > 0 && b.bytes >= b.max }

func (b *inbox) pushFrame(ev Event) {
	b.bytes += eventSize(&ev)
	b.q = append(b.q, ev)
	b.signal()
}

// owe records that a Broken event for peer is coming: Send to peer drops
// frames until the driver has taken it.
func (b *inbox) owe(peer uint64) { b.owed[peer]++ }

// pushBroken queues a Broken event already recorded with owe.
func (b *inbox) pushBroken(peer uint64) {
	b.q = append(b.q, Event{From: peer, Broken: true})
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
	if !ev.Broken {
		b.bytes -= eventSize(&ev)
		b.space.Broadcast()
	} else if b.owed[ev.From]--; b.owed[ev.From] <= 0 {
		delete(b.owed, ev.From)
	}
	if b.len() > 0 {
		b.signal()
	}
	return ev, true
}

// purge drops the waiting frames from peer that belong to the driver's
// current stream with it: those before the first waiting Broken from peer,
// if any. Frames after such an event belong to a later stream and stay.
// Dropped blobs are removed from the spool.
func (b *inbox) purge(peer uint64) {
	out := b.q[b.head:b.head]
	dropped := 0
	stop := false
	for _, ev := range b.q[b.head:] {
		if ev.From == peer && ev.Broken {
			stop = true
		}
		if !stop && ev.From == peer && !ev.Broken {
			ev.Blob.remove()
			b.bytes -= eventSize(&ev)
			dropped++
			continue
		}
		out = append(out, ev)
	}
	if dropped == 0 {
		return
	}
	clear(b.q[b.head+len(out):])
	b.q = b.q[:b.head+len(out)]
	b.space.Broadcast()
}

// drain empties the queue (the transport is closing), removing blobs.
func (b *inbox) drain() {
	for _, ev := range b.q[b.head:] {
		ev.Blob.remove()
	}
	clear(b.q)
	b.q, b.head, b.bytes = b.q[:0], 0, 0
}
