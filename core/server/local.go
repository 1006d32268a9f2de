package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
)

// Local sessions (ZooKeeper's localSessionsEnabled and
// localSessionsUpgradingEnabled). A session created on an observer or a
// relay with ClusterConfig.LocalSessions is local: no createSession
// transaction, so no WAN round trip; this server alone tracks it, expires
// it and knows its password's id; the leader never hears of it, so a WAN
// cut cannot expire it. A client that moves to another server is told its
// session expired there, as with ZooKeeper. The first request that needs
// a global session, a create of an ephemeral node (alone or in a multi),
// upgrades it: this server logs a createSession for the same id through
// the leader and only then submits the create; the client sees one
// answer, the create's. Read-only mode (readonly.go) makes local sessions
// too; those are dropped when the server serves again.

// localSessions is the set of this server's local sessions.
type localSessions struct {
	mu  sync.Mutex
	ids map[int64]bool // true: made in read-only mode
}

func (l *localSessions) add(sid int64, readOnly bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[int64]bool{}
	}
	l.ids[sid] = readOnly
}

func (l *localSessions) has(sid int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ids[sid]
	return ok
}

func (l *localSessions) remove(sid int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, sid)
}

// count returns how many local sessions there are.
func (l *localSessions) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// all returns every local session's id.
func (l *localSessions) all() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, 0, len(l.ids))
	for sid := range l.ids {
		out = append(out, sid)
	}
	return out
}

// takeReadOnly removes and returns the sessions made in read-only mode.
func (l *localSessions) takeReadOnly() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for sid, ro := range l.ids {
		if ro {
			out = append(out, sid)
			delete(l.ids, sid)
		}
	}
	return out
}

// localSessionsHere: new sessions on this server are local.
func (s *Server) localSessionsHere() bool {
	cc := s.cfg.Cluster
	return cc != nil && cc.LocalSessions && cc.Observer
}

// createLocalSession makes a local session for c.
func (s *Server) createLocalSession(c *conn, timeout time.Duration, readOnly bool) int64 {
	sid := s.sessions.newID()
	s.sessions.add(sid, timeout, time.Now())
	s.sessions.setConn(sid, c)
	s.local.add(sid, readOnly)
	return sid
}

// forgetLocalSession drops a local session (closed, or expired here).
func (s *Server) forgetLocalSession(sid int64) {
	s.local.remove(sid)
	s.sessions.remove(sid)
}

// expireLocalSessions forgets the local sessions whose client has been
// gone for their timeout (run often: see readOnlyLoop).
func (s *Server) expireLocalSessions(now time.Time) {
	for _, sid := range s.sessions.lapsed(s.local.all(), now) {
		s.log.Info("local session expired", "session", hexZxid(sid))
		s.forgetLocalSession(sid)
	}
}

// needsGlobal reports whether req needs a global session: it creates an
// ephemeral node, alone or in a multi.
func needsGlobal(req *prep.Request) bool {
	ephemeral := func(c *proto.CreateRequest) bool {
		return c != nil && (c.Flags == proto.FlagEphemeral || c.Flags == proto.FlagEphemeralSequential)
	}
	if req == nil {
		return false
	}
	if ephemeral(req.Create) {
		return true
	}
	for _, op := range req.Multi {
		if ephemeral(op.Create) {
			return true
		}
	}
	return false
}

// upgradeSession makes c's local session global: a createSession for the
// same id, through the leader, before the request that needs it.
func (c *conn) upgradeSession(sid int64) error {
	s := c.s
	w := s.internalWrite(&prep.Request{SessionID: sid, Type: proto.OpCreateSession, Timeout: int32(c.timeout.Milliseconds())})
	if !s.submit(w, c.closed) {
		return ErrServerClosed
	}
	select {
	case <-w.done:
	case <-c.closed:
		return ErrServerClosed
	case <-s.closing:
		return ErrServerClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.unknown {
		return fmt.Errorf("upgrading session %s: %w", hexZxid(sid), errSessionNotCreated)
	}
	s.local.remove(sid)
	c.log.Debug("local session upgraded to a global one")
	return nil
}
