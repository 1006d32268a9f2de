package wan

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// arrival is an event with its place in the order of arrival over every
// node a collector watches.
type arrival struct {
	at int
	ev Event
}

// collect takes events from several transports until want(node) events
// arrived at each, numbering them in one order of arrival.
func collect(t testing.TB, timeout time.Duration, want map[*Transport]int) map[*Transport][]arrival {
	t.Helper()
	got := map[*Transport][]arrival{}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seq := 0
	for {
		done := true
		progress := false
		for tr, n := range want {
			for len(got[tr]) < n {
				ev, ok := tr.Recv()
				if !ok {
					break
				}
				seq++
				got[tr] = append(got[tr], arrival{at: seq, ev: ev})
				progress = true
			}
			done = done && len(got[tr]) >= n
		}
		if done {
			return got
		}
		if progress {
			continue
		}
		// Wait for any of them (a ticker covers the second Notify
		// channel when there are more than two).
		var a, b <-chan struct{}
		i := 0
		for tr, n := range want {
			if len(got[tr]) >= n {
				continue
			}
			if i == 0 {
				a = tr.Notify()
			} else {
				b = tr.Notify()
			}
			i++
		}
		tick := time.NewTimer(20 * time.Millisecond)
		select {
		case <-a:
		case <-b:
		case <-tick.C:
		case <-deadline.C:
			for tr, n := range want {
				t.Errorf("node %d: %d of %d events", tr.ID(), len(got[tr]), n)
			}
			t.FailNow()
		}
		tick.Stop()
	}
}

func frameOf(lane Lane, i, size int) []byte {
	b := []byte(fmt.Sprintf("%s-%05d-", lane, i))
	for len(b) < size {
		b = append(b, byte('a'+i%26))
	}
	return b
}

// TestLanesInOrderOverLossyWAN: frames on both lanes, both ways, over 40 ms
// one-way delay and 1% loss each way, arrive complete and in order per
// lane.
func TestLanesInOrderOverLossyWAN(t *testing.T) {
	h := newHarness(t)
	const spec = "delay=40ms,jitter=2ms,loss=0.01"
	p := h.start(nodeOpts{id: 1, spec: spec})
	a := h.start(nodeOpts{id: 2, spec: spec, dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	const n = 300
	size := func(i int) int {
		if i%50 == 7 {
			return 20 << 10 // several packets
		}
		return 32 + i%200
	}
	for i := range n {
		for _, lane := range []Lane{LaneOrdered, LaneRequests} {
			a.tr.Send(1, lane, frameOf(lane, i, size(i)))
			p.tr.Send(2, lane, frameOf(lane, i, size(i)))
		}
	}
	got := collect(t, 8*time.Second, map[*Transport]int{p.tr: 2 * n, a.tr: 2 * n})
	for tr, from := range map[*Transport]uint64{p.tr: 2, a.tr: 1} {
		next := map[Lane]int{}
		for _, ar := range got[tr] {
			ev := ar.ev
			if ev.Broken || ev.From != from {
				t.Fatalf("node %d: unexpected %s", tr.ID(), describe(ev))
			}
			i := next[ev.Lane]
			if want := frameOf(ev.Lane, i, size(i)); !bytes.Equal(ev.Frame, want) {
				t.Fatalf("node %d: %s frame %d is %q, want %q", tr.ID(), ev.Lane, i, short(ev.Frame), short(want))
			}
			next[ev.Lane]++
		}
	}
	st := a.tr.Stats()[1]
	if !st.Connected || st.SmoothedRTT < 80*time.Millisecond || st.BytesSent == 0 || st.BytesReceived == 0 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("stats of the link 2->1: %+v; emulator at 2: %+v", st, a.emu.Stats())
}

// waitQueued waits until tr's inbox holds an event matching ok, without
// taking it.
func waitQueued(t testing.TB, tr *Transport, timeout time.Duration, ok func(Event) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, ev := range queued(tr) {
			if ok(ev) {
				return
			}
		}
		select {
		case <-tr.Notify():
		case <-deadline.C:
			t.Fatalf("node %d: no such event within %v (queued: %v)", tr.ID(), timeout, queued(tr))
		}
	}
}

func isBroken(from uint64) func(Event) bool {
	return func(ev Event) bool { return ev.Broken && ev.From == from }
}

// TestCutHealDropUntilTold: a cut link breaks the stream on both sides;
// frames sent before the driver took Broken are dropped, never delivered
// on the next stream; after Heal the dialer reconnects and a new stream
// works.
func TestCutHealDropUntilTold(t *testing.T) {
	h := newHarness(t)
	mod := func(c *Config) {
		c.IdleTimeout = time.Second
		c.HandshakeTimeout = time.Second
		c.ConnectWait = 6 * time.Second
	}
	p := h.start(nodeOpts{id: 1, spec: "delay=5ms", mod: mod})
	a := h.start(nodeOpts{id: 2, spec: "delay=5ms", dial: map[uint64]string{1: p.addr()}, mod: mod})
	connect(t, a, p)

	a.emu.Cut()
	waitQueued(t, a.tr, 5*time.Second, isBroken(1))
	waitQueued(t, p.tr, 5*time.Second, isBroken(2))
	// Both drivers have not taken Broken yet: these are dropped.
	a.tr.Send(1, LaneOrdered, []byte("lost-a1"))
	a.tr.Send(1, LaneRequests, []byte("lost-a2"))
	p.tr.Send(2, LaneOrdered, []byte("lost-p1"))
	if q := a.tr.Stats()[1].QueuedBytes; q != 0 {
		t.Fatalf("%d bytes queued to 1 while Broken was untold", q)
	}
	expectBroken(t, a.tr, 1, time.Second)
	expectBroken(t, p.tr, 2, time.Second)

	a.emu.Heal()
	a.tr.Send(1, LaneOrdered, []byte("after"))
	a.tr.Send(1, LaneRequests, []byte("after-req"))
	got := collect(t, 6*time.Second, map[*Transport]int{p.tr: 2})[p.tr]
	var frames []string
	for _, ar := range got {
		if ar.ev.Broken || ar.ev.From != 2 {
			t.Fatalf("node 1: unexpected %s", describe(ar.ev))
		}
		frames = append(frames, string(ar.ev.Frame))
	}
	if s := strings.Join(frames, ","); s != "after,after-req" && s != "after-req,after" {
		t.Fatalf("node 1 got %s", s)
	}
	p.tr.Send(2, LaneOrdered, []byte("reply"))
	expectFrame(t, a.tr, 1, LaneOrdered, "reply")
	if st := a.tr.Stats()[1]; st.Connections != 2 {
		t.Fatalf("connections %d, want 2", st.Connections)
	}
}

// TestCloseStreamGraceful: everything sent before CloseStream (frames on
// both lanes and a blob) is delivered, then the peer is told Broken; the
// closing side is not, and what the peer sent it is discarded; its next
// Send starts a new stream that the peer sees after its Broken.
func TestCloseStreamGraceful(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, spec: "delay=10ms"})
	a := h.start(nodeOpts{id: 2, spec: "delay=10ms", dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	for i := range 3 {
		p.tr.Send(2, LaneOrdered, []byte(fmt.Sprintf("p%d", i))) // discarded by a
	}
	const n = 200
	blob := randomBlob(256<<10, 1)
	for i := range n {
		a.tr.Send(1, LaneOrdered, frameOf(LaneOrdered, i, 64))
		a.tr.Send(1, LaneRequests, frameOf(LaneRequests, i, 64))
	}
	a.tr.SendBlob(1, []byte("last"), blob)
	a.tr.CloseStream(1)

	got := collect(t, 8*time.Second, map[*Transport]int{p.tr: 2*n + 2})[p.tr]
	next := map[Lane]int{}
	for i, ar := range got {
		ev := ar.ev
		switch {
		case i == len(got)-1:
			if !ev.Broken || ev.From != 2 {
				t.Fatalf("last event %s, want Broken(2)", describe(ev))
			}
		case ev.Blob != nil:
			if next[LaneOrdered] != n || string(ev.Frame) != "last" {
				t.Fatalf("blob %s after %d ordered frames", describe(ev), next[LaneOrdered])
			}
			checkBlob(t, ev.Blob, blob)
			next[LaneOrdered]++
		default:
			if ev.Broken || !bytes.Equal(ev.Frame, frameOf(ev.Lane, next[ev.Lane], 64)) {
				t.Fatalf("event %d: %s", i, describe(ev))
			}
			next[ev.Lane]++
		}
	}
	a.tr.Send(1, LaneOrdered, []byte("new"))
	expectFrame(t, p.tr, 2, LaneOrdered, "new")
	p.tr.Send(2, LaneOrdered, []byte("reply"))
	// a's first event: no Broken for the stream it closed, no p0..p2.
	expectFrame(t, a.tr, 1, LaneOrdered, "reply")
}

// TestSendToAcceptedPeer: a peer that dials this server is never dialed:
// a frame to it while it is not connected is lost and Broken is told at
// once (once per stream); a frame to an unknown id is dropped.
func TestSendToAcceptedPeer(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1})
	p.tr.Send(9, LaneOrdered, []byte("nobody"))
	if q := queued(p.tr); len(q) != 0 {
		t.Fatalf("events after a send to an unknown peer: %v", q)
	}
	a := h.start(nodeOpts{id: 2, dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	a.tr.Close()
	expectBroken(t, p.tr, 2, 5*time.Second)
	p.tr.Send(2, LaneOrdered, []byte("x"))
	p.tr.Send(2, LaneOrdered, []byte("y")) // dropped: Broken untold
	if q := queued(p.tr); len(q) != 1 || !q[0].Broken || q[0].From != 2 {
		t.Fatalf("queued %v, want one Broken(2)", q)
	}
	expectBroken(t, p.tr, 2, time.Second)
	if q := queued(p.tr); len(q) != 0 {
		t.Fatalf("queued %v", q)
	}
}

// TestRestartedPeerReplacesConnection: a dialer that crashed (its goodbye
// never arrived) and restarted replaces its old connection at once: the
// acceptor tells Broken for the old stream, then delivers the new one.
func TestRestartedPeerReplacesConnection(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, mod: func(c *Config) { c.IdleTimeout = 5 * time.Second }})
	tls2 := h.ca.tlsFor(t, 2)
	a := h.start(nodeOpts{id: 2, tls: tls2, dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	a.emu.Cut() // its CONNECTION_CLOSE is lost: a crash, as p sees it
	a.tr.Close()
	a2 := h.start(nodeOpts{id: 2, tls: tls2, dial: map[uint64]string{1: p.addr()}})
	a2.tr.Send(1, LaneOrdered, []byte("reborn"))
	expectBroken(t, p.tr, 2, 3*time.Second) // well before IdleTimeout
	expectFrame(t, p.tr, 2, LaneOrdered, "reborn")
	p.log.waitLine(t, time.Second, "replaced by a new connection")
}

// TestCloseStopsGoroutines: Close stops every goroutine of the transport
// (and the emulator's); quic-go's own wind down within a bounded wait.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, spec: "delay=5ms"})
	a := h.start(nodeOpts{id: 2, spec: "delay=5ms", dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	a.tr.SendBlob(1, []byte("b"), randomBlob(64<<10, 2))
	if ev := next(t, p.tr, 5*time.Second); ev.Blob == nil {
		t.Fatalf("got %s", describe(ev))
	}
	if runtime.NumGoroutine() <= before {
		t.Fatal("no goroutine started?")
	}
	if err := a.tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.tr.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, b.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a count: nothing to wait on
	}
	if entries, _ := os.ReadDir(p.tr.cfg.SpoolDir); len(entries) != 0 {
		t.Fatalf("spool files left: %v", entries)
	}
}

// TestRealUDPSocket: without a PacketConn the transport opens its own UDP
// socket (quic-go sizes its buffers, warning if the OS caps them).
func TestRealUDPSocket(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, udp: true})
	a := h.start(nodeOpts{id: 2, udp: true, dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	a.tr.Send(1, LaneRequests, []byte("req"))
	expectFrame(t, p.tr, 2, LaneRequests, "req")
	p.tr.Send(2, LaneRequests, []byte("reply"))
	expectFrame(t, a.tr, 1, LaneRequests, "reply")
}
