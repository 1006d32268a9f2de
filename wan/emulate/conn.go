package emulate

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Conn is a net.PacketConn that impairs the packets it writes, per
// destination address (a link): delay, jitter, loss, a rate cap with a
// bounded queue, and cuts. Received packets are passed through unchanged,
// except that those arriving from a cut link are dropped, so a cut holds
// both ways. quic-go runs over it unchanged (as over any PacketConn that
// is not a *net.UDPConn: no GSO, ECN or path MTU discovery).
//
// Packets of one link are never reordered. Randomness (loss, jitter) comes
// from one seeded *rand.Rand, so a run with the same seed and the same
// sequence of writes makes the same decisions. Conn is safe for concurrent
// use; Close stops its two goroutines (delivery and reception) and closes
// the inner PacketConn.
type Conn struct {
	inner net.PacketConn

	mu      sync.Mutex
	rnd     *rand.Rand
	def     Spec
	links   map[string]*link
	cutAll  bool
	pending pktHeap
	seq     uint64
	timer   *time.Timer
	stats   Stats
	closed  bool

	// Reading: a goroutine reads the inner PacketConn all the time, so
	// that a cut drops packets when they arrive, not when read.
	inq       chan inPkt
	rdeadline time.Time
	dlChanged chan struct{} // closed and replaced by SetReadDeadline
	readErr   error         // set before readDone is closed
	readDone  chan struct{}

	wake chan struct{}
	done chan struct{}
	// flushed is closed by deliver once it has written what was queued
	// when Close was called.
	flushed chan struct{}
	wg      sync.WaitGroup
}

type inPkt struct {
	data []byte
	from net.Addr
}

// inQueue is how many received packets wait for ReadFrom; more are
// dropped, as by a full socket buffer.
const inQueue = 4096

// Stats counts the packets a Conn handled.
type Stats struct {
	Written   uint64 // WriteTo calls
	Delivered uint64 // packets handed to the inner PacketConn
	Lost      uint64 // dropped by the Loss draw
	Overflow  uint64 // dropped because the rate limiter's queue was full
	CutOut    uint64 // written to, or due on, a cut link and dropped
	CutIn     uint64 // received from a cut link and dropped
	InDropped uint64 // received while inQueue packets waited for ReadFrom
}

// link is the state of the packets written to one destination.
type link struct {
	spec      *Spec     // nil: the Conn's default
	cut       bool      // set by CutLink
	busyUntil time.Time // when the rate limiter finishes the packets queued so far
	lastDue   time.Time // due time of the last packet queued (FIFO)
	departs   []time.Time
}

type pkt struct {
	due  time.Time
	seq  uint64
	key  string
	to   net.Addr
	data []byte
}

type pktHeap []*pkt

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(*pkt)) }
func (h *pktHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// New wraps inner; def applies to every destination without a spec of its
// own (SetLink). rnd drives loss and jitter (nil: seeded from the clock).
// The Conn owns inner from now on. def must be valid (Spec.Validate).
func New(inner net.PacketConn, def Spec, rnd *rand.Rand) (*Conn, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x656d75))
	}
	c := &Conn{
		inner:     inner,
		rnd:       rnd,
		def:       def,
		links:     map[string]*link{},
		inq:       make(chan inPkt, inQueue),
		dlChanged: make(chan struct{}),
		readDone:  make(chan struct{}),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		flushed:   make(chan struct{}),
		timer:     time.NewTimer(time.Hour),
	}
	c.timer.Stop()
	c.wg.Add(2)
	go c.deliver()
	go c.receive()
	return c, nil
}

// Listen opens a UDP socket on addr (e.g. "127.0.0.1:0") and wraps it.
func Listen(addr string, def Spec, rnd *rand.Rand) (*Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	c, err := New(uc, def, rnd)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) linkL(key string) *link {
	l := c.links[key]
	if l == nil {
		l = &link{}
		c.links[key] = l
	}
	return l
}

// SetDefault changes the spec of every link without one of its own.
func (c *Conn) SetDefault(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	c.def = s
	c.mu.Unlock()
	return nil
}

// SetLink gives the link to the destination to its own spec. Packets
// already queued keep the timing they were given.
func (c *Conn) SetLink(to net.Addr, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	c.linkL(to.String()).spec = &s
	c.mu.Unlock()
	return nil
}

// Cut drops every packet, both ways, on every link until Heal: packets
// written, packets already queued when they fall due, packets read.
func (c *Conn) Cut() { c.mu.Lock(); c.cutAll = true; c.mu.Unlock() }

// Heal ends a Cut (links cut with CutLink stay cut).
func (c *Conn) Heal() { c.mu.Lock(); c.cutAll = false; c.mu.Unlock() }

// CutLink cuts the link with one address, both ways, until HealLink.
func (c *Conn) CutLink(peer net.Addr) { c.mu.Lock(); c.linkL(peer.String()).cut = true; c.mu.Unlock() }

// HealLink ends a CutLink.
func (c *Conn) HealLink(peer net.Addr) {
	c.mu.Lock()
	c.linkL(peer.String()).cut = false
	c.mu.Unlock()
}

// Stats returns the counters so far.
func (c *Conn) Stats() Stats { c.mu.Lock(); defer c.mu.Unlock(); return c.stats }

// Close stops the goroutines and closes the inner PacketConn. Packets
// still queued (a closing QUIC connection's last CONNECTION_CLOSE among
// them) are sent at once rather than dropped, as a real socket would send
// them: a graceful close must not look like a crash to the peers. Packets
// of cut links are still dropped.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	<-c.flushed
	err := c.inner.Close() // ends receive's ReadFrom
	c.wg.Wait()
	return err
}

var _ net.PacketConn = (*Conn)(nil)
