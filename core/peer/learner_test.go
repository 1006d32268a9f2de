package peer

import (
	"fmt"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// Learner links: an observer or relay dials its upstream whatever the ids;
// the upstream accepts it without it being configured. Every test but the
// handshake ones runs against TCP and Mem.

// learnerCases: voters, the learner, its upstream. The learner's id is
// higher than its upstream's in one, lower in the other (TCP's rule among
// voters would have the other end dial).
var learnerCases = []struct {
	name              string
	voters            []uint64
	learner, upstream uint64
}{
	{"learner-higher", []uint64{1, 2}, 7, 1},
	{"learner-lower", []uint64{5, 6}, 1, 6},
}

// TestLearnerLinkBothWays: a learner reaches its upstream and they
// exchange bursts both ways, in order and complete, while the voters'
// stream carries on; a voter that is not the learner's upstream cannot
// reach it.
func TestLearnerLinkBothWays(t *testing.T) {
	for _, c := range learnerCases {
		t.Run(c.name, func(t *testing.T) {
			ids := append([]uint64{c.learner}, c.voters...)
			forEachFixture(t, ids, 0, func(t *testing.T, f fixture) {
				f.learner(c.learner, c.upstream)
				d := map[uint64]*drv{}
				for _, id := range ids {
					d[id] = newDrv(t, id, f.start(id))
				}
				lr, up := d[c.learner], d[c.upstream]
				other := c.voters[0] + c.voters[1] - c.upstream
				// The learner speaks first (its upstream does not know it yet).
				var last int64
				for range 50 {
					_, last = lr.send(c.upstream, 300)
				}
				up.pumpUntil(waitLong, "the learner's burst", func() bool { return up.has(c.learner, 0, last) })
				for range 50 {
					_, last = up.send(c.learner, 300)
				}
				// A voter that is not the upstream: dropped, nobody told.
				d[other].send(c.learner, 10)
				lr.pumpUntil(waitLong, "the upstream's burst", func() bool { return lr.has(c.upstream, 0, last) })
				_, last = d[other].send(c.upstream, 10)
				up.pumpUntil(waitLong, "the other voter's message", func() bool { return up.has(other, 0, last) })
				for _, x := range []*drv{lr, up} {
					checkStreams(t, x.id, x.got)
				}
				for _, ev := range lr.got {
					if ev.Msg == nil || ev.Msg.From != c.upstream {
						t.Fatalf("the learner got %s, want only its upstream's messages", summarize(lr.got))
					}
				}
				d[other].drain()
				if n := len(d[other].got); n != 0 {
					t.Fatalf("the other voter got %s", summarize(d[other].got))
				}
				if n := len(up.got); n != 51 {
					t.Fatalf("the upstream got %d events: %s", n, summarize(up.got))
				}
			})
		})
	}
}

// TestLearnerRestarts: when the upstream restarts, the learner is told
// Broken and reaches the new incarnation on a fresh stream. When the
// learner stops, the upstream is told Broken; a Send to the learner while
// it is away is lost with Broken at once (nothing would carry it); once it
// is back and has spoken, both ways work again.
func TestLearnerRestarts(t *testing.T) {
	for _, c := range learnerCases {
		t.Run(c.name, func(t *testing.T) {
			ids := append([]uint64{c.learner}, c.voters...)
			forEachFixture(t, ids, 0, func(t *testing.T, f fixture) {
				f.learner(c.learner, c.upstream)
				lr := newDrv(t, c.learner, f.start(c.learner))
				up := newDrv(t, c.upstream, f.start(c.upstream))
				exchange(t, lr, up)

				// The upstream restarts.
				f.stop(c.upstream)
				lr.pumpUntil(waitLong, "Broken after the upstream stopped", func() bool { return lr.brokens(c.upstream) == 1 })
				up = newDrv(t, c.upstream, f.start(c.upstream))
				lr.got = nil
				reach(t, lr, up)
				exchange(t, lr, up)
				checkStreams(t, c.learner, lr.got)
				checkStreams(t, c.upstream, up.got)

				// The learner stops.
				f.stop(c.learner)
				up.pumpUntil(waitLong, "Broken after the learner stopped", func() bool { return up.brokens(c.learner) == 1 })
				up.send(c.learner, 10)
				up.pumpUntil(waitLong, "Broken at once for a Send to the absent learner", func() bool { return up.brokens(c.learner) == 2 })
				lr = newDrv(t, c.learner, f.start(c.learner))
				up.got = nil
				reach(t, lr, up)
				exchange(t, lr, up)
				checkStreams(t, c.learner, lr.got)
				checkStreams(t, c.upstream, up.got)
			})
		})
	}
}

// exchange has a burst go from a to b and one from b to a on the current
// streams.
func exchange(t *testing.T, a, b *drv) {
	t.Helper()
	var last int64
	for range 10 {
		_, last = a.send(b.id, 100)
	}
	g := a.sender(b.id).gen
	b.pumpUntil(waitLong, fmt.Sprintf("%d's burst", a.id), func() bool { return b.has(a.id, g, last) })
	for range 10 {
		_, last = b.send(a.id, 100)
	}
	g = b.sender(a.id).gen
	a.pumpUntil(waitLong, fmt.Sprintf("%d's burst", b.id), func() bool { return a.has(b.id, g, last) })
}

// reach has learner lr send to up until up hears from it (the first Sends
// may be lost, with lr told, while the connection comes up).
func reach(t *testing.T, lr, up *drv) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	heard := func() bool {
		for _, ev := range up.got {
			if ev.Msg != nil && ev.Msg.From == lr.id {
				return true
			}
		}
		return false
	}
	for !heard() {
		if time.Now().After(deadline) {
			t.Fatalf("upstream %d never heard from learner %d; learner got %s", up.id, lr.id, summarize(lr.got))
		}
		lr.send(up.id, 10)
		lr.drain()
		timer := time.NewTimer(20 * time.Millisecond)
		select {
		case <-up.ep.Notify():
		case <-timer.C:
		}
		timer.Stop()
		up.drain()
	}
}

// TestTCPLearnerAcceptance: real transports. Without AcceptLearners the
// upstream refuses the learner (logged; the learner's message is lost
// with Broken after ConnectWait; the upstream sees nothing); with it the
// same learner connects.
func TestTCPLearnerAcceptance(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept=%v", accept), func(t *testing.T) {
			up, upSink := startOne(t, 3, nil, func(c *TCPConfig) { c.AcceptLearners = accept })
			lr, _ := startOne(t, 9, nil, func(c *TCPConfig) {
				c.Upstreams = map[uint64]string{3: up.Addr().String()}
				c.ConnectWait = 500 * time.Millisecond
			})
			dl, du := newDrv(t, 9, lr), newDrv(t, 3, up)
			_, s := dl.send(3, 10)
			if !accept {
				dl.pumpUntil(waitLong, "Broken(3)", func() bool { return dl.brokens(3) == 1 })
				waitFor(t, waitLong, "the refusal logged", func() bool {
					return upSink.contains("refusing connection", "server 9 is not a configured peer")
				})
				noEvents(t, up)
				return
			}
			du.pumpUntil(waitLong, "the learner's message", func() bool { return du.has(9, 0, s) })
			_, s = du.send(9, 10)
			dl.pumpUntil(waitLong, "the answer", func() bool { return dl.has(3, 0, s) })
		})
	}
}

// TestTCPLearnerHandshakeRules: with AcceptLearners, an unknown id is
// answered and becomes a peer for as long as it is connected; its own id,
// an upstream's id and a voter that must be dialed are still refused.
// After the learner's connection ends: Broken, then Sends to it are lost
// with Broken at once until it connects again.
func TestTCPLearnerHandshakeRules(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	tr, sink := startOne(t, 2, map[uint64]string{3: "127.0.0.1:1"}, func(c *TCPConfig) {
		c.AcceptLearners = true
		c.Upstreams = map[uint64]string{8: "127.0.0.1:1"}
		c.ConnectWait = time.Hour
	})
	for name, h := range map[string]hello{"self": good(2, 2), "upstream": good(8, 2), "higher": good(3, 2), "zero": good(0, 2)} {
		t.Run(name, func(t *testing.T) {
			expectClosed(t, rawPeer(t, tr.Addr().String(), h))
		})
	}
	if !sink.contains("refusing connection", "server 8 is an upstream") {
		t.Fatal("no log line for the upstream dialing in")
	}
	d := newDrv(t, 2, tr)
	for round := range int64(2) {
		c := rawPeer(t, tr.Addr().String(), good(7, 2))
		if h := readHello(t, c); h.From != 2 || h.To != 7 {
			t.Fatalf("answer %+v", h)
		}
		c.Write(frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 7, To: 2, Epoch: round})))
		d.pumpUntil(waitLong, "the learner's message", func() bool { return d.has(7, round, 0) })
		gen, seq := d.send(7, 5)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		fr := frameReader{r: c, max: 1 << 20}
		body, err := fr.next()
		if err != nil {
			t.Fatal(err)
		}
		if m, err := zab.Unmarshal(body); err != nil || m.From != 2 || m.To != 7 || m.Epoch != gen || m.Zxid != seq {
			t.Fatalf("got %v, %v", m, err)
		}
		c.Close()
		d.pumpUntil(waitLong, "Broken(7)", func() bool { return d.brokens(7) == 2*int(round)+1 })
		d.send(7, 5) // no connection: lost, told at once
		d.pumpUntil(waitLong, "Broken(7) for the lost Send", func() bool { return d.brokens(7) == 2*int(round)+2 })
		if q := tr.QueuedBytes(7); q != 0 {
			t.Fatalf("%d bytes queued to a learner that is away", q)
		}
	}
	checkStreams(t, 2, d.got)
	noEvents(t, tr)
}

// TestLearnerRelayChain: an observer dials a relay, which dials the
// leader and accepts the observer: each link carries both ways; the
// observer cannot reach the leader directly.
func TestLearnerRelayChain(t *testing.T) {
	const leader, voter, relay, observer = 2, 3, 5, 1
	forEachFixture(t, []uint64{leader, voter, relay, observer}, 0, func(t *testing.T, f fixture) {
		f.learner(relay, leader)
		f.learner(observer, relay)
		d := map[uint64]*drv{}
		for _, id := range []uint64{leader, voter, relay, observer} {
			d[id] = newDrv(t, id, f.start(id))
		}
		d[observer].send(leader, 10) // not its upstream: dropped
		exchange(t, d[relay], d[leader])
		exchange(t, d[observer], d[relay])
		exchange(t, d[voter], d[leader])
		for id, x := range d {
			checkStreams(t, id, x.got)
			x.drain()
			if n := len(x.got); n != 10 && n != 20 {
				t.Fatalf("server %d got %s", id, summarize(x.got))
			}
		}
		if d[leader].brokens(observer)+d[observer].brokens(leader) != 0 {
			t.Fatal("a Broken between the observer and the leader")
		}
	})
}

// TestMemLearnerUpstreamChange: a Mem learner talks to its upstream only;
// naming another upstream breaks the old stream (both told) and opens the
// new pair.
func TestMemLearnerUpstreamChange(t *testing.T) {
	nw := NewMemNetwork()
	t.Cleanup(func() { nw.Close(); checkNoLeaks(t) })
	lr := newDrv(t, 9, nw.Learner(9, 1))
	a, b := newDrv(t, 1, nw.Transport(1)), newDrv(t, 2, nw.Transport(2))
	lr.send(2, 5) // not its upstream
	b.send(9, 5)
	delete(lr.out, 2) // those were never on a stream: number afresh
	delete(b.out, 9)
	exchange(t, lr, a)
	b.drain()
	if len(b.got) != 0 || lr.brokens(2) != 0 || b.brokens(9) != 0 {
		t.Fatalf("learner events %s, server 2's %s", summarize(lr.got), summarize(b.got))
	}
	if ep := nw.Learner(9, 2); ep != lr.ep {
		t.Fatal("Learner restarted a running endpoint")
	}
	lr.pumpUntil(waitLong, "Broken(1)", func() bool { return lr.brokens(1) == 1 })
	a.pumpUntil(waitLong, "Broken(9)", func() bool { return a.brokens(9) == 1 })
	exchange(t, lr, b)
	a.send(9, 5)
	a.drain()
	if n := a.brokens(9); n != 1 {
		t.Fatalf("the old upstream got %d Broken events", n)
	}
	for _, x := range []*drv{lr, a, b} {
		checkStreams(t, x.id, x.got)
	}
}
