package emulate

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func listen(t *testing.T, spec string, seed uint64) *Conn {
	t.Helper()
	sp, err := ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Listen("127.0.0.1:0", sp, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Bursts of a few hundred packets overflow the default socket buffer
	// of 208 KiB on a busy machine (the kernel caps this at rmem_max).
	if err := c.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	return c
}

func packet(i, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(b, uint64(i))
	return b
}

// readN reads n packets (or fails after timeout) and returns their
// sequence numbers with their arrival times.
func readN(t *testing.T, c net.PacketConn, n int, timeout time.Duration) ([]int, []time.Time) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	var seqs []int
	var at []time.Time
	buf := make([]byte, 2048)
	for len(seqs) < n {
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(seqs), n, err)
		}
		seqs = append(seqs, int(binary.BigEndian.Uint64(buf[:k])))
		at = append(at, time.Now())
	}
	return seqs, at
}

// TestDelayJitterKeepOrder: with jitter, packets of one link still arrive
// in order, none earlier than Delay-Jitter after they were written.
func TestDelayJitterKeepOrder(t *testing.T) {
	a := listen(t, "delay=30ms,jitter=10ms", 1)
	b := listen(t, "", 2)
	const n = 300
	start := time.Now()
	for i := range n {
		a.WriteTo(packet(i, 100), b.LocalAddr())
	}
	seqs, at := readN(t, b, n, 5*time.Second)
	for i, s := range seqs {
		if s != i {
			t.Fatalf("packet %d arrived as number %d", s, i)
		}
	}
	if d := at[0].Sub(start); d < 20*time.Millisecond {
		t.Fatalf("first packet after %v, want >= 20ms", d)
	}
	if st := a.Stats(); st.Delivered != n || st.Written != n {
		t.Fatalf("stats %+v", st)
	}
}

// TestLossIsReproducible: the same seed drops the same packets.
func TestLossIsReproducible(t *testing.T) {
	run := func() []int {
		a := listen(t, "loss=0.3", 42)
		b := listen(t, "", 3)
		const n = 400
		for i := range n {
			a.WriteTo(packet(i, 50), b.LocalAddr())
		}
		waitStat(t, a, func(s Stats) bool { return s.Lost+s.Delivered == n })
		st := a.Stats()
		if st.Lost == 0 {
			t.Fatalf("stats %+v", st)
		}
		seqs, _ := readN(t, b, int(st.Delivered), 5*time.Second)
		return seqs
	}
	first, second := run(), run()
	if len(first) != len(second) {
		t.Fatalf("%d then %d packets", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("runs differ at %d: %d vs %d", i, first[i], second[i])
		}
	}
}

// TestRateAndLimit: a rate cap paces packets out (the last of 50 KB at
// 800 kbit/s cannot arrive before ~0.5 s) and a full queue drops packets.
func TestRateAndLimit(t *testing.T) {
	a := listen(t, "rate=800kbit", 4)
	b := listen(t, "", 5)
	start := time.Now()
	for i := range 50 {
		a.WriteTo(packet(i, 1000), b.LocalAddr())
	}
	_, at := readN(t, b, 50, 5*time.Second)
	if d := at[49].Sub(start); d < 450*time.Millisecond {
		t.Fatalf("50 KB at 100 KB/s took %v", d)
	}

	c := listen(t, "rate=80kbit,limit=10", 6)
	for i := range 50 {
		c.WriteTo(packet(i, 1000), b.LocalAddr())
	}
	if st := c.Stats(); st.Overflow < 30 || st.Overflow > 40 { // 10 queued, the rest dropped
		t.Fatalf("stats %+v", st)
	}
}

// TestCutBothWays: while cut, nothing goes out and nothing comes in (even
// if read after Heal); after Heal traffic flows again.
func TestCutBothWays(t *testing.T) {
	a := listen(t, "", 7)
	b := listen(t, "", 8)
	a.Cut()
	a.WriteTo(packet(1, 10), b.LocalAddr()) // dropped going out
	b.WriteTo(packet(2, 10), a.LocalAddr()) // dropped coming in
	waitStat(t, a, func(s Stats) bool { return s.CutIn == 1 && s.CutOut == 1 })
	a.Heal()
	a.CutLink(b.LocalAddr())
	b.WriteTo(packet(3, 10), a.LocalAddr())
	waitStat(t, a, func(s Stats) bool { return s.CutIn == 2 })
	a.HealLink(b.LocalAddr())
	b.WriteTo(packet(4, 10), a.LocalAddr())
	a.WriteTo(packet(5, 10), b.LocalAddr())
	if seqs, _ := readN(t, a, 1, 2*time.Second); seqs[0] != 4 {
		t.Fatalf("a read packet %d, want 4", seqs[0])
	}
	if seqs, _ := readN(t, b, 1, 2*time.Second); seqs[0] != 5 {
		t.Fatalf("b read packet %d, want 5", seqs[0])
	}
}

func waitStat(t *testing.T, c *Conn, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !ok(c.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", c.Stats())
		}
		time.Sleep(time.Millisecond) // the receive goroutine counts asynchronously
	}
}

// TestDeadlineAndClose: a read deadline set while ReadFrom waits wakes it
// (quic-go relies on this to stop its reader); Close stops the goroutines.
func TestDeadlineAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	a := listen(t, "delay=1s", 9)
	a.WriteTo(packet(1, 10), a.LocalAddr()) // still queued at Close
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.ReadFrom(make([]byte, 100))
		errc <- err
	}()
	a.SetReadDeadline(time.Now())
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom after Close: %v", err)
	}
	if _, err := a.WriteTo([]byte("x"), a.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before { // the reading goroutine above exits too
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloseSendsWhatIsQueued: packets written just before Close (a closing
// QUIC connection's last CONNECTION_CLOSE) still reach the peer, so a
// graceful close does not look like a crash; a cut link's do not.
func TestCloseSendsWhatIsQueued(t *testing.T) {
	sender := listen(t, "delay=300ms", 1)
	peer := listen(t, "", 2)
	cutPeer := listen(t, "", 3)
	for i := 0; i < 3; i++ {
		if _, err := sender.WriteTo(packet(i, 16), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	sender.CutLink(cutPeer.LocalAddr())
	sender.WriteTo(packet(9, 16), cutPeer.LocalAddr())
	if err := sender.Close(); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := readN(t, peer, 3, 2*time.Second); seqs[0] != 0 || seqs[2] != 2 {
		t.Fatalf("after Close the peer got %v", seqs)
	}
	cutPeer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := cutPeer.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatal("a packet of a cut link was sent on Close")
	}
}
