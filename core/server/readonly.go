package server

import (
	"crypto/subtle"
	"sync"
	"time"

	"github.com/zoogate/zoogate/core/proto"
)

// Read-only mode (ZooKeeper's readonlymode.enabled, ZOOKEEPER-784): a
// server of a cluster that has not served for readOnlyGrace (a voter cut
// from its quorum, an observer or relay cut from its upstream, a server
// still looking at start-up) accepts clients that set the readOnly flag of
// their ConnectRequest. They read the state it last applied; writes, sync
// and the closing of a global session are answered NotReadOnly (-119); the
// ConnectResponse says readOnly; isro answers "ro" and srvr "Mode:
// read-only". Clients without the flag are refused, as ZooKeeper does.
// Once the server serves again it closes every read-only connection, so
// that their clients find a read-write server.
//
// Sessions: a client that reconnects with a session the server knows (a
// global session, replicated) keeps it, read-only; a new one gets a local
// session that this server alone tracks and expires, and that the quorum
// never hears of (a read-write server later answers it as expired, and
// the client starts a new session). No ephemeral can be created anyway.

// readOnlyGrace is how long a server must have stopped serving before it
// takes read-only clients. A voter waits max(2 s, tickTime), as ZooKeeper
// does, so that a quick election does not send clients into read-only mode
// and back. An observer or relay that is not serving has lost its
// upstream (a relay gone, the WAN cut): no election of its own to wait
// for, so it takes them at once, and a read-only client loses only the
// reads of its reconnection (measured by bench-wan's ro-reads).
func (s *Server) readOnlyGrace() time.Duration {
	if s.cfg.Cluster != nil && s.cfg.Cluster.Observer {
		return 0
	}
	return max(2*time.Second, s.cfg.Tick)
}

// roState is the server's read-only bookkeeping.
type roState struct {
	mu    sync.Mutex
	since time.Time // when the server stopped serving; zero while it serves
	// heard is the server's last contact with the committed stream (its
	// upstream heard from, or leading with a quorum); what
	// ReadOnlyMaxStaleness bounds.
	heard time.Time
}

// contact records a contact with the committed stream at t.
func (r *roState) contact(t time.Time) {
	r.mu.Lock()
	if t.After(r.heard) {
		r.heard = t
	}
	r.mu.Unlock()
}

// staleness is how long ago the server last had contact with the
// committed stream (0 if it never had: nothing to bound yet).
func (s *Server) staleness(now time.Time) time.Duration {
	s.ro.mu.Lock()
	defer s.ro.mu.Unlock()
	if s.ro.heard.IsZero() {
		return 0
	}
	return now.Sub(s.ro.heard)
}

// tooStale reports whether read-only mode's staleness bound has passed.
func (s *Server) tooStale(now time.Time) bool {
	max := s.cfg.Cluster.ReadOnlyMaxStaleness
	return max > 0 && s.staleness(now) > max
}

// markServing records a change of the serving state; when the server
// serves again it returns true (the caller closes read-only clients).
func (r *roState) markServing(serving bool, now time.Time) (resumed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if serving && now.After(r.heard) {
		r.heard = now // serving is being in contact; ticks keep it fresh
	}
	switch {
	case serving && !r.since.IsZero():
		r.since = time.Time{}
		return true
	case !serving && r.since.IsZero():
		r.since = now
	}
	return false
}

// readOnly reports whether this server takes read-only clients now.
func (s *Server) readOnly() bool {
	if s.driver == nil || !s.cfg.Cluster.ReadOnly || s.serving() {
		return false
	}
	s.ro.mu.Lock()
	since := s.ro.since
	s.ro.mu.Unlock()
	now := time.Now()
	return !since.IsZero() && now.Sub(since) >= s.readOnlyGrace() && !s.tooStale(now)
}

// handshakeReadOnly accepts a client that asked for read-only mode while
// the server does not serve (readOnly() is true). It mirrors handshake's
// session handling without the quorum: no createSession transaction, no
// revalidation with a leader.
func (c *conn) handshakeReadOnly(req *proto.ConnectRequest, resp *proto.ConnectResponse) bool {
	s := c.s
	resp.ReadOnly = true
	key := s.sessions.currentKey()
	if key == nil {
		// Passwords are keyed by the replicated session secret, not known
		// yet to a server that never synced: it cannot answer anyone.
		c.log.Debug("read-only client refused: the session secret is not known yet")
		c.close()
		return false
	}
	var sid int64
	if req.SessionID == 0 {
		sid = s.createLocalSession(c, c.timeout, true)
	} else {
		sid = req.SessionID
		pw := s.sessions.password(sid)
		valid := subtle.ConstantTimeCompare(pw, req.Passwd) == 1
		var old *conn
		if valid {
			old, valid = s.sessions.setConn(sid, c)
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
		s.sessions.touch(sid, time.Now())
	}
	c.readOnly.Store(true)
	c.session.Store(sid)
	resp.SessionID = sid
	resp.Passwd = s.sessions.password(sid)
	c.sendConnectResponse(resp)
	c.log = c.log.With("session", hexZxid(sid), "read_only", true)
	c.stats.established = time.Now()
	return true
}

// dispatchReadOnly answers, on a read-only connection, what read-only mode
// refuses; false when the request goes on as usual (reads, pings, auth).
func (c *conn) dispatchReadOnly(it *item) (handled bool) {
	op := it.hdr.Type
	if !op.IsWrite() || op == proto.OpCreateSession {
		return false
	}
	sid := c.session.Load()
	if op == proto.OpCloseSession && c.s.local.has(sid) {
		c.s.forgetLocalSession(sid)
		it.reply = errorFrame(it.hdr.Xid, c.s.LastZxid(), proto.CodeOK)
		it.closeAfter = true
		return true
	}
	// Writes, sync, and closing a global session need the quorum.
	it.reply = errorFrame(it.hdr.Xid, c.s.LastZxid(), proto.CodeNotReadOnly)
	return true
}

// leaveReadOnly closes every read-only connection and forgets the local
// sessions of read-only mode: the server serves again, and their clients
// must find a read-write server (where a local session is unknown).
func (s *Server) leaveReadOnly() {
	// Sessions first: a client whose connection is closed here may be back
	// at once, and must not find its read-only session still known.
	local := s.local.takeReadOnly()
	for _, sid := range local {
		s.sessions.remove(sid)
	}
	closed := s.closeReadOnlyConns()
	if closed > 0 || len(local) > 0 {
		s.log.Info("serving again: closed read-only connections", "connections", closed, "local_sessions", len(local))
	}
}

// enforceStaleness closes the read-only connections once the staleness
// bound has passed (run once per tick; new ones are refused by readOnly).
func (s *Server) enforceStaleness(now time.Time) {
	if s.serving() || !s.tooStale(now) {
		return
	}
	if closed := s.closeReadOnlyConns(); closed > 0 {
		s.log.Warn("read-only data older than read_only_max_staleness: closed read-only connections",
			"connections", closed, "staleness", s.staleness(now).Round(time.Millisecond), "max", s.cfg.Cluster.ReadOnlyMaxStaleness)
	}
}

// readOnlyLoop expires local sessions (local.go) and enforces
// the staleness bound, once per tick, until the server closes.
func (s *Server) readOnlyLoop() {
	defer s.wg.Done()
	t := time.NewTicker(min(s.cfg.Tick, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			s.expireLocalSessions(now)
			s.enforceStaleness(now)
		}
	}
}

// closeReadOnlyConns closes every read-only connection and says how many.
func (s *Server) closeReadOnlyConns() int {
	s.connMu.Lock()
	var ro []*conn
	for _, c := range s.conns {
		if c.readOnly.Load() {
			ro = append(ro, c)
		}
	}
	s.connMu.Unlock()
	for _, c := range ro {
		c.close()
	}
	return len(ro)
}
