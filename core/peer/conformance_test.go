package peer

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// The conformance suite: every test runs against TCP, Mem and Mem with a
// delivery delay (forEachFixture).

const waitLong = 10 * time.Second

// TestFIFOConcurrentSends: three servers send to each other from several
// goroutines at once; every receiver gets every sender's messages complete
// and in order, with no Broken.
func TestFIFOConcurrentSends(t *testing.T) {
	ids := []uint64{1, 2, 3}
	const perPair = 300
	forEachFixture(t, ids, 0, func(t *testing.T, f fixture) {
		seed := testSeed(t)
		eps := map[uint64]endpoint{}
		for _, id := range ids {
			eps[id] = f.start(id)
		}
		// Receivers: one driver goroutine each.
		type result struct {
			id  uint64
			evs []Event
		}
		results := make(chan result, len(ids))
		stop := make(chan struct{})
		for _, id := range ids {
			go func() {
				ep := eps[id]
				var evs []Event
				count := 0
				for count < perPair*(len(ids)-1) {
					select {
					case <-ep.Notify():
					case <-stop:
						results <- result{id, evs}
						return
					}
					for ev, ok := ep.Recv(); ok; ev, ok = ep.Recv() {
						evs = append(evs, ev)
						if ev.Msg != nil {
							count++
						}
					}
				}
				results <- result{id, evs}
			}()
		}
		// Senders: one goroutine per (from, to); sizes from the seed, with a
		// few large messages.
		var wg sync.WaitGroup
		for _, from := range ids {
			for _, to := range ids {
				if from == to {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(seed, from<<8|to))
					for seq := range int64(perPair) {
						n := rnd.IntN(512)
						if rnd.IntN(50) == 0 {
							n = 256<<10 + rnd.IntN(256<<10)
						}
						data := make([]byte, n)
						for i := range data {
							data[i] = byte(seq + int64(i))
						}
						eps[from].Send(to, zab.Message{Type: zab.MsgProposal, Zxid: seq, Data: data})
					}
				}()
			}
		}
		wg.Wait()
		timer := time.AfterFunc(waitLong, func() { close(stop) })
		defer timer.Stop()
		for range ids {
			r := <-results
			checkStreams(t, r.id, r.evs)
			for _, ev := range r.evs {
				if ev.Msg == nil {
					t.Fatalf("server %d got Broken(%d) with no fault injected", r.id, ev.Broken)
				}
			}
			if n := len(r.evs); n != perPair*(len(ids)-1) {
				t.Fatalf("server %d got %d messages, want %d: %s", r.id, n, perPair*(len(ids)-1), summarize(r.evs))
			}
		}
	})
}

// TestBrokenBeforeNewStream: streams are broken repeatedly while both ends
// send; each receiver sees the old stream's messages (a gap-free prefix),
// then Broken, then the new stream from its first message. Messages sent
// between the break and the sender being told are never delivered.
func TestBrokenBeforeNewStream(t *testing.T) {
	forEachFixture(t, []uint64{1, 2}, 0, func(t *testing.T, f fixture) {
		a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
		var lateA []int64 // (gen, seq) pairs sent by 1 after a break, before it was told
		for round := range 6 {
			for range 40 {
				a.send(2, 100)
				b.send(1, 100)
			}
			// Wait until this round's stream carries traffic both ways, so
			// that the break cuts an established stream.
			ga, gb := a.sender(2).gen, b.sender(1).gen
			a.pumpUntil(waitLong, "a message of the round", func() bool { return lastGen(a.got, 2) == gb })
			b.pumpUntil(waitLong, "a message of the round", func() bool { return lastGen(b.got, 1) == ga })
			brokeA, brokeB := a.brokens(2), b.brokens(1)
			f.breakStream(1, 2)
			if round%2 == 0 {
				g, s := a.send(2, 10) // before 1 took its Broken: must be lost
				lateA = append(lateA, g, s)
			}
			a.pumpUntil(waitLong, "Broken(2)", func() bool { return a.brokens(2) > brokeA })
			b.pumpUntil(waitLong, "Broken(1)", func() bool { return b.brokens(1) > brokeB })
		}
		// A last exchange must arrive complete on the new streams.
		var lastA, lastB int64
		for range 20 {
			_, lastA = a.send(2, 1000)
			_, lastB = b.send(1, 1000)
		}
		ga, gb := a.sender(2).gen, b.sender(1).gen
		b.pumpUntil(waitLong, "the last message from 1", func() bool { return b.has(1, ga, lastA) })
		a.pumpUntil(waitLong, "the last message from 2", func() bool { return a.has(2, gb, lastB) })
		checkStreams(t, 1, a.got)
		checkStreams(t, 2, b.got)
		for i := 0; i < len(lateA); i += 2 {
			if b.has(1, lateA[i], lateA[i+1]) {
				t.Fatalf("message gen %d seq %d, sent before the sender was told of the break, was delivered", lateA[i], lateA[i+1])
			}
		}
	})
}

func lastGen(evs []Event, from uint64) int64 {
	for i := len(evs) - 1; i >= 0; i-- {
		if m := evs[i].Msg; m != nil && m.From == from {
			return m.Epoch
		}
	}
	return -1
}

// TestGracefulCloseDeliversQueued: CloseStream delivers what was queued
// (including a large message) before the peer's Broken; the closer gets no
// Broken, discards what the peer had sent, and its next Send starts a new
// stream. Both directions, since TCP's dialer and acceptor differ.
func TestGracefulCloseDeliversQueued(t *testing.T) {
	for _, dir := range [][2]uint64{{1, 2}, {2, 1}} {
		t.Run(fmt.Sprintf("%d-closes-%d", dir[0], dir[1]), func(t *testing.T) {
			forEachFixture(t, []uint64{1, 2}, 0, func(t *testing.T, f fixture) {
				x, y := dir[0], dir[1]
				cx, cy := newDrv(t, x, f.start(x)), newDrv(t, y, f.start(y))
				// Bring the stream up both ways.
				_, s := cy.send(x, 10)
				cx.pumpUntil(waitLong, "first message", func() bool { return cx.has(y, 0, s) })
				_, s = cx.send(y, 10)
				cy.pumpUntil(waitLong, "first message", func() bool { return cy.has(x, 0, s) })
				// y sends things x will discard; x queues a burst and closes.
				for range 20 {
					cy.send(x, 50)
				}
				var last int64
				for i := range 50 {
					n := 200
					if i == 25 {
						n = 8 << 20
					}
					_, last = cx.send(y, n)
				}
				cx.ep.CloseStream(y)
				cy.pumpUntil(waitLong, "Broken after the burst", func() bool { return cy.brokens(x) > 0 })
				if !cy.has(x, 0, last) {
					t.Fatalf("the peer was told Broken before getting everything queued: %s", summarize(cy.got))
				}
				if ev := cy.got[len(cy.got)-1]; ev.Msg != nil {
					t.Fatalf("last event is %v, want Broken", ev.Msg)
				}
				checkStreams(t, y, cy.got)
				// x's next Send is a new stream y sees after its Broken; y's
				// answer (its gen 1) reaches x, which was never told Broken.
				_, s = cx.send(y, 10)
				cy.pumpUntil(waitLong, "the new stream", func() bool { return cy.has(x, 0, s) })
				_, s = cy.send(x, 10)
				cx.pumpUntil(waitLong, "the answer", func() bool { return cx.has(y, 1, s) })
				if n := cx.brokens(y); n != 0 {
					t.Fatalf("the closing side got %d Broken events: %s", n, summarize(cx.got))
				}
				for _, ev := range cx.got {
					if ev.Msg != nil && ev.Msg.Epoch == 0 && ev.Msg.Zxid > 0 {
						t.Fatalf("the closer got %v, sent on the stream it had closed", ev.Msg)
					}
				}
				checkStreams(t, x, cx.got)
				checkStreams(t, y, cy.got)
			})
		})
	}
}

// TestReconnectAfterRestart: a server restarts; its peer is told Broken,
// and then talks to the new incarnation on a fresh stream. Both the lower
// and the higher id restart (TCP: the dialer and the acceptor).
func TestReconnectAfterRestart(t *testing.T) {
	for _, victim := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("restart-%d", victim), func(t *testing.T) {
			forEachFixture(t, []uint64{1, 2}, 0, func(t *testing.T, f fixture) {
				other := 3 - victim
				s := newDrv(t, other, f.start(other))
				v := newDrv(t, victim, f.start(victim))
				_, q := s.send(victim, 10)
				v.pumpUntil(waitLong, "first message", func() bool { return v.has(other, 0, q) })
				_, q = v.send(other, 10)
				s.pumpUntil(waitLong, "first answer", func() bool { return s.has(victim, 0, q) })

				f.stop(victim)
				s.pumpUntil(waitLong, "Broken after the restart", func() bool { return s.brokens(victim) > 0 })
				checkStreams(t, other, s.got)
				s.got = nil // a new incarnation numbers from scratch
				v = newDrv(t, victim, f.start(victim))

				// Send until the new incarnation hears from us: early sends may
				// be lost while the connection comes back (we are told).
				deadline := time.Now().Add(waitLong)
				for len(v.got) == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("the restarted server heard nothing; sender got %s", summarize(s.got))
					}
					s.send(victim, 10)
					s.drain()
					timer := time.NewTimer(20 * time.Millisecond)
					select {
					case <-v.ep.Notify():
					case <-timer.C:
					}
					timer.Stop()
					v.drain()
				}
				g := s.sender(victim).gen
				var last int64
				for range 10 {
					_, last = s.send(victim, 10)
				}
				v.pumpUntil(waitLong, "the burst", func() bool { return v.has(other, g, last) })
				_, q = v.send(other, 10)
				s.pumpUntil(waitLong, "the new incarnation's answer", func() bool { return s.has(victim, 0, q) })
				checkStreams(t, victim, v.got)
				checkStreams(t, other, s.got)
			})
		})
	}
}

// TestNonReadingPeerCutOff: a sender that keeps its queue half full
// streams to a reading peer without a break; once the peer stops reading,
// the stream is broken when the sender's queue reaches the bound, which is
// never exceeded by more than one message. The peer then sees a gap-free
// prefix and Broken.
func TestNonReadingPeerCutOff(t *testing.T) {
	const bound = 256 << 10
	const msg = 32 << 10
	forEachFixture(t, []uint64{1, 2}, bound, func(t *testing.T, f fixture) {
		a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
		_, q := b.send(1, 10) // bring the stream up
		a.pumpUntil(waitLong, "first message", func() bool { return a.has(2, 0, q) })
		maxQueued := 0
		// paced sends one message once the queue is at most half full, or
		// after 300ms without that (the writer is stuck: push on).
		paced := func(reader func()) {
			deadline := time.Now().Add(300 * time.Millisecond)
			for a.ep.QueuedBytes(2) > bound/2 && time.Now().Before(deadline) {
				reader()
				time.Sleep(time.Millisecond)
			}
			a.send(2, msg)
			q := a.ep.QueuedBytes(2)
			if q > bound+msg+48 {
				t.Fatalf("queued %d bytes, bound %d", q, bound)
			}
			maxQueued = max(maxQueued, q)
			a.drain()
		}
		// Control: 8 MiB to a peer that reads.
		for range 256 {
			paced(b.drain)
		}
		_, last := a.send(2, 10)
		b.pumpUntil(waitLong, "everything", func() bool { return b.has(1, 0, last) })
		if a.brokens(2)+b.brokens(1) != 0 {
			t.Fatalf("a reading peer was cut off: %s", summarize(b.got))
		}
		// Now b stops reading.
		before := len(b.got)
		sent := 0
		for a.brokens(2) == 0 {
			if sent == 4000 { // 128 MiB: far beyond every buffer on the way
				t.Fatalf("sent %d bytes to a peer that does not read without a break (max queued %d)", sent*msg, maxQueued)
			}
			paced(func() {})
			sent++
		}
		t.Logf("stream broken after %d unread messages (%d KiB), max queued %d KiB", sent, sent*msg>>10, maxQueued>>10)
		b.pumpUntil(waitLong, "Broken(1)", func() bool { return b.brokens(1) > 0 })
		checkStreams(t, 2, b.got)
		if ev := b.got[len(b.got)-1]; ev.Msg != nil {
			t.Fatalf("last event %v, want Broken", ev.Msg)
		}
		if got := len(b.got) - before - 1; got >= sent {
			t.Fatalf("the non-reading peer got all %d messages", sent)
		}
	})
}

// TestCloseStopsGoroutines: after traffic, a break and a restart, Close
// returns with every goroutine of the transports gone (checked by
// forEachFixture's cleanup), and a closed transport drops Sends.
func TestCloseStopsGoroutines(t *testing.T) {
	ids := []uint64{1, 2, 3}
	forEachFixture(t, ids, 0, func(t *testing.T, f fixture) {
		d := map[uint64]*drv{}
		for _, id := range ids {
			d[id] = newDrv(t, id, f.start(id))
		}
		for _, x := range ids {
			for _, y := range ids {
				if x != y {
					d[x].send(y, 1000)
				}
			}
		}
		for _, id := range ids {
			d[id].pumpUntil(waitLong, "two messages", func() bool {
				n := 0
				for _, ev := range d[id].got {
					if ev.Msg != nil {
						n++
					}
				}
				return n == 2
			})
		}
		f.breakStream(1, 3)
		f.stop(2)
		f.start(2)
		f.stop(3)
		closed := f.start(3)
		closed.Close()
		closed.Send(1, zab.Message{Type: zab.MsgPing})
		if ev, ok := closed.Recv(); ok && ev.Msg != nil {
			t.Fatalf("a closed transport delivered %v", ev.Msg)
		}
	})
}
