package wan

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestCompressionEachWay: each side compresses or not on its own (the
// hello says which); frames of every size arrive intact on both lanes both
// ways, and a graceful close ends a compressed stream cleanly.
func TestCompressionEachWay(t *testing.T) {
	for _, tc := range []struct{ dialer, acceptor bool }{{true, false}, {false, true}, {true, true}, {false, false}} {
		t.Run(fmt.Sprintf("dialer=%v,acceptor=%v", tc.dialer, tc.acceptor), func(t *testing.T) {
			h := newHarness(t)
			p := h.start(nodeOpts{id: 1, spec: "delay=2ms", mod: func(c *Config) { c.Compress = tc.acceptor }})
			a := h.start(nodeOpts{id: 2, spec: "delay=2ms", dial: map[uint64]string{1: p.addr()}, mod: func(c *Config) { c.Compress = tc.dialer }})
			connect(t, a, p)
			big := bytes.Repeat([]byte("zoogate "), 300<<10) // 2.4 MiB, compressible
			for i, lane := range []Lane{LaneOrdered, LaneRequests} {
				msg := fmt.Sprintf("m%d", i)
				a.tr.Send(1, lane, []byte(msg))
				expectFrame(t, p.tr, 2, lane, msg)
				p.tr.Send(2, lane, []byte(msg))
				expectFrame(t, a.tr, 1, lane, msg)
			}
			a.tr.Send(1, LaneOrdered, big)
			ev := next(t, p.tr, 10*time.Second)
			if ev.Broken || !bytes.Equal(ev.Frame, big) {
				t.Fatalf("the big frame: %s", describe(ev))
			}
			st := a.tr.Stats()[1]
			if tc.dialer && st.BytesSent > uint64(len(big))/10 {
				t.Fatalf("compressing dialer sent %d bytes for a %d-byte repetitive frame", st.BytesSent, len(big))
			}
			if !tc.dialer && st.BytesSent < uint64(len(big)) {
				t.Fatalf("uncompressing dialer sent only %d bytes for %d", st.BytesSent, len(big))
			}
			a.tr.Send(1, LaneOrdered, []byte("last"))
			a.tr.CloseStream(1)
			expectFrame(t, p.tr, 2, LaneOrdered, "last")
			expectBroken(t, p.tr, 2, 5*time.Second)
			if line := p.log.find("bad frame"); line != "" {
				t.Fatalf("the acceptor logged %q", line)
			}
		})
	}
}

// TestStallBreaksAndRedials: a cut shorter than the QUIC idle timeout but
// longer than StallTimeout breaks the stream on both sides (QUIC alone
// would wait for its back-off probes); after the heal one new connection
// comes up (several attempts overlapped while the link was cut, only one
// was attached) and frames flow again.
func TestStallBreaksAndRedials(t *testing.T) {
	h := newHarness(t)
	mod := func(c *Config) {
		c.IdleTimeout = time.Minute
		c.KeepAlive = 10 * time.Second
		c.HandshakeTimeout = 20 * time.Second
		c.ConnectWait = time.Minute
		c.Heartbeat = 50 * time.Millisecond
		c.StallTimeout = 400 * time.Millisecond
		c.BackoffMin = 20 * time.Millisecond
		c.BackoffMax = 100 * time.Millisecond
	}
	p := h.start(nodeOpts{id: 1, spec: "delay=5ms", mod: mod})
	a := h.start(nodeOpts{id: 2, spec: "delay=5ms", dial: map[uint64]string{1: p.addr()}, mod: mod})
	connect(t, a, p)

	a.emu.Cut()
	expectBroken(t, a.tr, 1, 10*time.Second) // long before IdleTimeout
	expectBroken(t, p.tr, 2, 10*time.Second)
	a.log.waitLine(t, time.Second, "nothing received for")
	// Let several attempts start and hang in their handshakes.
	a.log.waitLine(t, 10*time.Second, "dial failed", "attempts=1")
	a.emu.Heal()
	a.tr.Send(1, LaneOrdered, []byte("again"))
	expectFrame(t, p.tr, 2, LaneOrdered, "again")
	p.tr.Send(2, LaneRequests, []byte("reply"))
	expectFrame(t, a.tr, 1, LaneRequests, "reply")
	if c := p.tr.Stats()[2].Connections; c != 2 {
		t.Fatalf("the acceptor attached %d connections, want 2 (one before the cut, one after)", c)
	}
	if ev, ok := tryNext(p.tr, 300*time.Millisecond); ok {
		t.Fatalf("after the reconnection the acceptor got %s", describe(ev))
	}
}

// TestHeartbeatsKeepAnIdleLink: with nothing to send, heartbeats keep a
// link under StallTimeout alive for many timeouts.
func TestHeartbeatsKeepAnIdleLink(t *testing.T) {
	h := newHarness(t)
	mod := func(c *Config) {
		c.IdleTimeout = time.Minute
		c.KeepAlive = 10 * time.Second
		c.Heartbeat = 30 * time.Millisecond
		c.StallTimeout = 200 * time.Millisecond
	}
	p := h.start(nodeOpts{id: 1, spec: "delay=20ms", mod: mod})
	a := h.start(nodeOpts{id: 2, spec: "delay=20ms", dial: map[uint64]string{1: p.addr()}, mod: mod})
	connect(t, a, p)
	// Ten stall timeouts of silence from the drivers: any break would
	// show up as a Broken event.
	if ev, ok := tryNext(p.tr, 2*time.Second); ok {
		t.Fatalf("the idle link: %s", describe(ev))
	}
	if ev, ok := tryNext(a.tr, 10*time.Millisecond); ok {
		t.Fatalf("the idle link: %s", describe(ev))
	}
	a.tr.Send(1, LaneOrdered, []byte("still"))
	expectFrame(t, p.tr, 2, LaneOrdered, "still")
	if c := a.tr.Stats()[1].Connections; c != 1 {
		t.Fatalf("%d connections, want 1", c)
	}
}
