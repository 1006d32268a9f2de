package testport

import (
	"net"
	"strconv"
	"testing"

	"github.com/zoogate/zoogate/internal/netfree"
)

// TestAddrIsFreeUniqueAndOutsideTheEphemeralRange: every address binds,
// none repeats, and none lies in the range port-0 listeners draw from.
func TestAddrIsFreeUniqueAndOutsideTheEphemeralRange(t *testing.T) {
	from, to := candidates()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		addr := Addr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		if n < from || n >= to {
			t.Fatalf("%s outside %d–%d", addr, from, to-1)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s does not bind: %v", addr, err)
		}
		l.Close()
	}
	eph, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer eph.Close()
	if p := eph.Addr().(*net.TCPAddr).Port; p >= from && p < to {
		t.Fatalf("a port-0 listener got %d, inside the range handed out (%d–%d)", p, from, to-1)
	}
}

// TestTakenPortIsSkipped: a port something listens on is never handed out.
func TestTakenPortIsSkipped(t *testing.T) {
	addr := Addr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	handedOut.Delete(addr) // make it a candidate again
	if netfree.Free(addr) {
		t.Fatalf("netfree.Free(%s) while listening on it", addr)
	}
}
