package server

import (
	"time"

	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// Session ownership (ZooKeeper's session owner, checked by its leader).
//
// The leader remembers which server each session's client is connected to
// (a voter, or an observer: the origin a forwarded request carries, not the
// relay that passed it on).
// A voter that accepts a reconnecting session claims it first: the claim is
// queued ahead of the connect response, so it reaches the leader (on the
// learner's FIFO stream, or the leader's own write queue) before any
// request the client sends on its new connection. A write that reaches the
// leader through another voter than the owner comes from a connection the
// client has left: it becomes an error transaction with SessionMoved, and
// the voter holding that connection closes it unanswered, as ZooKeeper does
// (ZOOKEEPER-710). Reads are served locally and not checked, as on a
// ZooKeeper follower.
//
// The table lives on the leader's driver goroutine and starts empty with
// each leadership (clients reconnect after a leader change anyway); a
// session with no known owner is given to the first voter that writes for
// it, as ZooKeeper does.

// opClaimSession is the internal request type of a claim. It is never a
// client opcode: conns refuse unknown opcodes before anything is queued.
const opClaimSession proto.Op = -1000

// claimSession queues this voter's claim on a session it just accepted
// from a reconnecting client (cluster only). It does not wait.
func (s *Server) claimSession(sid int64, connClosed <-chan struct{}) {
	if s.driver == nil {
		return
	}
	s.submit(s.internalWrite(&prep.Request{SessionID: sid, Type: opClaimSession}), connClosed)
}

// claim records owner as the voter of a session (leader's driver).
func (d *driver) claim(sid int64, owner uint64) {
	if d.owners == nil {
		d.owners = make(map[int64]uint64)
	}
	d.owners[sid] = owner
}

// moved reports whether a client write for req's session, arriving through
// voter via, comes from a connection the session has left; an unknown
// session becomes via's (leader's driver). A client's closeSession is
// checked like any write; the table forgets a session when its close is
// applied (clusterApplier.Apply).
func (d *driver) moved(req *prep.Request, via uint64) bool {
	if req.Type == proto.OpCreateSession {
		d.claim(req.SessionID, via)
		return false
	}
	owner, ok := d.owners[req.SessionID]
	if !ok {
		d.claim(req.SessionID, via)
		return false
	}
	return owner != via
}

// movedTxn is the error transaction that answers a write from a moved
// session's old connection.
func movedTxn(req *prep.Request) *txn.Txn {
	return &txn.Txn{
		Header: txn.Header{SessionID: req.SessionID, Cxid: req.Cxid, Time: time.Now().UnixMilli(), Type: proto.OpError},
		Body:   &txn.Error{Code: proto.CodeSessionMoved},
	}
}

// isMoved reports whether a committed transaction is a SessionMoved answer.
func isMoved(x *txn.Txn) bool {
	e, ok := x.Body.(*txn.Error)
	return ok && x.Type == proto.OpError && e.Code == proto.CodeSessionMoved
}
