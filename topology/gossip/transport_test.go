package gossip

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/zoogate/zoogate/internal/testport"
)

func startTransport(t *testing.T, id *TLSIdentity) (*tlsTransport, string) {
	t.Helper()
	addr := testport.Addr(t)
	host, port, _ := splitHostPort(addr)
	tr, err := newTLSTransport(host, port, id, testLog(t, "transport"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown() })
	return tr, addr
}

// stream reads what the next memberlist stream the transport accepts
// carries, up to n bytes.
func stream(t *testing.T, tr *tlsTransport, n int) string {
	t.Helper()
	select {
	case c := <-tr.StreamCh():
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	case <-time.After(5 * time.Second):
		t.Fatal("no stream delivered")
	}
	return ""
}

// TestTransportChecksTheDialedName: a dial that names member 5 and meets
// node 7's certificate fails with both ids; one naming node 7, in the
// LAN or the WAN form, or no one, carries a memberlist stream.
func TestTransportChecksTheDialedName(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "deployment")
	server, addr := startTransport(t, ca.identity(t, 7))
	client, _ := startTransport(t, ca.identity(t, 1))

	_, err := client.DialAddressTimeout(memberlist.Address{Addr: addr, Name: "5"}, 5*time.Second)
	if !errors.Is(err, errIdentity) || !strings.Contains(err.Error(), "node 5") || !strings.Contains(err.Error(), "node 7") {
		t.Fatalf("dialing member 5 at node 7: %v, want an identity error naming both", err)
	}
	for _, name := range []string{"7", "7.eu", ""} {
		c, err := client.DialAddressTimeout(memberlist.Address{Addr: addr, Name: name}, 5*time.Second)
		if err != nil {
			t.Fatalf("dialing %q: %v", name, err)
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if got := stream(t, server, 4); got != "ping" {
			t.Fatalf("dialing %q: the server read %q", name, got)
		}
		c.Close()
	}
	if _, err := client.DialAddressTimeout(memberlist.Address{Addr: addr, Name: "x"}, time.Second); err == nil {
		t.Fatal("a member name without an id was dialed")
	}

	// An identity probe shows the certificate and is not memberlist's.
	id, err := client.id.probeIdentity(context.Background(), addr, 5*time.Second)
	if err != nil || id != 7 {
		t.Fatalf("probe: id %d, %v; want 7", id, err)
	}
	c, err := client.DialAddressTimeout(memberlist.Address{Addr: addr, Name: "7"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("next"))
	if got := stream(t, server, 4); got != "next" {
		t.Fatalf("after a probe the server delivered a stream carrying %q", got)
	}
	c.Close()
}

// TestTransportRefusesAnotherCA: certificates of another CA fail both as
// client and as server, and nothing reaches memberlist.
func TestTransportRefusesAnotherCA(t *testing.T) {
	t.Parallel()
	ca, foreign := newTestCA(t, "deployment"), newTestCA(t, "another deployment")
	server, addr := startTransport(t, ca.identity(t, 7))
	stranger, strangerAddr := startTransport(t, foreign.identity(t, 7))

	if _, err := stranger.DialAddressTimeout(memberlist.Address{Addr: addr, Name: "7"}, 5*time.Second); !errors.Is(err, errIdentity) {
		t.Fatalf("a node of another CA dialing: %v, want an identity error", err)
	}
	if _, err := server.DialAddressTimeout(memberlist.Address{Addr: strangerAddr}, 5*time.Second); !errors.Is(err, errIdentity) {
		t.Fatalf("dialing a node of another CA: %v, want an identity error", err)
	}
	waitFor(t, "both servers refuse a handshake", 5*time.Second, func() bool {
		return server.refused.Load() > 0 && stranger.refused.Load() > 0
	})
	select {
	case c := <-server.StreamCh():
		t.Fatalf("a stream from %s reached memberlist", c.RemoteAddr())
	default:
	}
}

// TestTransportShutdownCutsHandshakes: a peer that connects and says
// nothing does not hold Shutdown for the handshake timeout.
func TestTransportShutdownCutsHandshakes(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "deployment")
	tr, addr := startTransport(t, ca.identity(t, 7))
	mute, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	waitFor(t, "the mute connection is in its handshake", 5*time.Second, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.pending) == 1
	})
	start := time.Now()
	if err := tr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= serverHandshakeTimeout/2 {
		t.Fatalf("Shutdown took %v with a handshake pending", took)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the transport still accepts after Shutdown")
	}
}
