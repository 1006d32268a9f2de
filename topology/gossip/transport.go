package gossip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// serverHandshakeTimeout bounds an inbound stream's TLS handshake and mode
// byte: a peer that connects and says nothing holds a goroutine that long.
const serverHandshakeTimeout = 5 * time.Second

// tlsTransport is memberlist's transport when the pools have certificate
// identity: memberlist's own NetTransport underneath, its packets (UDP,
// protected by the gossip key) as they are, its streams (joins, state
// exchanges, fallback pings: what lets a node into a pool) in mutual TLS.
type tlsTransport struct {
	inner  *memberlist.NetTransport
	id     *TLSIdentity
	log    hclog.Logger
	server *tls.Config

	streamCh  chan net.Conn // TLS streams for memberlist
	closing   chan struct{} // closed when Shutdown starts
	innerDone chan struct{} // closed once the inner transport has stopped
	wg        sync.WaitGroup
	once      sync.Once

	mu      sync.Mutex
	stopped bool
	pending map[net.Conn]struct{} // inbound connections before their mode byte

	refused atomic.Int64 // inbound handshakes refused (not merely cut off); tests wait on it
}

var _ memberlist.NodeAwareTransport = (*tlsTransport)(nil)

// newTLSTransport listens on host:port (TCP and UDP) like memberlist's
// default transport.
func newTLSTransport(host string, port int, id *TLSIdentity, log hclog.Logger) (*tlsTransport, error) {
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	})
	if err != nil {
		return nil, err
	}
	t := &tlsTransport{
		inner: inner, id: id, log: log, server: id.serverConfig(),
		streamCh: make(chan net.Conn), closing: make(chan struct{}), innerDone: make(chan struct{}),
		pending: map[net.Conn]struct{}{},
	}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// FinalAdvertiseAddr, WriteTo, WriteToAddress and PacketCh are the inner
// transport's: packets are not wrapped.
func (t *tlsTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}
func (t *tlsTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.inner.WriteTo(b, addr)
}
func (t *tlsTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.inner.WriteToAddress(b, a)
}
func (t *tlsTransport) PacketCh() <-chan *memberlist.Packet { return t.inner.PacketCh() }
func (t *tlsTransport) StreamCh() <-chan net.Conn           { return t.streamCh }

// boundPort is the port the inner transport listens on (the one it picked
// when asked for port 0).
func (t *tlsTransport) boundPort() int { return t.inner.GetAutoBindPort() }

func (t *tlsTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a memberlist stream to a: TCP, then TLS within
// timeout. When memberlist names the member it dials (all but joins by
// address), the acceptor's certificate must name the id the member's name
// does: a node gossiping someone else's id cannot take part in its state
// exchanges or fallback pings.
func (t *tlsTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	var want uint64
	if a.Name != "" {
		var err error
		if want, err = idOfName(a.Name); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(timeout)
	raw, err := t.inner.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	raw = t.id.wrap(raw)
	check := func(got uint64) error {
		if a.Name != "" && got != want {
			return fmt.Errorf("%w: %s (member %q, node %d) presents the certificate of node %d", errIdentity, a.Addr, a.Name, want, got)
		}
		return nil
	}
	conn, _, err := t.id.clientHandshake(context.Background(), raw, deadline, modeMemberlist, check)
	return conn, err
}

// accept hands each inbound TCP connection to its own handshake. It drains
// the inner transport until that has stopped: the inner listener blocks
// on an unread channel, and its Shutdown waits for it.
func (t *tlsTransport) accept() {
	defer t.wg.Done()
	for {
		select {
		case raw := <-t.inner.StreamCh():
			if !t.track(raw) {
				raw.Close()
				continue
			}
			t.wg.Add(1)
			go t.serve(raw)
		case <-t.innerDone:
			return
		}
	}
}

// track records an inbound connection until its mode byte, so that
// Shutdown can cut a handshake short; false once Shutdown has begun.
func (t *tlsTransport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.pending[c] = struct{}{}
	return true
}

func (t *tlsTransport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.pending, c)
	t.mu.Unlock()
}

// serve runs the server side of one inbound stream: the handshake and the
// mode byte within serverHandshakeTimeout, then a memberlist stream goes
// to memberlist and an identity probe is closed (its handshake showed the
// certificate, which is all it came for).
func (t *tlsTransport) serve(raw net.Conn) {
	defer t.wg.Done()
	defer t.untrack(raw)
	from := raw.RemoteAddr().String()
	conn := tls.Server(t.id.wrap(raw), t.server)
	if err := raw.SetDeadline(time.Now().Add(serverHandshakeTimeout)); err != nil {
		raw.Close()
		return
	}
	if err := conn.Handshake(); err != nil {
		raw.Close()
		if cutOff(err) {
			t.log.Debug("gossip stream: TLS handshake failed", "remote", from, "error", err)
		} else {
			t.refused.Add(1)
			t.log.Warn("gossip stream refused: TLS handshake failed", "remote", from, "error", err)
		}
		return
	}
	var mode [1]byte
	if _, err := io.ReadFull(conn, mode[:]); err != nil {
		t.log.Debug("gossip stream: no mode byte", "remote", from, "error", err)
		conn.Close()
		return
	}
	switch mode[0] {
	case modeMemberlist:
		if err := raw.SetDeadline(time.Time{}); err != nil {
			conn.Close()
			return
		}
		select {
		case t.streamCh <- conn: // memberlist owns it now
		case <-t.closing:
			conn.Close()
		}
	case modeIdentity:
		conn.Close()
	default:
		t.log.Warn("gossip stream refused: unknown mode", "remote", from, "mode", mode[0])
		conn.Close()
	}
}

// cutOff tells a peer that went away or was slow (debug: a node that
// stops mid-handshake, or Shutdown) from a handshake that failed (warn:
// a certificate one side refused, or no zoogate node). A refusal by the
// peer arrives as a TLS alert, which crypto/tls wraps in a net.OpError:
// hence a list of the errors that mean "cut off", not a test for
// net.Error.
func cutOff(err error) bool {
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, os.ErrDeadlineExceeded, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Shutdown stops the listeners and every handshake under way, and returns
// once all the transport's goroutines have ended.
func (t *tlsTransport) Shutdown() error {
	var err error
	t.once.Do(func() {
		close(t.closing)
		t.mu.Lock()
		t.stopped = true
		for c := range t.pending {
			c.Close()
		}
		t.mu.Unlock()
		err = t.inner.Shutdown() // accept still drains meanwhile
		close(t.innerDone)
		t.wg.Wait()
	})
	return err
}
