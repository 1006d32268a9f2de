package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/internal/netfree"
)

// lowest is the smallest port handed out: below it sit well-known and
// registered services a developer may run.
const lowest = 10000

var (
	handedOut sync.Map // "127.0.0.1:port" → true
	span      struct {
		once     sync.Once
		from, to int // half-open range of candidate ports
	}
)

// candidates returns the range ports are drawn from: below the ephemeral
// range when it leaves room there (Linux's default is 32768–60999),
// above it otherwise.
func candidates() (int, int) {
	span.once.Do(func() {
		lo, hi := 32768, 60999
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
			if f := strings.Fields(string(b)); len(f) == 2 {
				a, e1 := strconv.Atoi(f[0])
				z, e2 := strconv.Atoi(f[1])
				if e1 == nil && e2 == nil && a <= z {
					lo, hi = a, z
				}
			}
		}
		switch {
		case lo-lowest >= 4096:
			span.from, span.to = lowest, lo
		case 65535-hi >= 1024:
			span.from, span.to = hi+1, 65536
		default: // no room outside: fall back to the whole non-privileged range
			span.from, span.to = lowest, 65536
		}
	})
	return span.from, span.to
}

// Addr returns "127.0.0.1:port" for a port that is free for TCP and UDP,
// outside the ephemeral range and not handed out before in this process.
func Addr(t testing.TB) string {
	t.Helper()
	addr, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Port is Addr's port number.
func Port(t testing.TB) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(Addr(t))
	n, _ := strconv.Atoi(p)
	return n
}

// Pick is Addr for code that returns errors instead of failing a test.
func Pick() (string, error) {
	from, to := candidates()
	for try := 0; try < 1000; try++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(from+rand.IntN(to-from)))
		if _, dup := handedOut.LoadOrStore(addr, true); dup {
			continue
		}
		if netfree.Free(addr) {
			return addr, nil
		}
	}
	return "", fmt.Errorf("testport: no free loopback port in %d–%d after 1000 tries", from, to-1)
}
