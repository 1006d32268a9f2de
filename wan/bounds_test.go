package wan

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSendBounds: a frame above MaxFrameSize, or a Send beyond
// MaxQueueBytes (here: queued while no connection comes up), breaks the
// stream at once; frames are then dropped until the driver takes Broken.
func TestSendBounds(t *testing.T) {
	h := newHarness(t)
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	a := h.start(nodeOpts{id: 2, dial: map[uint64]string{1: silent.LocalAddr().String()}, mod: func(c *Config) {
		c.MaxQueueBytes = 1000
		c.MaxFrameSize = 4096
	}})
	a.tr.Send(1, LaneOrdered, make([]byte, 500))
	a.tr.Send(1, LaneRequests, make([]byte, 400))
	if q := queued(a.tr); len(q) != 0 {
		t.Fatalf("queued %v", q)
	}
	a.tr.Send(1, LaneOrdered, make([]byte, 200)) // 500+400+200 + 3*48 > 1000
	a.tr.Send(1, LaneOrdered, []byte("dropped"))
	if q := queued(a.tr); len(q) != 1 || !q[0].Broken {
		t.Fatalf("queued %v, want Broken(1)", q)
	}
	expectBroken(t, a.tr, 1, time.Second)
	if st := a.tr.Stats()[1]; st.QueuedBytes != 0 || !strings.Contains(st.LastError, "send queue over 1000 bytes") {
		t.Fatalf("stats %+v", st)
	}
	a.tr.Send(1, LaneOrdered, make([]byte, 4097))
	if q := queued(a.tr); len(q) != 1 || !q[0].Broken {
		t.Fatalf("queued %v, want Broken(1)", q)
	}
	expectBroken(t, a.tr, 1, time.Second)
}

// TestInboxBound: a driver that does not Recv stops the lanes being read
// once MaxInboxBytes are waiting; nothing is lost and order holds.
func TestInboxBound(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, mod: func(c *Config) { c.MaxInboxBytes = 64 << 10 }})
	a := h.start(nodeOpts{id: 2, dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	const n = 400
	for i := range n {
		a.tr.Send(1, LaneOrdered, frameOf(LaneOrdered, i, 4096))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.tr.mu.Lock()
		bytes := p.tr.in.bytes
		p.tr.mu.Unlock()
		if bytes >= 64<<10 {
			if bytes > 64<<10+2*(4096+48) { // at most one frame over, per lane reader
				t.Fatalf("%d bytes waiting", bytes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes arrived", bytes)
		}
		<-p.tr.Notify()
	}
	got := collect(t, 5*time.Second, map[*Transport]int{p.tr: n})[p.tr]
	for i, ar := range got {
		if !bytes.Equal(ar.ev.Frame, frameOf(LaneOrdered, i, 4096)) {
			t.Fatalf("frame %d: %s", i, describe(ar.ev))
		}
	}
}
