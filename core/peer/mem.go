package peer

import (
	"sync"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// MemNetwork connects in-memory transports with the same semantics as TCP,
// plus fault controls for tests: Break, Partition, Heal and a constant
// delivery delay. Two differences in timing, not in ordering: a Send to a
// server that is not running (or across a partition) loses the message and
// tells the sender Broken at once, where TCP tells it after ConnectWait; and
// a stream exists only once a message was sent on it, so stopping a server
// tells only the peers it had exchanged messages with since their last
// break, where TCP tells every peer it had a connection with.
//
// Every server may talk to every other, as voters do, except learners
// (see Learner): a learner and another server talk only when one is an
// upstream of the other, as with TCP's Upstreams and AcceptLearners.
//
// A Blob is handed over as is (same process), behind a wrapper that keeps
// only Size and Open: the receiver never sees the sender's Removable.
type MemNetwork struct {
	mu         sync.Mutex
	eps        map[uint64]*MemTransport
	learners   map[uint64]map[uint64]bool // learner id -> its upstreams
	groups     map[uint64]int             // partition; nil when healed
	live       map[pairKey]bool           // a stream exists on the pair
	gens       map[dirKey]uint64          // bumped when a direction's messages in flight are lost
	inflight   map[dirKey]int             // bytes in flight per direction
	fifo       []memEnv                   // delayed deliveries, in time order
	delay      time.Duration
	queueBytes int
	closed     bool
	kick       chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup
}

type pairKey struct{ a, b uint64 }

func pairOf(x, y uint64) pairKey {
	if x > y {
		x, y = y, x
	}
	return pairKey{x, y}
}

type dirKey struct{ from, to uint64 }

type memEnv struct {
	at     time.Time
	d      dirKey
	gen    uint64
	m      zab.Message
	notice bool // a graceful close: deliver Broken(d.from) to dst
	dst    *MemTransport
}

// MemOption configures a MemNetwork.
type MemOption func(*MemNetwork)

// WithDelay delays every delivery by d (FIFO per direction is kept).
func WithDelay(d time.Duration) MemOption { return func(nw *MemNetwork) { nw.delay = d } }

// WithQueueBytes bounds the bytes one endpoint may have in flight to, or
// unread at, another (TCP's MaxQueueBytes); beyond it the stream breaks.
func WithQueueBytes(n int) MemOption { return func(nw *MemNetwork) { nw.queueBytes = n } }

// NewMemNetwork returns an empty network (no delay, a 128 MiB queue bound).
func NewMemNetwork(opts ...MemOption) *MemNetwork {
	nw := &MemNetwork{
		eps:        map[uint64]*MemTransport{},
		learners:   map[uint64]map[uint64]bool{},
		live:       map[pairKey]bool{},
		gens:       map[dirKey]uint64{},
		inflight:   map[dirKey]int{},
		queueBytes: DefaultTCPConfig(1).MaxQueueBytes,
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	for _, o := range opts {
		o(nw)
	}
	if nw.delay > 0 {
		nw.wg.Add(1)
		go nw.deliverLoop()
	}
	return nw
}

// Transport returns the running endpoint of server id, starting a fresh one
// if there is none (first use, or after its Close: a restart).
func (nw *MemNetwork) Transport(id uint64) *MemTransport {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if ep := nw.eps[id]; ep != nil {
		return ep
	}
	ep := &MemTransport{nw: nw, id: id, in: newInbox(&nw.mu, 0)}
	if !nw.closed {
		nw.eps[id] = ep
	} else {
		ep.closed = true
	}
	return ep
}

// Break breaks the stream between a and b: what is in flight is lost and
// both (if running) receive Broken.
func (nw *MemNetwork) Break(a, b uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.live[pairOf(a, b)] = true // force telling both ends
	nw.breakPairL(a, b, 0)
}

// Partition lets servers talk only within their group; a server in no group
// talks to nobody. Streams across groups break now; Sends across them are
// lost (the sender is told Broken) until Heal.
func (nw *MemNetwork) Partition(groups ...[]uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.groups = map[uint64]int{}
	for i, g := range groups {
		for _, id := range g {
			nw.groups[id] = i
		}
	}
	for k, live := range nw.live {
		if live && !nw.reachableL(k.a, k.b) {
			nw.breakPairL(k.a, k.b, 0)
		}
	}
}

// Heal ends a partition.
func (nw *MemNetwork) Heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.groups = nil
}

// Close closes every endpoint and stops the delivery goroutine.
func (nw *MemNetwork) Close() {
	nw.mu.Lock()
	eps := make([]*MemTransport, 0, len(nw.eps))
	for _, ep := range nw.eps {
		eps = append(eps, ep)
	}
	nw.mu.Unlock()
	for _, ep := range eps {
		ep.Close()
	}
	nw.mu.Lock()
	if !nw.closed {
		nw.closed = true
		close(nw.stop)
	}
	nw.mu.Unlock()
	nw.wg.Wait()
}

func (nw *MemNetwork) reachableL(a, b uint64) bool {
	if nw.groups == nil {
		return true
	}
	ga, oka := nw.groups[a]
	gb, okb := nw.groups[b]
	return oka && okb && ga == gb
}

// breakPairL ends the stream between a and b: messages in flight both ways
// are lost. If a stream existed both running ends are told; otherwise only
// sender (when not 0), whose message was lost.
func (nw *MemNetwork) breakPairL(a, b, sender uint64) {
	k := pairOf(a, b)
	live := nw.live[k]
	delete(nw.live, k)
	nw.gens[dirKey{a, b}]++
	nw.gens[dirKey{b, a}]++
	for _, end := range []uint64{a, b} {
		other := a
		if end == a {
			other = b
		}
		ep := nw.eps[end]
		if ep == nil || (!live && end != sender) {
			continue
		}
		ep.in.owe(other)
		ep.in.pushBroken(other)
	}
}

func (nw *MemNetwork) enqueueL(env memEnv) {
	env.at = time.Now().Add(nw.delay)
	if n := len(nw.fifo); n > 0 && nw.fifo[n-1].at.After(env.at) {
		env.at = nw.fifo[n-1].at
	}
	nw.fifo = append(nw.fifo, env)
	select {
	case nw.kick <- struct{}{}:
	default:
	}
}

// deliverLoop hands delayed messages and notices over when they are due.
func (nw *MemNetwork) deliverLoop() {
	defer nw.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nw.mu.Lock()
	for !nw.closed {
		now := time.Now()
		for len(nw.fifo) > 0 && !nw.fifo[0].at.After(now) {
			env := nw.fifo[0]
			nw.fifo[0] = memEnv{}
			nw.fifo = nw.fifo[1:]
			if env.notice {
				if !env.dst.closed {
					env.dst.in.pushBroken(env.d.from)
				}
				continue
			}
			nw.inflight[env.d] -= msgSize(&env.m)
			if env.gen == nw.gens[env.d] && !env.dst.closed {
				env.dst.in.pushMsg(env.m)
			}
		}
		if len(nw.fifo) > 0 {
			timer.Reset(nw.fifo[0].at.Sub(now))
		}
		nw.mu.Unlock()
		select {
		case <-timer.C:
		case <-nw.kick:
		case <-nw.stop:
		}
		nw.mu.Lock()
	}
	nw.mu.Unlock()
}

// MemTransport is one server's endpoint on a MemNetwork.
type MemTransport struct {
	nw     *MemNetwork
	id     uint64
	in     *inbox
	closed bool
}

var _ Transport = (*MemTransport)(nil)

// ID returns the endpoint's server id.
func (e *MemTransport) ID() uint64 { return e.id }

// Notify implements Transport.
func (e *MemTransport) Notify() <-chan struct{} { return e.in.notify }

// Recv implements Transport.
func (e *MemTransport) Recv() (Event, bool) {
	e.nw.mu.Lock()
	defer e.nw.mu.Unlock()
	return e.in.pop()
}

// Send implements Transport. A Send to a server that is not running, or
// across a partition, loses the message and the sender is told Broken. A
// Send between a learner and a server that is not its upstream (nor it
// theirs) is dropped, as TCP drops a Send to an unknown peer.
func (e *MemTransport) Send(to uint64, m zab.Message) {
	nw := e.nw
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if e.closed || to == e.id || to == 0 || e.in.untold(to) || !nw.allowedL(e.id, to) {
		return
	}
	m.From, m.To = e.id, to
	if m.Blob != nil {
		m.Blob = memBlob{m.Blob}
	}
	dst := nw.eps[to]
	if dst == nil || !nw.reachableL(e.id, to) {
		nw.breakPairL(e.id, to, e.id)
		return
	}
	d := dirKey{e.id, to}
	n := msgSize(&m)
	if q := nw.inflight[d] + dst.in.from[e.id]; q > 0 && q+n > nw.queueBytes {
		nw.breakPairL(e.id, to, e.id)
		return
	}
	nw.live[pairOf(e.id, to)] = true
	if nw.delay == 0 {
		dst.in.pushMsg(m)
		return
	}
	nw.inflight[d] += n
	nw.enqueueL(memEnv{d: d, gen: nw.gens[d], m: m, dst: dst})
}

// CloseStream implements Transport.
func (e *MemTransport) CloseStream(peer uint64) {
	nw := e.nw
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if e.closed {
		return
	}
	e.in.purge(peer)
	k := pairOf(e.id, peer)
	if e.in.untold(peer) || !nw.live[k] {
		return
	}
	delete(nw.live, k)
	nw.gens[dirKey{peer, e.id}]++ // what the peer sent is discarded
	dst := nw.eps[peer]
	if dst == nil {
		return
	}
	dst.in.owe(e.id)
	if nw.delay == 0 {
		dst.in.pushBroken(e.id)
		return
	}
	nw.enqueueL(memEnv{d: dirKey{e.id, peer}, notice: true, dst: dst})
}

// QueuedBytes reports the bytes sent to peer that it has not yet taken.
func (e *MemTransport) QueuedBytes(peer uint64) int {
	nw := e.nw
	nw.mu.Lock()
	defer nw.mu.Unlock()
	n := nw.inflight[dirKey{e.id, peer}]
	if dst := nw.eps[peer]; dst != nil {
		n += dst.in.from[e.id]
	}
	return n
}

// Close implements Transport: the endpoint stops, and every peer it had a
// stream with is told Broken.
func (e *MemTransport) Close() error {
	nw := e.nw
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if nw.eps[e.id] == e {
		delete(nw.eps, e.id)
	}
	for id, o := range nw.eps {
		k := pairOf(e.id, id)
		nw.gens[dirKey{e.id, id}]++
		nw.gens[dirKey{id, e.id}]++
		if nw.live[k] {
			delete(nw.live, k)
			o.in.owe(e.id)
			o.in.pushBroken(e.id)
		}
	}
	return nil
}
