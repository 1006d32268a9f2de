package server

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/watch"
)

// conn is one client connection. Three goroutines serve it: the reader
// (decodes frames, sends writes to the sequencer, queues every request in
// arrival order), the processor (answers queued requests strictly in order:
// a read runs only after every earlier write of the session has been
// applied) and the writer (drains the outbound queue to the socket).
type conn struct {
	s       *Server
	nc      net.Conn
	id      watch.ID
	remote  string
	ip      string
	log     hclog.Logger
	items   chan *item
	out     *outQueue
	closed  chan struct{}
	once    sync.Once
	session atomic.Int64 // 0 until the handshake completes
	timeout time.Duration
	auth    atomic.Pointer[[]proto.ID] // copy-on-write identities
	stats   connStats
	// readOnly: the client connected in read-only mode (readonly.go); set
	// by the handshake, before any request is read.
	readOnly atomic.Bool
}

// item is one request in the connection's FIFO.
type item struct {
	hdr        proto.RequestHeader
	body       []byte
	auth       []proto.ID
	w          *pendingWrite // set for writes: wait for it, then send its reply
	reply      []byte        // precomputed reply (auth, decode errors)
	closeAfter bool          // close the connection once the reply is written
	received   time.Time
}

func (c *conn) identities() []proto.ID { return *c.auth.Load() }

func (c *conn) addIdentities(ids []proto.ID) {
	old := c.identities()
	next := append(append([]proto.ID(nil), old...), ids...)
	c.auth.Store(&next)
}

// close shuts the connection down at once.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.out.close()
		c.nc.Close()
	})
}

// isClosed reports whether the connection has been closed.
func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// send queues a frame; a client over its outbound limit is disconnected.
func (c *conn) send(frame []byte) {
	if !c.out.push(frame) {
		c.out.mu.Lock()
		overrun := c.out.overrun
		c.out.mu.Unlock()
		if overrun {
			c.log.Warn("client is not reading its replies; closing connection", "limit_bytes", c.out.limit)
			c.close()
		}
		return
	}
	c.stats.sent.Add(1)
	c.s.stats.sent.Add(1)
}

// serve runs the connection until it closes.
//
// The connection ends when the writer stops: at once after an error, or
// after the last queued reply when a request asked for a close (closeSession,
// a failed auth, an unknown opcode, a refused handshake).
func (c *conn) serve() {
	wdone := make(chan struct{})
	defer func() {
		<-wdone
		c.s.connDone(c)
	}()
	go func() {
		defer close(wdone)
		c.writeLoop()
	}()
	if !c.tlsHandshake() { // tls.go; a plain connection passes
		c.close()
		return
	}
	br := bufio.NewReaderSize(c.nc, 64<<10)
	c.nc.SetReadDeadline(time.Now().Add(c.s.handshakeTimeout()))
	var lb [4]byte
	if _, err := io.ReadFull(br, lb[:]); err != nil {
		c.close()
		return
	}
	if c.s.fourLetterWord(c, string(lb[:]), br) {
		return
	}
	first, err := readFrameBody(br, int32(binary.BigEndian.Uint32(lb[:])), c.s.cfg.MaxPacketSize, nil)
	if err != nil {
		c.log.Debug("bad connect frame", "error", err)
		c.close()
		return
	}
	if !c.handshake(first) {
		return
	}
	go c.processLoop()
	c.readLoop(br)
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.out.signal:
		case <-c.closed:
			return
		}
		frames, stop, ok := c.out.take()
		if !ok {
			return
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
		for _, f := range frames {
			if _, err := bw.Write(f); err != nil {
				c.close()
				return
			}
		}
		if err := bw.Flush(); err != nil {
			c.close()
			return
		}
		if stop {
			c.close()
			return
		}
	}
}

func (c *conn) writeTimeout() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return c.s.handshakeTimeout()
}

// readLoop decodes requests until the connection closes.
func (c *conn) readLoop(br *bufio.Reader) {
	defer close(c.items)
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout + c.s.cfg.Tick))
		frame, err := readFrame(br, c.s.cfg.MaxPacketSize, nil)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("closing connection", "error", err)
			}
			c.close()
			return
		}
		c.stats.received.Add(1)
		c.s.stats.received.Add(1)
		d := jute.NewDecoder(frame, c.s.cfg.MaxPacketSize)
		hdr := proto.DecodeRequestHeader(d)
		if d.Err() != nil {
			c.log.Debug("short request header; closing", "error", d.Err())
			c.close()
			return
		}
		sid := c.session.Load()
		if d := c.s.driver; d != nil && !c.s.local.has(sid) {
			d.touch(sid) // the leader expires global sessions only
		}
		if !c.s.sessions.touch(sid, time.Now()) {
			// The session expired or is closing: the client learns it on reconnect.
			c.close()
			return
		}
		it := &item{hdr: hdr, body: d.Rest(), auth: c.identities(), received: time.Now()}
		if !c.dispatch(it) {
			return
		}
	}
}

// dispatch routes one request; false when the connection must stop reading.
func (c *conn) dispatch(it *item) bool {
	lastZxid := c.s.LastZxid()
	switch op := it.hdr.Type; {
	case c.readOnly.Load() && c.dispatchReadOnly(it):
	case op == proto.OpPing:
		c.send(encodeFrame(proto.ReplyHeader{Xid: proto.XidPing, Zxid: lastZxid}, nil))
		return true
	case op == proto.OpAuth:
		c.handleAuth(it)
	case op == proto.OpSASL:
		// No SASL provider is configured: answer as such a server does.
		it.reply = errorFrame(it.hdr.Xid, 0, proto.CodeAuthFailed)
		it.closeAfter = true
	case op == proto.OpCloseSession && c.s.local.has(c.session.Load()):
		// A local session ends here: nobody else knows it.
		c.s.forgetLocalSession(c.session.Load())
		it.reply = errorFrame(it.hdr.Xid, lastZxid, proto.CodeOK)
		it.closeAfter = true
	case op.IsWrite() && op != proto.OpCreateSession:
		w, err := c.s.newWrite(c, it)
		if err != nil {
			it.reply = errorFrame(it.hdr.Xid, lastZxid, proto.CodeOf(err))
			break
		}
		if sid := c.session.Load(); c.s.local.has(sid) && needsGlobal(w.req) {
			if err := c.upgradeSession(sid); err != nil {
				c.log.Info("could not upgrade the local session for an ephemeral create; closing", "error", err)
				c.close()
				return false
			}
		}
		it.w = w
		if op == proto.OpCloseSession {
			it.closeAfter = true
		}
		if !c.s.submit(w, c.closed) {
			return false
		}
	case isRead(op):
	default:
		it.reply = errorFrame(it.hdr.Xid, lastZxid, proto.CodeUnimplemented)
		it.closeAfter = true
	}
	select {
	case c.items <- it:
	case <-c.closed:
		return false
	}
	return !it.closeAfter
}

func (c *conn) handleAuth(it *item) {
	d := jute.NewDecoder(it.body, c.s.cfg.MaxPacketSize)
	a := proto.DecodeAuth(d)
	if d.Err() != nil {
		it.reply = errorFrame(it.hdr.Xid, 0, proto.CodeMarshallingError)
		return
	}
	ids, err := c.s.authenticate(a)
	if err != nil {
		c.s.stats.authFailed.Add(1)
		c.log.Info("authentication failed", "scheme", a.Scheme, "error", err)
		it.reply = errorFrame(it.hdr.Xid, 0, proto.CodeAuthFailed)
		it.closeAfter = true
		return
	}
	c.addIdentities(ids)
	it.reply = errorFrame(it.hdr.Xid, 0, proto.CodeOK)
}

// testHookAfterRead, when set by a test, runs after each read was
// answered: where a reply sent after the tree lock would still be waiting.
var testHookAfterRead func(*item)

// processLoop answers queued requests in order.
func (c *conn) processLoop() {
	for it := range c.items {
		var reply []byte
		switch {
		case it.w != nil:
			select {
			case <-it.w.done:
			case <-c.s.closing:
				c.close()
				return
			}
			if it.w.unknown || it.w.moved {
				// The log failed under this write: its outcome is unknown,
				// so the client must not get an answer it would trust. Or
				// the session lives on another voter now (owners.go).
				c.close()
				return
			}
			reply = it.w.reply
		case it.reply != nil:
			reply = it.reply
		default:
			c.s.answerRead(c, it, true) // queued under the tree lock
			if testHookAfterRead != nil {
				testHookAfterRead(it)
			}
		}
		c.stats.record(it, time.Since(it.received))
		c.s.stats.latency(time.Since(it.received))
		c.s.admin.observe(it, time.Since(it.received)) // Prometheus summaries (metrics.go)
		if reply != nil {
			c.send(reply)
		}
		if it.closeAfter {
			c.out.closeAfterDrain()
			return
		}
	}
}

// handshake handles the ConnectRequest; false if the connection is done.
func (c *conn) handshake(frame []byte) bool {
	req, err := proto.DecodeConnectRequest(frame, c.s.cfg.MaxPacketSize)
	if err != nil {
		c.log.Debug("malformed ConnectRequest", "error", err)
		c.close()
		return false
	}
	readOnly := false
	if !c.s.serving() {
		switch {
		case req.ReadOnly && c.s.readOnly():
			readOnly = true
		case c.awaitServing(): // a leader change: wait for the new leader (leaderchange.go)
		default:
			c.log.Debug("not serving (no leader, or no upstream); closing client connection", "client_read_only", req.ReadOnly)
			c.close()
			return false
		}
	}
	if req.LastZxidSeen > c.s.LastZxid() {
		c.log.Info("refusing client that has seen a newer zxid than this server",
			"client_zxid", hexZxid(req.LastZxidSeen), "server_zxid", hexZxid(c.s.LastZxid()))
		c.close()
		return false
	}
	min, max := c.s.cfg.SessionTimeouts()
	timeout := time.Duration(req.Timeout) * time.Millisecond
	if timeout < min {
		timeout = min
	}
	if timeout > max {
		timeout = max
	}
	c.timeout = timeout
	if readOnly {
		resp := &proto.ConnectResponse{Timeout: int32(timeout.Milliseconds()), HasReadOnly: req.HasReadOnly}
		return c.handshakeReadOnly(req, resp)
	}
	resp := &proto.ConnectResponse{Timeout: int32(timeout.Milliseconds()), HasReadOnly: req.HasReadOnly}
	var sid int64
	if req.SessionID == 0 && c.s.localSessionsHere() {
		sid = c.s.createLocalSession(c, timeout, false)
	} else if req.SessionID == 0 {
		sid, err = c.s.createSession(c, timeout)
		if err != nil {
			c.log.Warn("could not create session", "error", err)
			c.close()
			return false
		}
	} else {
		sid = req.SessionID
		pw := c.s.sessions.password(sid)
		valid := subtle.ConstantTimeCompare(pw, req.Passwd) == 1
		var old *conn
		if valid {
			old, valid = c.s.sessions.setConn(sid, c)
			if !valid && c.s.isCluster() {
				// ZooKeeper's REVALIDATE, done as a sync: the client may
				// have created the session through another voter a moment
				// ago, before this one applied it. Decide only once this
				// voter has applied everything the leader had committed;
				// if that cannot be known, drop the connection unanswered
				// (the client tries again) rather than call it expired.
				if !c.s.catchUp(c.closed, timeout) {
					c.log.Debug("could not revalidate the session with the leader; closing", "session", hexZxid(sid))
					c.close()
					return false
				}
				old, valid = c.s.sessions.setConn(sid, c)
			}
		}
		if !valid {
			resp.Timeout = 0
			c.sendConnectResponse(resp)
			c.out.closeAfterDrain()
			return false
		}
		if old != nil && old != c {
			old.close()
		}
		c.s.sessions.add(sid, timeout, time.Now())
		if !c.s.local.has(sid) {
			c.s.claimSession(sid, c.closed)
		}
	}
	c.session.Store(sid)
	resp.SessionID = sid
	resp.Passwd = c.s.sessions.password(sid)
	c.sendConnectResponse(resp)
	c.log = c.log.With("session", hexZxid(sid))
	c.stats.established = time.Now()
	return true
}

func (c *conn) sendConnectResponse(r *proto.ConnectResponse) {
	e := jute.NewEncoder(make([]byte, 0, 48))
	e.Int(0)
	r.Encode(e)
	e.PatchInt(0, int32(e.Len()-4))
	c.send(e.Bytes())
}
