package emulate

import (
	"container/heap"
	"net"
	"os"
	"time"
)

func (c *Conn) cutL(key string) bool {
	if c.cutAll {
		return true
	}
	l := c.links[key]
	return l != nil && l.cut
}

// WriteTo queues a copy of p for addr and returns at once, as a UDP socket
// does (a dropped packet is not an error).
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	key := addr.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.stats.Written++
	if c.cutL(key) {
		c.stats.CutOut++
		return len(p), nil
	}
	l := c.linkL(key)
	sp := c.def
	if l.spec != nil {
		sp = *l.spec
	}
	if sp.Loss > 0 && c.rnd.Float64() < sp.Loss {
		c.stats.Lost++
		return len(p), nil
	}
	now := time.Now()
	depart := now
	if sp.Rate > 0 {
		n := 0
		for n < len(l.departs) && !l.departs[n].After(now) {
			n++
		}
		l.departs = l.departs[n:]
		limit := sp.Limit
		if limit == 0 {
			limit = DefaultLimit
		}
		if len(l.departs) >= limit {
			c.stats.Overflow++
			return len(p), nil
		}
		start := now
		if l.busyUntil.After(now) {
			start = l.busyUntil
		}
		l.busyUntil = start.Add(time.Duration(float64(len(p)*8) / float64(sp.Rate) * float64(time.Second)))
		depart = l.busyUntil
		l.departs = append(l.departs, depart)
	}
	d := sp.Delay
	if sp.Jitter > 0 {
		d += time.Duration(c.rnd.Int64N(2*int64(sp.Jitter)+1)) - sp.Jitter
		d = max(d, 0)
	}
	due := depart.Add(d)
	if due.Before(l.lastDue) {
		due = l.lastDue // FIFO per link: wait for the previous packet
	}
	l.lastDue = due
	c.seq++
	pk := &pkt{due: due, seq: c.seq, key: key, to: addr, data: append([]byte(nil), p...)}
	heap.Push(&c.pending, pk)
	if c.pending[0] == pk {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// deliver writes queued packets to the inner PacketConn when they fall due;
// once Close was called, it writes everything still queued and stops.
func (c *Conn) deliver() {
	defer c.wg.Done()
	defer close(c.flushed)
	var batch []*pkt
	for {
		c.mu.Lock()
		now := time.Now()
		if c.closed {
			now = time.Unix(1<<40, 0) // everything is due
		}
		for len(c.pending) > 0 && !c.pending[0].due.After(now) {
			pk := heap.Pop(&c.pending).(*pkt)
			if c.cutL(pk.key) {
				c.stats.CutOut++
				continue
			}
			c.stats.Delivered++
			batch = append(batch, pk)
		}
		var wait time.Duration = -1
		if len(c.pending) > 0 {
			wait = c.pending[0].due.Sub(now)
		}
		closed := c.closed
		c.mu.Unlock()
		for i, pk := range batch {
			c.inner.WriteTo(pk.data, pk.to) // UDP: errors are losses
			batch[i] = nil
		}
		batch = batch[:0]
		if closed {
			c.timer.Stop()
			return
		}
		if wait >= 0 {
			c.timer.Reset(wait)
		}
		select {
		case <-c.done:
			c.timer.Stop() // next round: closed, so everything queued is written
		case <-c.wake:
			c.timer.Stop()
		case <-c.timer.C:
		}
	}
}

// receive reads the inner PacketConn until it fails (Close), dropping
// the packets of cut links as they arrive.
func (c *Conn) receive() {
	defer c.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := c.inner.ReadFrom(buf)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			close(c.readDone)
			return
		}
		c.mu.Lock()
		cut := c.cutL(addr.String())
		if cut {
			c.stats.CutIn++
		}
		c.mu.Unlock()
		if cut {
			continue
		}
		select {
		case c.inq <- inPkt{data: append([]byte(nil), buf[:n]...), from: addr}:
		default:
			c.mu.Lock()
			c.stats.InDropped++
			c.mu.Unlock()
		}
	}
}

// ReadFrom returns the next packet received from a link that was not cut
// when it arrived. It honours the read deadline (os.ErrDeadlineExceeded).
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, changed := c.rdeadline, c.dlChanged
		c.mu.Unlock()
		var expired <-chan time.Time
		var timer *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		n, from, again, err := c.readOnce(p, changed, expired)
		if timer != nil {
			timer.Stop()
		}
		if !again {
			return n, from, err
		}
	}
}

// readOnce waits for a packet, a deadline change (again), the deadline,
// or the end.
func (c *Conn) readOnce(p []byte, changed <-chan struct{}, expired <-chan time.Time) (n int, from net.Addr, again bool, err error) {
	select { // a closed Conn reads nothing, even what it received before Close
	case <-c.done:
		return 0, nil, false, net.ErrClosed
	default:
	}
	select {
	case pk := <-c.inq:
		return copy(p, pk.data), pk.from, false, nil
	case <-changed:
		return 0, nil, true, nil
	case <-expired:
		return 0, nil, false, os.ErrDeadlineExceeded
	case <-c.done:
		return 0, nil, false, net.ErrClosed
	case <-c.readDone:
		select {
		case pk := <-c.inq:
			return copy(p, pk.data), pk.from, false, nil
		default:
		}
		c.mu.Lock()
		err = c.readErr
		c.mu.Unlock()
		return 0, nil, false, err
	}
}

// LocalAddr returns the inner PacketConn's address.
func (c *Conn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

// SetDeadline sets the read deadline (writes never block).
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the deadline of ReadFrom calls, including a call
// already waiting.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdeadline = t
	close(c.dlChanged)
	c.dlChanged = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline is accepted and ignored: WriteTo never blocks.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer passes through when the inner PacketConn supports it, so
// that quic-go sizes the real socket's buffer.
func (c *Conn) SetReadBuffer(n int) error {
	if s, ok := c.inner.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(n)
	}
	return nil
}

// SetWriteBuffer passes through when the inner PacketConn supports it.
func (c *Conn) SetWriteBuffer(n int) error {
	if s, ok := c.inner.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(n)
	}
	return nil
}
