package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
)

// pendingWrite is a write (or sync) on its way through the sequencer, the
// committer and the apply step. done is closed once reply is set.
type pendingWrite struct {
	req   *prep.Request // nil for sync
	conn  *conn         // nil for internal writes (expiry, reaper)
	xid   int32
	body  []byte // the request's bytes, forwarded to the leader by a learner
	path  string // sync's path, echoed in its reply
	txn   *txn.Txn
	raw   []byte // txn.Encode(txn), what gets logged and replicated
	zxid  int64
	reply []byte
	err   error
	done  chan struct{}

	durable chan struct{} // logCommitter: closed when the log answered
	logErr  error         // the log's answer
	unknown bool          // the log failed: outcome unknown, drop the client
	moved   bool          // the session moved to another voter: drop the client unanswered

	// Leader changes (leaderchange.go), on the driver goroutine.
	seq    uint64    // arrival order at the driver (0: not seen yet)
	epoch  int64     // the epoch it was sent to a leader in (0: not sent)
	giveUp time.Time // when a client stops waiting for it (zero: never)
	held   bool      // sent in the epoch the server serves again in: may still commit
}

// submit hands a write to the sequencer, blocking while the global
// outstanding limit is reached; false if the server or connection closed.
func (s *Server) submit(w *pendingWrite, connClosed <-chan struct{}) bool {
	select {
	case s.writes <- w:
		return true
	case <-s.closing:
		return false
	case <-connClosed:
		return false
	}
}

// newWrite decodes a client write request.
func (s *Server) newWrite(c *conn, it *item) (*pendingWrite, error) {
	w := &pendingWrite{conn: c, xid: it.hdr.Xid, body: it.body, done: make(chan struct{})}
	req := &prep.Request{SessionID: c.session.Load(), Cxid: it.hdr.Xid, Type: it.hdr.Type, Auth: it.auth}
	path, err := s.decodeWrite(req, it.body)
	if err != nil {
		return nil, err
	}
	switch it.hdr.Type {
	case proto.OpSync:
		w.path = path
		req = nil
	case proto.OpCloseSession:
		s.sessions.markClosing(req.SessionID)
	}
	w.req = req
	return w, nil
}

// decodeWrite fills req from a write request's body (the same bytes a
// learner forwards to the leader). For sync it returns the path. The
// request's data buffers are views into body: a client frame or a forwarded
// message, each read into its own slice and never modified.
func (s *Server) decodeWrite(req *prep.Request, body []byte) (syncPath string, err error) {
	d := jute.NewDecoder(body, s.cfg.MaxPacketSize).ShareBuffers()
	switch req.Type {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer:
		req.Create = proto.DecodeCreate(d, false)
	case proto.OpCreateTTL:
		req.Create = proto.DecodeCreate(d, true)
	case proto.OpDelete, proto.OpDeleteContainer:
		req.Path = proto.DecodePathVersion(d)
	case proto.OpSetData:
		req.SetData = proto.DecodeSetData(d)
	case proto.OpSetACL:
		req.SetACL = proto.DecodeSetACL(d)
	case proto.OpMulti:
		ops, err := proto.DecodeMulti(d)
		if err != nil {
			return "", fmt.Errorf("%w: %w", proto.ErrMarshalling, err)
		}
		for _, op := range ops {
			if op.Read != nil {
				return "", fmt.Errorf("%w: read op in multi", proto.ErrMarshalling)
			}
		}
		req.Multi = ops
	case proto.OpSync:
		syncPath = d.String("SyncRequest.path")
	case proto.OpReconfig:
		proto.DecodeReconfig(d)
	}
	if err := d.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", proto.ErrMarshalling, err)
	}
	return syncPath, nil
}

// catchUp waits, at most limit, until this server has applied every
// transaction the leader committed before the call (an internal sync);
// false if it could not tell.
func (s *Server) catchUp(connClosed <-chan struct{}, limit time.Duration) bool {
	w := &pendingWrite{path: "/", done: make(chan struct{})}
	if !s.submit(w, connClosed) {
		return false
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-w.done:
		return !w.unknown
	case <-t.C:
	case <-connClosed:
	case <-s.closing:
	}
	return false
}

// errSessionNotCreated: the createSession's outcome is unknown (the leader
// changed under it); the client reconnects and tries again.
var errSessionNotCreated = errors.New("session not created: the ensemble changed leader")

// internalWrite makes a write the server issues itself.
func (s *Server) internalWrite(req *prep.Request) *pendingWrite {
	return &pendingWrite{req: req, done: make(chan struct{})}
}

// createSession logs a createSession transaction and waits for it.
func (s *Server) createSession(c *conn, timeout time.Duration) (int64, error) {
	sid := s.sessions.newID()
	w := s.internalWrite(&prep.Request{SessionID: sid, Type: proto.OpCreateSession, Timeout: int32(timeout.Milliseconds())})
	if !s.submit(w, c.closed) {
		return 0, ErrServerClosed
	}
	select {
	case <-w.done:
	case <-s.closing:
		return 0, ErrServerClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.unknown {
		if err := s.writesStopped(); err != nil {
			return 0, err
		}
		return 0, errSessionNotCreated
	}
	// The session's clock starts once it exists: a slow disk must not
	// expire it before the client heard of it.
	s.sessions.add(sid, timeout, time.Now())
	s.sessions.setConn(sid, c)
	return sid, nil
}

// sequencer is the single goroutine that gives writes their zxids, in
// arrival order, through the prep step, and hands them to the committer.
func (s *Server) sequencer() {
	defer s.wg.Done()
	for {
		var w *pendingWrite
		select {
		case w = <-s.writes:
		case <-s.closing:
			return
		}
		if w.req == nil {
			s.committer.Commit(w)
			continue
		}
		if err := s.writesStopped(); err != nil {
			if w.req.Type == proto.OpCreateSession {
				// Like a ZooKeeper server in read-only mode: the session is
				// local to this server (not logged) and can only read.
				close(w.done)
				continue
			}
			s.refuse(w, err)
			continue
		}
		s.mu.RLock()
		s.nextZxid++
		x, err := s.prep.Prepare(w.req, s.nextZxid, time.Now().UnixMilli())
		s.mu.RUnlock()
		w.txn, w.err, w.zxid = x, err, x.Zxid
		w.raw = txn.Encode(x)
		s.committer.Commit(w)
	}
}

// apply applies a committed transaction to the tree, fires watches and
// builds the reply, all under the tree lock: a watch event is queued before
// any reply that reflects the change, to every connection.
func (s *Server) apply(w *pendingWrite) {
	if w.txn == nil { // sync barrier
		w.reply = encodeFrame(proto.ReplyHeader{Xid: w.xid, Zxid: s.LastZxid()}, func(e *jute.Encoder) { e.String(w.path) })
		close(w.done)
		return
	}
	x := w.txn
	s.mu.Lock()
	res, err := s.tree.Apply(x)
	if err != nil {
		s.log.Error("transaction did not apply cleanly", "zxid", hexZxid(x.Zxid), "type", x.Type, "error", err)
	}
	s.lastZxid.Store(x.Zxid)
	s.prep.Applied(x.Zxid)
	s.fireWatches(res.Events, x.Zxid)
	if w.conn != nil {
		if isMoved(x) {
			w.moved = true
		} else {
			w.reply = s.writeReply(w, res)
		}
	}
	s.mu.Unlock()
	switch x.Type {
	case proto.OpCreateSession:
		if b, ok := x.Body.(*txn.CreateSession); ok && s.isCluster() {
			s.sessions.add(x.SessionID, time.Duration(b.Timeout)*time.Millisecond, time.Now())
		}
	case proto.OpCloseSession:
		if c := s.sessions.remove(x.SessionID); c != nil && c != w.conn {
			c.close() // expired by the leader, or closed elsewhere
		}
	}
	s.snapshotter.applied()
	close(w.done)
}

// fireWatches queues a notification for every connection a trigger fires,
// if that connection may read the node (ZOOKEEPER-4799).
func (s *Server) fireWatches(events []tree.Event, zxid int64) {
	for _, ev := range events {
		ids := s.watches.Trigger(ev.Type, ev.Path)
		if len(ids) == 0 {
			continue
		}
		frame := encodeFrame(proto.ReplyHeader{Xid: proto.XidNotification, Zxid: zxid}, func(e *jute.Encoder) {
			(&proto.WatcherEvent{Type: ev.Type, State: proto.StateSyncConnected, Path: ev.Path}).Encode(e)
		})
		for _, id := range ids {
			c := s.conn(id)
			if c == nil {
				continue
			}
			if !s.cfg.SkipACL && !aclAllows(ev.ACL, proto.PermRead, c.identities()) {
				continue
			}
			c.send(frame)
		}
	}
}

// writeReply builds the client's reply from the applied transaction.
func (s *Server) writeReply(w *pendingWrite, res tree.Result) []byte {
	x := w.txn
	h := proto.ReplyHeader{Xid: w.xid, Zxid: x.Zxid}
	if e, ok := x.Body.(*txn.Error); ok {
		h.Err = e.Code
		return encodeFrame(h, nil)
	}
	stat := func(i int) *proto.Stat {
		if i < len(res.Stats) {
			return &res.Stats[i]
		}
		return &proto.Stat{}
	}
	switch b := x.Body.(type) {
	case *txn.Create:
		return encodeFrame(h, func(e *jute.Encoder) {
			e.String(b.Path)
			if w.req.Type != proto.OpCreate {
				stat(0).Encode(e)
			}
		})
	case *txn.SetData, *txn.SetACL:
		return encodeFrame(h, func(e *jute.Encoder) { stat(0).Encode(e) })
	case *txn.Multi:
		results := make([]proto.MultiResult, len(b.Ops))
		for i, op := range b.Ops {
			r := proto.MultiResult{Type: w.req.Multi[i].Type}
			switch ob := op.Body.(type) {
			case *txn.Error:
				r.Type, r.Err = proto.OpError, ob.Code
			case *txn.Create:
				r.Path = ob.Path
				if r.Type != proto.OpCreate {
					r.Type = proto.OpCreate2
					r.Stat = stat(i)
				}
			case *txn.SetData:
				r.Stat = stat(i)
			}
			results[i] = r
		}
		return encodeFrame(h, func(e *jute.Encoder) { proto.EncodeMultiResponse(e, results) })
	}
	return encodeFrame(h, nil)
}
