package wan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// dialLoop keeps one connection up to p (a peer of Config.Dial): it dials
// whenever no stream with p owns a connection, backing off after failures.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	failures, hadConn := 0, false
	log := t.log.with("peer", p.id, "addr", p.addr)
	for {
		t.mu.Lock()
		for {
			if t.closed {
				t.mu.Unlock()
				return
			}
			h := p.head()
			if h == nil || h.conn == nil {
				break
			}
			done := h.done
			t.mu.Unlock()
			select {
			case <-done:
			case <-t.done:
			}
			t.mu.Lock()
		}
		wait := t.backoffL(failures, hadConn)
		t.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-t.done:
				timer.Stop()
				return
			}
		}
		conn, ord, req, err := t.dial(p)
		t.mu.Lock()
		if err != nil {
			failures++
			hadConn = false
			if !t.closed {
				p.lastErr = err.Error()
			}
			t.mu.Unlock()
			if failures&(failures-1) == 0 { // 1, 2, 4, 8...: visible but not a flood
				log.Warn("dial failed", "attempts", failures, "error", err)
			} else {
				log.Debug("dial failed", "attempts", failures, "error", err)
			}
			continue
		}
		if t.closed {
			t.mu.Unlock()
			conn.CloseWithError(codeShutdown, "transport closing")
			return
		}
		if failures > 0 {
			log.Info("connected", "failed_attempts", failures)
		}
		t.attachL(p, conn, ord, req)
		t.mu.Unlock()
		failures, hadConn = 0, true
	}
}

// backoffL is the wait before the next dial: none for the first attempt,
// about BackoffMin after a connection ended, doubling per failure up to
// BackoffMax; jittered to between half and all of it.
func (t *Transport) backoffL(failures int, hadConn bool) time.Duration {
	if failures == 0 && !hadConn {
		return 0
	}
	d := t.cfg.BackoffMin
	for i := 1; i < failures && d < t.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.cfg.BackoffMax)
	half := d / 2
	return half + time.Duration(t.rnd.Int64N(int64(d-half)+1))
}

// dial connects to p: QUIC and TLS handshake (the acceptor proves it is p),
// then the dialer opens the ordered and the requests streams, writes a
// hello on each, and waits for the acceptor's hello on the ordered one.
func (t *Transport) dial(p *peer) (*quic.Conn, *quic.Stream, *quic.Stream, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	raddr, err := net.ResolveUDPAddr("udp", p.addr)
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := t.qt.Dial(ctx, raddr, t.clientConfig(p.id), t.dialConf)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("QUIC handshake with %s: %w", raddr, err)
	}
	// Past the handshake, reads are bounded by closing the connection.
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(codeRefused, "hello timed out") })
	fail := func(err error) (*quic.Conn, *quic.Stream, *quic.Stream, error) {
		stop()
		conn.CloseWithError(codeRefused, err.Error())
		if cause := context.Cause(conn.Context()); cause != nil && !isLocalClose(cause) && !strings.Contains(err.Error(), cause.Error()) {
			err = fmt.Errorf("%w (connection: %v)", err, cause)
		}
		return nil, nil, nil, err
	}
	var streams [2]*quic.Stream
	for i, kind := range []uint8{streamOrdered, streamRequests} {
		s, err := conn.OpenStream()
		if err != nil {
			return fail(err)
		}
		s.SetPriority(laneUrgency, true)
		h := hello{Version: wireVersion, Kind: kind, From: t.cfg.ID, To: p.id, Cluster: t.cfg.Cluster}
		if _, err := s.Write(appendHello(nil, h)); err != nil {
			return fail(fmt.Errorf("sending a hello: %w", err))
		}
		streams[i] = s
	}
	h, err := readHello(streams[0])
	if err == nil {
		err = checkHello(h, t.cfg.Cluster, p.id, t.cfg.ID, streamOrdered)
	}
	if err != nil {
		return fail(fmt.Errorf("the peer's hello: %w", err))
	}
	if !stop() {
		return fail(fmt.Errorf("%w: hello timed out", ErrHandshake))
	}
	return conn, streams[0], streams[1], nil
}

func isLocalClose(err error) bool {
	ae, ok := errors.AsType[*quic.ApplicationError](err)
	return ok && !ae.Remote
}

// acceptMark is put in the context of every incoming connection, so that
// a failed handshake (which Accept never returns) can be logged.
type acceptMark struct{ accepted atomic.Bool }

type acceptMarkKey struct{}

// connContext is quic.Transport.ConnContext: it logs incoming connections
// that end before they were accepted (refused certificates, timeouts).
func (t *Transport) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	if t.shutdown.Load() {
		return nil, ErrClosed
	}
	m := &acceptMark{}
	ctx = context.WithValue(ctx, acceptMarkKey{}, m)
	remote := info.RemoteAddr.String()
	context.AfterFunc(ctx, func() {
		if !m.accepted.Load() && !t.shutdown.Load() {
			t.log.Warn("incoming connection failed before it was accepted", "remote", remote, "error", context.Cause(ctx))
		}
	})
	return ctx, nil
}

// acceptLoop hands every connection whose TLS handshake succeeded (the
// peer proved an allowed identity) to a hello exchange.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept(t.ctx)
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, quic.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("accept failed", "error", err)
			continue
		}
		if m, ok := conn.Context().Value(acceptMarkKey{}).(*acceptMark); ok {
			m.accepted.Store(true)
		}
		t.wg.Add(1)
		go t.handshakeIn(conn)
	}
}

// handshakeIn accepts the two lane streams of a new connection, checks
// their hellos against the peer's certificate, answers on the ordered
// stream and attaches the connection, replacing an older one of the peer.
func (t *Transport) handshakeIn(conn *quic.Conn) {
	defer t.wg.Done()
	remote := conn.RemoteAddr().String()
	refuse := func(err error) {
		t.log.Warn("refusing a connection", "remote", remote, "error", err)
		conn.CloseWithError(codeRefused, err.Error())
	}
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		refuse(fmt.Errorf("%w: no certificate", ErrIdentity))
		return
	}
	_, id, err := ParseIdentity(certs[0])
	if err != nil {
		refuse(err)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(codeRefused, "hello timed out") })
	var ord, req *quic.Stream
	for ord == nil || req == nil {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			stop()
			refuse(fmt.Errorf("%w: waiting for the lane streams of node %d: %w", ErrHandshake, id, err))
			return
		}
		h, err := readHello(s)
		if err == nil {
			err = checkHello(h, t.cfg.Cluster, id, t.cfg.ID, 0)
		}
		if err == nil && (h.Kind == streamOrdered && ord != nil || h.Kind == streamRequests && req != nil) {
			err = fmt.Errorf("%w: two streams of kind %d", ErrHandshake, h.Kind)
		}
		if err != nil {
			stop()
			refuse(fmt.Errorf("node %d: %w", id, err))
			return
		}
		s.SetPriority(laneUrgency, true)
		if h.Kind == streamOrdered {
			ord = s
		} else {
			req = s
		}
	}
	answer := hello{Version: wireVersion, Kind: streamOrdered, From: t.cfg.ID, To: id, Cluster: t.cfg.Cluster}
	if _, err := ord.Write(appendHello(nil, answer)); err != nil {
		stop()
		refuse(fmt.Errorf("answering node %d: %w", id, err))
		return
	}
	if !stop() {
		refuse(fmt.Errorf("%w: node %d: hello timed out", ErrHandshake, id))
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		t.mu.Unlock()
		conn.CloseWithError(codeShutdown, "transport closing")
		t.mu.Lock() // for the deferred Unlock
		return
	}
	p := t.peers[id]
	if p == nil {
		p = &peer{id: id}
		t.peers[id] = p
		t.log.Info("peer connected for the first time", "peer", id, "remote", remote)
	}
	if h := p.head(); h != nil && h.conn != nil {
		// The peer dialed again: it is done with the old connection.
		t.breakL(h, codeReplaced, "replaced by a new connection from the peer", nil)
	}
	t.attachL(p, conn, ord, req)
}
