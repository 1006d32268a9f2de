package wan

import (
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSendOneByOne: the cost (both ends, in this process) of frames
// sent one at a time, as a leader sends INFORMs at a modest write rate:
// each frame its own batch, flush and QUIC packet. cpu-µs/frame is the
// process's user+system CPU per frame.
func BenchmarkSendOneByOne(b *testing.B) {
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			h := newHarness(b)
			mod := func(c *Config) { c.Compress = compress }
			p := h.start(nodeOpts{id: 1, udp: true, mod: mod})
			a := h.start(nodeOpts{id: 2, udp: true, dial: map[uint64]string{1: p.addr()}, mod: mod})
			connect(b, a, p)
			frame := make([]byte, 190)
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rand.Read(frame[60:160])
				a.tr.Send(1, LaneOrdered, append([]byte(nil), frame...))
				if ev := next(b, p.tr, 5*time.Second); ev.Broken {
					b.Fatal("broken")
				}
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/frame")
		})
	}
}
