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

// maxDialsInFlight bounds the connection attempts to one peer that may be
// in their handshake at once; a new attempt beyond it gives up the oldest.
const maxDialsInFlight = 8

// dialResult is the outcome of one connection attempt.
type dialResult struct {
	conn       *quic.Conn
	ord, req   *quic.Stream
	compressed bool // the peer's answer: it deflates what it sends
	err        error
}

// dialLoop keeps one connection up to p (a peer of Config.Dial): whenever
// no stream with p owns a connection it makes attempts, BackoffMin to
// BackoffMax apart (doubling, jittered), each running until its handshake
// succeeds or fails, several at once if they hang (a cut link): the first
// to succeed is attached and the others are cancelled.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	hadConn := false
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
		t.mu.Unlock()
		if !t.connect(p, hadConn, log) {
			return
		}
		hadConn = true
	}
}

// connect makes attempts until one is attached (true) or the transport
// closes (false).
func (t *Transport) connect(p *peer, hadConn bool, log logger) bool {
	// results is unbuffered: once roundDone is closed, an attempt that
	// still finishes cannot hand its connection over and closes it.
	results := make(chan dialResult)
	roundDone := make(chan struct{})
	// Only the first attempt whose QUIC handshake completes goes on to the
	// hellos (which make the acceptor attach the connection, replacing any
	// older one); later ones close. If its hellos fail, the next may.
	var claimed atomic.Bool
	var cancels []context.CancelFunc // of the attempts in flight, oldest first
	defer func() {
		close(roundDone)
		for _, c := range cancels {
			c()
		}
	}()
	start := func() {
		if len(cancels) == maxDialsInFlight {
			cancels[0]()
			cancels = cancels[1:]
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
		cancels = append(cancels, cancel)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer cancel()
			r := t.dial(ctx, p, &claimed)
			if errors.Is(r.err, errLostRace) {
				return
			}
			select {
			case results <- r:
			case <-roundDone:
				if r.err == nil {
					r.conn.CloseWithError(codeReplaced, "another attempt connected first")
				}
			}
		}()
	}
	attempts, failures := 0, 0
	wait := func() time.Duration {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.backoffL(attempts, hadConn)
	}
	timer := time.NewTimer(wait())
	defer timer.Stop()
	for {
		select {
		case <-t.done:
			return false
		case <-timer.C:
			start()
			attempts++
			timer.Reset(wait())
		case r := <-results:
			if r.err != nil {
				failures++
				t.mu.Lock()
				if !t.closed {
					p.lastErr = r.err.Error()
				}
				t.mu.Unlock()
				if failures&(failures-1) == 0 { // 1, 2, 4, 8...: visible but not a flood
					log.Warn("dial failed", "attempts", failures, "error", r.err)
				} else {
					log.Debug("dial failed", "attempts", failures, "error", r.err)
				}
				continue
			}
			t.mu.Lock()
			if t.closed {
				t.mu.Unlock()
				r.conn.CloseWithError(codeShutdown, "transport closing")
				return false
			}
			if failures > 0 {
				log.Info("connected", "failed_attempts", failures)
			}
			t.attachL(p, r.conn, r.ord, r.req, [3]bool{LaneOrdered: r.compressed, LaneRequests: r.compressed})
			t.mu.Unlock()
			return true
		}
	}
}

// backoffL is the wait before the next attempt: none for the first
// attempt, about BackoffMin for the first after a connection ended,
// doubling per attempt up to BackoffMax; jittered to between half and all
// of it.
func (t *Transport) backoffL(attempts int, hadConn bool) time.Duration {
	if attempts == 0 && !hadConn {
		return 0
	}
	d := t.cfg.BackoffMin
	for i := 1; i < attempts && d < t.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.cfg.BackoffMax)
	half := d / 2
	return half + time.Duration(t.rnd.Int64N(int64(d-half)+1))
}

// dial connects to p: QUIC and TLS handshake (the acceptor proves it is p),
// then the dialer opens the ordered and the requests streams, writes a
// hello on each, and waits for the acceptor's hello on the ordered one.
// errLostRace: another attempt of the same round got its QUIC handshake
// done first.
var errLostRace = errors.New("another attempt connected first")

func (t *Transport) dial(ctx context.Context, p *peer, claimed *atomic.Bool) dialResult {
	raddr, err := net.ResolveUDPAddr("udp", p.addr)
	if err != nil {
		return dialResult{err: err}
	}
	conn, err := t.qt.Dial(ctx, raddr, t.clientConfig(p.id), t.dialConf)
	if err != nil {
		return dialResult{err: fmt.Errorf("QUIC handshake with %s: %w", raddr, err)}
	}
	if !claimed.CompareAndSwap(false, true) {
		conn.CloseWithError(codeReplaced, errLostRace.Error())
		return dialResult{err: errLostRace}
	}
	// Past the handshake, reads are bounded by closing the connection.
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(codeRefused, "hello timed out") })
	fail := func(err error) dialResult {
		stop()
		claimed.Store(false)
		conn.CloseWithError(codeRefused, err.Error())
		if cause := context.Cause(conn.Context()); cause != nil && !isLocalClose(cause) && !strings.Contains(err.Error(), cause.Error()) {
			err = fmt.Errorf("%w (connection: %v)", err, cause)
		}
		return dialResult{err: err}
	}
	var streams [2]*quic.Stream
	for i, kind := range []uint8{streamOrdered, streamRequests} {
		s, err := conn.OpenStream()
		if err != nil {
			return fail(err)
		}
		s.SetPriority(laneUrgency, true)
		h := hello{Version: wireVersion, Kind: kind, Flags: t.helloFlags(), From: t.cfg.ID, To: p.id, Cluster: t.cfg.Cluster}
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
	return dialResult{conn: conn, ord: streams[0], req: streams[1], compressed: h.Flags&helloCompressed != 0}
}

// helloFlags are the flags of this server's hellos.
func (t *Transport) helloFlags() uint8 {
	if t.cfg.Compress {
		return helloCompressed
	}
	return 0
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
	var compressed [3]bool
	for ord == nil || req == nil {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			stop()
			if ae, ok := errors.AsType[*quic.ApplicationError](err); ok && ae.Remote && ae.ErrorCode == codeReplaced {
				// One of several attempts of the peer: another won.
				t.log.Debug("a redundant connection attempt closed", "peer", id, "remote", remote)
				return
			}
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
			compressed[LaneOrdered] = h.Flags&helloCompressed != 0
		} else {
			req = s
			compressed[LaneRequests] = h.Flags&helloCompressed != 0
		}
	}
	answer := hello{Version: wireVersion, Kind: streamOrdered, Flags: t.helloFlags(), From: t.cfg.ID, To: id, Cluster: t.cfg.Cluster}
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
	t.attachL(p, conn, ord, req, compressed)
}
