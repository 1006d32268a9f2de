package peer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// dialLoop keeps one connection up to p (whose id is higher than ours, or
// an upstream):
// it dials whenever no stream with p owns a connection, backing off after
// failures.
func (t *TCP) dialLoop(p *tpeer) {
	defer t.wg.Done()
	failures, hadConn := 0, false
	log := t.log.With("peer", p.id, "addr", p.addr)
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
		conn, off, err := t.dial(p)
		if err != nil {
			failures++
			hadConn = false
			if failures&(failures-1) == 0 { // 1, 2, 4, 8...: visible but not a flood
				log.Warn("dial failed", "attempts", failures, "error", err)
			} else {
				log.Debug("dial failed", "attempts", failures, "error", err)
			}
			continue
		}
		t.mu.Lock()
		delete(t.raw, conn)
		if t.closed {
			t.mu.Unlock()
			conn.Close()
			return
		}
		if failures > 0 {
			log.Info("connected", "failed_attempts", failures)
		}
		t.attachL(p, conn, off)
		t.mu.Unlock()
		failures, hadConn = 0, true
	}
}

// backoffL is the wait before the next dial: none for the first attempt,
// about BackoffMin after a connection ended, doubling per failure up to
// BackoffMax; jittered to between half and all of it.
func (t *TCP) backoffL(failures int, hadConn bool) time.Duration {
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

// dial connects to p (over TLS with TLS.Dial) and exchanges hellos; it
// returns the bytes of the hello stream it read. The returned connection
// is still registered in t.raw; the caller removes it.
func (t *TCP) dial(p *tpeer) (net.Conn, int64, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout, KeepAlive: t.cfg.KeepAlive}
	conn, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		return nil, 0, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		conn.Close()
		return nil, 0, ErrClosed
	}
	t.raw[conn] = struct{}{}
	t.mu.Unlock()
	fail := func(err error) (net.Conn, int64, error) {
		t.mu.Lock()
		delete(t.raw, conn)
		t.mu.Unlock()
		conn.Close()
		return nil, 0, err
	}
	tune(conn, t.cfg.KeepAlive)
	// One deadline for the TLS handshake and the hellos together.
	if err := conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return fail(err)
	}
	if t.cfg.TLS != nil && t.cfg.TLS.Dial {
		tc := &tlsConn{tls.Client(conn, t.cfg.TLS.Client)}
		if !t.rekeyRaw(conn, tc) {
			return nil, 0, ErrClosed
		}
		conn = tc // from here on, fail unregisters and closes tc
		if err := t.clientTLS(tc, p); err != nil {
			return fail(err)
		}
	}
	if _, err := conn.Write(t.helloFrame(p.id)); err != nil {
		return fail(fmt.Errorf("sending hello: %w", err))
	}
	fr := frameReader{r: conn, max: maxHelloLen}
	body, err := fr.next()
	if err != nil {
		return fail(fmt.Errorf("reading the peer's hello (refused?): %w", err))
	}
	h, err := decodeHello(body)
	if err == nil {
		err = checkHello(h, t.cfg.Cluster, p.id, t.cfg.ID)
	}
	if err != nil {
		t.log.Warn("handshake refused", "peer", p.id, "remote", conn.RemoteAddr().String(), "error", err)
		return fail(err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return conn, fr.off, nil
}

func (t *TCP) helloFrame(to uint64) []byte {
	body := appendHello(nil, hello{Version: protocolVersion, From: t.cfg.ID, To: to, Cluster: t.cfg.Cluster})
	return append(appendFrameHeader(nil, len(body)), body...)
}

// acceptLoop hands every accepted connection to a handshake goroutine.
func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("accept failed", "error", err)
			timer := time.NewTimer(t.cfg.BackoffMin)
			select {
			case <-timer.C:
			case <-t.done:
				timer.Stop()
				return
			}
			continue
		}
		t.mu.Lock()
		if t.closed || len(t.raw) >= maxHandshakes {
			t.mu.Unlock()
			conn.Close()
			continue
		}
		t.raw[conn] = struct{}{}
		t.wg.Add(1)
		go t.handshakeIn(conn)
		t.mu.Unlock()
	}
}

// handshakeIn checks an accepted connection's hello (after a TLS
// handshake if it opens with one), answers it, waits for the peer's
// previous connection (if any) to end, then attaches it.
func (t *TCP) handshakeIn(conn net.Conn) {
	defer t.wg.Done()
	remote := conn.RemoteAddr().String()
	overTLS := false
	refuse := func(err error) {
		t.log.Warn("refusing connection", "remote", remote, "tls", overTLS, "error", err)
		t.mu.Lock()
		delete(t.raw, conn)
		t.mu.Unlock()
		conn.Close()
	}
	tune(conn, t.cfg.KeepAlive)
	// One deadline for the first byte, the TLS handshake and the hellos:
	// a connection holds one of maxHandshakes slots no longer than that.
	if err := conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		refuse(err)
		return
	}
	c, isTLS, err := sniff(conn)
	if err != nil {
		refuse(fmt.Errorf("%w: reading hello: %w", ErrBadHello, err))
		return
	}
	overTLS = isTLS
	if isTLS && t.cfg.TLS == nil {
		refuse(fmt.Errorf("%w: the peer opened with a TLS handshake, and this server has no TLS configured", ErrHandshake))
		return
	}
	var tc *tlsConn
	if isTLS {
		tc = &tlsConn{tls.Server(c, t.cfg.TLS.Server)}
		c = tc
	}
	if !t.rekeyRaw(conn, c) {
		return
	}
	conn = c // from here on, refuse unregisters and closes c
	var certID uint64
	if tc != nil {
		if certID, err = t.serverTLS(tc); err != nil {
			refuse(err)
			return
		}
	}
	fr := frameReader{r: conn, max: maxHelloLen}
	body, err := fr.next()
	if err != nil {
		refuse(fmt.Errorf("%w: reading hello: %w", ErrBadHello, err))
		return
	}
	h, err := decodeHello(body)
	if err == nil {
		err = checkHello(h, t.cfg.Cluster, 0, t.cfg.ID)
	}
	if err == nil && overTLS && h.From != certID {
		err = fmt.Errorf("%w: a hello from server %d over TLS, but its certificate names server %d", ErrHandshake, h.From, certID)
	}
	if err != nil {
		refuse(err)
		return
	}
	p, err := t.acceptPeer(h.From, overTLS)
	if err != nil {
		refuse(err)
		return
	}
	if _, err := conn.Write(t.helloFrame(p.id)); err != nil {
		refuse(fmt.Errorf("answering hello: %w", err))
		return
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		refuse(err)
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	p.incoming++
	mine := p.incoming
	graced := false
	for {
		if t.closed || p.incoming != mine {
			delete(t.raw, conn)
			conn.Close()
			return
		}
		old := p.head()
		if old == nil || old.conn == nil {
			break
		}
		if !graced { // the peer dialed again: its old connection is on its way out
			graced = true
			t.log.Debug("new connection waits for the previous one to end", "peer", p.id)
			old.conn.SetReadDeadline(time.Now().Add(t.cfg.ReplaceGrace))
		}
		done := old.done
		t.mu.Unlock()
		select {
		case <-done:
		case <-t.done:
		}
		t.mu.Lock()
	}
	delete(t.raw, conn)
	t.attachL(p, conn, fr.off)
}

// acceptPeer returns the peer a hello from id comes from, making a learner
// of an unknown id if AcceptLearners (and AdmitLearner) allows it.
// verified: the hello came over TLS from the server the certificate names.
func (t *TCP) acceptPeer(id uint64, verified bool) (*tpeer, error) {
	if err := t.admit(id, verified); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[id]
	switch {
	case id == t.cfg.ID || id == 0:
		return nil, fmt.Errorf("%w: a hello from server %d, this server's own id or none", ErrHandshake, id)
	case p == nil && !t.cfg.AcceptLearners:
		return nil, fmt.Errorf("%w: server %d is not a configured peer (and AcceptLearners is off)", ErrHandshake, id)
	case p == nil:
		if t.closed {
			return nil, ErrClosed
		}
		p = &tpeer{id: id, learner: true}
		t.peers[id] = p
		t.log.Info("learner connected for the first time", "peer", id)
	case p.upstream:
		return nil, fmt.Errorf("%w: server %d is an upstream of this server, which dials it", ErrHandshake, id)
	case p.dials:
		return nil, fmt.Errorf("%w: server %d has a higher id and must be dialed, not dial", ErrHandshake, id)
	}
	return p, nil
}

// admit asks AdmitLearner about a hello AcceptLearners would accept from
// an id that is not configured. It asks at every connection, not only the
// first: that a learner once came with a valid certificate says nothing
// of who dials with its id now. It runs without t.mu (it is the
// deployment's code); the handshake deadline still bounds the connection.
func (t *TCP) admit(id uint64, verified bool) error {
	if t.cfg.AdmitLearner == nil || !t.cfg.AcceptLearners || id == t.cfg.ID || id == 0 {
		return nil
	}
	t.mu.Lock()
	p := t.peers[id]
	t.mu.Unlock()
	if p != nil && !p.learner {
		return nil // configured (Peers or Upstreams): acceptPeer's rules
	}
	if err := t.cfg.AdmitLearner(id, verified); err != nil {
		return fmt.Errorf("%w: learner %d not admitted (verified certificate: %v): %w", ErrHandshake, id, verified, err)
	}
	return nil
}

// tune sets TCP options on c, or on the TCP connection it is layered on.
func tune(c net.Conn, keepAlive time.Duration) {
	tc, ok := baseConn(c).(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(true)
	if keepAlive > 0 {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(keepAlive)
	}
}
