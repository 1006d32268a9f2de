package peer

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/internal/testport"
)

// TCP-only behaviour: handshakes, bad frames, replaced connections.

// startOne starts server id of a cluster whose other members are given by
// addrs (they need not run).
func startOne(t *testing.T, id uint64, addrs map[uint64]string, tweak func(*TCPConfig)) (*TCP, *logSink) {
	t.Helper()
	log, sink := testLogger(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	all := map[uint64]string{id: ln.Addr().String()}
	for k, v := range addrs {
		all[k] = v
	}
	cfg := testTCPConfig(id, all, testSeed(t))
	cfg.Listener = ln
	if tweak != nil {
		tweak(&cfg)
	}
	tr, err := NewTCP(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, sink
}

func frame(body []byte) []byte { return append(appendFrameHeader(nil, len(body)), body...) }

// rawPeer dials addr and sends h as its hello.
func rawPeer(t *testing.T, addr string, h hello) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(frame(appendHello(nil, h))); err != nil {
		t.Fatal(err)
	}
	return c
}

// readHello reads the acceptor's answer.
func readHello(t *testing.T, c net.Conn) hello {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := frameReader{r: c, max: maxHelloLen}
	body, err := fr.next()
	if err != nil {
		t.Fatalf("no hello answer: %v", err)
	}
	h, err := decodeHello(body)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// expectClosed fails unless the other end closes c without sending
// anything.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil || !isClosedByPeer(err) {
		t.Fatalf("connection not closed by the server: n=%d err=%v", n, err)
	}
}

func good(from, to uint64) hello {
	return hello{Version: protocolVersion, From: from, To: to, Cluster: "test"}
}

// noEvents fails if tr has an event waiting.
func noEvents(t *testing.T, tr Transport) {
	t.Helper()
	if ev, ok := tr.Recv(); ok {
		t.Fatalf("unexpected event %+v (msg %v)", ev, ev.Msg)
	}
}

func TestTCPHandshakeRefused(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	addrs := map[uint64]string{1: "127.0.0.1:1", 3: "127.0.0.1:1"}
	tr, sink := startOne(t, 2, addrs, func(c *TCPConfig) { c.ConnectWait = time.Hour })
	addr := tr.Addr().String()
	cases := map[string]func(net.Conn){}
	for name, h := range map[string]hello{
		"cluster":  {Version: protocolVersion, From: 1, To: 2, Cluster: "other"},
		"version":  {Version: 9, From: 1, To: 2, Cluster: "test"},
		"receiver": good(1, 5),
		"unknown":  good(7, 2),
		"higher":   good(3, 2), // 2 dials 3, never the other way
	} {
		cases[name] = func(c net.Conn) { c.Write(frame(appendHello(nil, h))) }
	}
	cases["magic"] = func(c net.Conn) {
		b := appendHello(nil, good(1, 2))
		copy(b, "HTTP")
		c.Write(frame(b))
	}
	cases["oversize"] = func(c net.Conn) { c.Write(binary.BigEndian.AppendUint32(nil, 1<<20)) }
	cases["empty"] = func(c net.Conn) { c.Write(make([]byte, 4)) }
	cases["garbage"] = func(c net.Conn) { c.Write([]byte("GET / HTTP/1.0\r\n\r\n")) }
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			write(c)
			expectClosed(t, c)
		})
	}
	if !sink.contains("refusing connection", "cluster", "other") {
		t.Fatal("no log line for the cluster name mismatch")
	}
	noEvents(t, tr)
}

// TestTCPClusterMismatch: two real transports with different cluster names
// never connect; the sender is told Broken once ConnectWait passes, the
// receiver gets nothing, and both log why.
func TestTCPClusterMismatch(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, sinkB := startOne(t, 2, nil, func(c *TCPConfig) { c.Cluster = "blue" })
	ln.Close()
	a, sinkA := startOne(t, 1, map[uint64]string{2: b.Addr().String()}, func(c *TCPConfig) {
		c.Cluster = "green"
		c.ConnectWait = 300 * time.Millisecond
	})
	da := newDrv(t, 1, a)
	da.send(2, 10)
	da.pumpUntil(waitLong, "Broken(2)", func() bool { return da.brokens(2) > 0 })
	waitFor(t, waitLong, "log lines", func() bool {
		return sinkB.contains("refusing connection", "cluster", "green") && sinkA.contains("dial failed", "peer=2")
	})
	noEvents(t, b)
}

// establishRaw connects a raw peer 1 to tr (id 2) and has one message
// delivered over it.
func establishRaw(t *testing.T, tr *TCP, d *drv) net.Conn {
	t.Helper()
	c := rawPeer(t, tr.Addr().String(), good(1, 2))
	if h := readHello(t, c); h.From != 2 || h.To != 1 || h.Cluster != "test" {
		t.Fatalf("answer %+v", h)
	}
	c.Write(frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 2, Zxid: 0})))
	d.pumpUntil(waitLong, "the raw peer's message", func() bool { return d.has(1, 0, 0) })
	return c
}

// TestTCPBadFramesBreakOnlyThatStream: a bad frame from peer 1 breaks the
// stream with 1 (Broken, connection closed, a log line naming the peer and
// offset) while the stream with peer 3 carries on.
func TestTCPBadFramesBreakOnlyThatStream(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	ln3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	small := func(c *TCPConfig) { c.MaxFrameSize = 1 << 16 }
	two, sink := startOne(t, 2, map[uint64]string{1: "127.0.0.1:1", 3: ln3.Addr().String()}, small)
	cfg3 := testTCPConfig(3, map[uint64]string{2: two.Addr().String(), 3: ln3.Addr().String()}, 3)
	cfg3.Listener = ln3
	log3, _ := testLogger(t)
	three, err := NewTCP(cfg3, log3)
	if err != nil {
		t.Fatal(err)
	}
	defer three.Close()
	d2, d3 := newDrv(t, 2, two), newDrv(t, 3, three)

	bad := map[string][]byte{
		"empty":     make([]byte, 4),
		"oversize":  binary.BigEndian.AppendUint32(nil, 1<<20),
		"type":      frame([]byte{200, 0}),
		"trailing":  frame(append(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 2}), 0)),
		"spoofed":   frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 3, To: 2})),
		"misrouted": frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 4})),
		"truncated": binary.BigEndian.AppendUint32(nil, 100),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			d2.got = nil
			c := establishRaw(t, two, d2)
			c.Write(b)
			if name == "truncated" {
				c.(*net.TCPConn).CloseWrite()
			}
			d2.pumpUntil(waitLong, "Broken(1)", func() bool { return d2.brokens(1) > 0 })
			expectClosed(t, c)
			off := fmt.Sprintf("offset=%d", len(frame(appendHello(nil, good(1, 2))))+8)
			if !sink.contains("peer=1", off) {
				t.Fatal("no log line naming the peer and the offset")
			}
			// The stream with 3 is untouched.
			_, s := d3.send(2, 100)
			d2.pumpUntil(waitLong, "3's message", func() bool { return d2.has(3, 0, s) })
			_, s = d2.send(3, 100)
			d3.pumpUntil(waitLong, "2's message", func() bool { return d3.has(2, 0, s) })
			if d2.brokens(3)+d3.brokens(2) != 0 {
				t.Fatal("the stream with 3 broke")
			}
		})
	}
}

// TestTCPStaleConnectionReplaced: peer 1 connects again while its first
// connection is still open; the old one is reported Broken before anything
// of the new one is delivered, and is closed.
func TestTCPStaleConnectionReplaced(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	tr, _ := startOne(t, 2, map[uint64]string{1: "127.0.0.1:1"}, func(c *TCPConfig) { c.ReplaceGrace = 200 * time.Millisecond })
	d := newDrv(t, 2, tr)
	old := establishRaw(t, tr, d)
	fresh := rawPeer(t, tr.Addr().String(), good(1, 2))
	readHello(t, fresh)
	fresh.Write(frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 2, Epoch: 1})))
	// A late message on the old connection, sent after the new one exists:
	// still delivered before the Broken (the old stream is read to its end
	// or to the grace deadline).
	old.Write(frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 2, Zxid: 1})))
	d.pumpUntil(waitLong, "the new connection's message", func() bool { return d.has(1, 1, 0) })
	checkStreams(t, 2, d.got)
	want := "1:0/0 1:0/1 BROKEN(1) 1:1/0"
	if got := summarize(d.got)[1:]; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	expectClosed(t, old)
	// Messages sent to 1 now go on the new connection.
	tr.Send(1, zab.Message{Type: zab.MsgPing, Zxid: 42})
	fresh.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := frameReader{r: fresh, max: 1 << 20}
	body, err := fr.next()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := zab.Unmarshal(body); err != nil || m.Zxid != 42 || m.From != 2 || m.To != 1 {
		t.Fatalf("got %v, %v", m, err)
	}
}

// TestTCPPeerDown: messages to a peer that never comes up are dropped and
// the sender told Broken after ConnectWait; the same for the acceptor side.
func TestTCPPeerDown(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	for _, id := range []uint64{1, 3} { // dials 2 / waits for 2 to dial
		addr := testport.Addr(t) // nothing will listen there
		tr, _ := startOne(t, id, map[uint64]string{2: addr}, func(c *TCPConfig) { c.ConnectWait = 200 * time.Millisecond })
		d := newDrv(t, id, tr)
		d.send(2, 10)
		if q := tr.QueuedBytes(2); q == 0 {
			t.Fatal("nothing queued")
		}
		d.pumpUntil(waitLong, "Broken(2)", func() bool { return d.brokens(2) == 1 })
		if q := tr.QueuedBytes(2); q != 0 {
			t.Fatalf("%d bytes still queued", q)
		}
	}
}

func TestTCPSendTooLarge(t *testing.T) {
	f := newTCPFixture(t, []uint64{1, 2}, 0)
	f.tweak = func(c *TCPConfig) { c.MaxFrameSize = 1 << 16 }
	t.Cleanup(func() { f.closeAll(); checkNoLeaks(t) })
	a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
	_, s := a.send(2, 10)
	b.pumpUntil(waitLong, "first", func() bool { return b.has(1, 0, s) })
	a.send(2, 1<<17)
	a.pumpUntil(waitLong, "Broken(2)", func() bool { return a.brokens(2) == 1 })
	b.pumpUntil(waitLong, "Broken(1)", func() bool { return b.brokens(1) == 1 })
	if !f.sink.contains("stream broken", "frame too large") {
		t.Fatal("no log line")
	}
}

// TestTCPCloseDuringHandshakes: Close returns, with no goroutine left,
// while an accepted connection has not sent its hello and while a dial is
// waiting for a peer that accepts but never answers.
func TestTCPCloseDuringHandshakes(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts (kernel backlog), never answers
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	log, _ := testLogger(t)
	cfg := testTCPConfig(1, map[uint64]string{2: mute.Addr().String()}, 1)
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.HandshakeTimeout = time.Hour
	tr, err := NewTCP(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, waitLong, "both handshakes under way", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.raw) == 2
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, silent)
}

// BenchmarkTCPThroughput streams messages from 1 to 2 over loopback.
func BenchmarkTCPThroughput(b *testing.B) {
	for _, size := range []int{100, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			f := newTCPFixture(b, []uint64{1, 2}, 0)
			f.log = nil // no per-message logging in the measurement
			defer f.closeAll()
			a, r := f.start(1), f.start(2)
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			got := 0
			for i := range b.N {
				a.Send(2, zab.Message{Type: zab.MsgProposal, Zxid: int64(i), Data: data})
				for a.QueuedBytes(2) > 8<<20 { // keep the queue under its bound
					got += drainCount(r)
				}
			}
			for got < b.N {
				<-r.Notify()
				got += drainCount(r)
			}
		})
	}
}

func drainCount(tr Transport) int {
	n := 0
	for ev, ok := tr.Recv(); ok; ev, ok = tr.Recv() {
		if ev.Msg == nil {
			panic("stream broke during the benchmark")
		}
		n++
	}
	return n
}
