package peer

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// --- a scripted driver

// sender numbers what one endpoint sends to one peer: Epoch is its count
// of Broken events from that peer (its stream generation), Zxid the
// sequence within it.
type sender struct {
	gen, seq int64
}

// drv drives one endpoint from the test goroutine.
type drv struct {
	t     *testing.T
	id    uint64
	ep    endpoint
	out   map[uint64]*sender
	got   []Event
	payld func(n int) []byte
}

func newDrv(t *testing.T, id uint64, ep endpoint) *drv {
	return &drv{t: t, id: id, ep: ep, out: map[uint64]*sender{}}
}

func (d *drv) sender(to uint64) *sender {
	s := d.out[to]
	if s == nil {
		s = &sender{}
		d.out[to] = s
	}
	return s
}

// send sends the next numbered message to peer, with data of n bytes.
func (d *drv) send(to uint64, n int) (gen, seq int64) {
	s := d.sender(to)
	var data []byte
	if n > 0 {
		data = make([]byte, n)
		for i := range data {
			data[i] = byte(s.seq + int64(i))
		}
	}
	d.ep.Send(to, zab.Message{Type: zab.MsgPing, Epoch: s.gen, Zxid: s.seq, Data: data})
	gen, seq = s.gen, s.seq
	s.seq++
	return gen, seq
}

// drain takes every waiting event.
func (d *drv) drain() {
	for {
		ev, ok := d.ep.Recv()
		if !ok {
			return
		}
		if ev.Msg == nil {
			s := d.sender(ev.Broken)
			s.gen, s.seq = s.gen+1, 0
		}
		d.got = append(d.got, ev)
	}
}

// pumpUntil takes events until cond holds, failing after timeout.
func (d *drv) pumpUntil(timeout time.Duration, what string, cond func() bool) {
	d.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.drain()
		if cond() {
			return
		}
		select {
		case <-d.ep.Notify():
		case <-timer.C:
			d.drain()
			if cond() {
				return
			}
			d.t.Fatalf("server %d: timed out after %v waiting for %s; got %s", d.id, timeout, what, summarize(d.got))
		}
	}
}

// has reports whether message (gen, seq) from peer was received.
func (d *drv) has(from uint64, gen, seq int64) bool {
	for _, ev := range d.got {
		if ev.Msg != nil && ev.Msg.From == from && ev.Msg.Epoch == gen && ev.Msg.Zxid == seq {
			return true
		}
	}
	return false
}

func (d *drv) brokens(from uint64) int {
	n := 0
	for _, ev := range d.got {
		if ev.Msg == nil && ev.Broken == from {
			n++
		}
	}
	return n
}

func summarize(evs []Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i == 60 {
			fmt.Fprintf(&b, " ... (%d events)", len(evs))
			break
		}
		if ev.Msg == nil {
			fmt.Fprintf(&b, " BROKEN(%d)", ev.Broken)
		} else {
			fmt.Fprintf(&b, " %d:%d/%d", ev.Msg.From, ev.Msg.Epoch, ev.Msg.Zxid)
		}
	}
	return b.String()
}

// checkStreams verifies, for every sender, the stream semantics on the
// events a receiver got: within one stream the messages follow each other
// without a gap (a new generation starts at 0); across a Broken they may
// skip ahead but never go back; data is intact.
func checkStreams(t *testing.T, receiver uint64, evs []Event) {
	t.Helper()
	type state struct {
		seen    bool
		gen     int64
		seq     int64
		brokenS bool
	}
	st := map[uint64]*state{}
	get := func(id uint64) *state {
		if st[id] == nil {
			st[id] = &state{}
		}
		return st[id]
	}
	for i, ev := range evs {
		if ev.Msg == nil {
			get(ev.Broken).brokenS = true
			continue
		}
		m := ev.Msg
		if m.To != receiver {
			t.Fatalf("event %d: message %v delivered to %d", i, m, receiver)
		}
		for j, c := range m.Data {
			if c != byte(m.Zxid+int64(j)) {
				t.Fatalf("event %d: message %v has corrupt data at byte %d", i, m, j)
			}
		}
		s := get(m.From)
		g, q := m.Epoch, m.Zxid
		ok := false
		switch {
		case !s.seen:
			ok = q == 0 // a stream is delivered from its start
		case g == s.gen && q == s.seq+1:
			ok = true
		case g > s.gen && q == 0:
			ok = true
		case s.brokenS && g == s.gen && q > s.seq:
			ok = true
		}
		if !ok {
			t.Fatalf("server %d, event %d: message from %d gen %d seq %d after gen %d seq %d (broken since: %v)\nevents:%s",
				receiver, i, m.From, g, q, s.gen, s.seq, s.brokenS, summarize(evs))
		}
		s.seen, s.gen, s.seq, s.brokenS = true, g, q, false
	}
}

// isClosedByPeer reports whether err says the other end closed or reset.
func isClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset")
}
