package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/core/zab"
)

// The write side of a replicated server, on the driver goroutine: client
// writes and sync() calls become proposals (leader) or REQUESTs to the
// leader (learners), and session touches ride on pings.

// touch records a client session's activity for the next ping to the leader.
func (d *driver) touch(sid int64) {
	d.touchMu.Lock()
	d.touched[sid] = struct{}{}
	d.touchMu.Unlock()
}

func (d *driver) takeTouched() []byte {
	d.touchMu.Lock()
	defer d.touchMu.Unlock()
	if len(d.touched) == 0 {
		return nil
	}
	b := make([]byte, 0, 8*len(d.touched))
	for sid := range d.touched {
		b = binary.BigEndian.AppendUint64(b, uint64(sid))
	}
	d.touched = make(map[int64]struct{})
	return b
}

// nextZxid predicts the zxid Propose will assign, so prep can record its
// outstanding changes under it (Propose's answer is checked against it).
func (d *driver) nextZxid() int64 {
	st := d.node.Status()
	last := st.LastLogged
	if zab.EpochOf(last) < st.Established {
		return zab.MakeZxid(st.Established, 1)
	}
	return last + 1
}

func (d *driver) handleWrite(w *pendingWrite) {
	now := time.Now()
	d.stamp(w, now)
	if !d.exec.Serving() {
		if !d.hold(w, now) {
			d.fail(w)
		}
		return
	}
	w.epoch, w.held = d.epoch, false
	if w.req == nil { // sync
		d.token++
		tok := binary.BigEndian.AppendUint64(nil, d.token)
		if err := d.node.Sync(tok); err != nil {
			d.fail(w)
			return
		}
		d.syncs[d.token] = w
		return
	}
	leading := d.exec.Role() == zab.Leading
	if w.req.Type == opClaimSession {
		if leading {
			d.claim(w.req.SessionID, d.node.ID())
		} else if err := d.node.Forward(encodeForward(w.req, nil, d.node.ID())); err != nil {
			d.log.Debug("session claim not forwarded", "session", hexZxid(w.req.SessionID), "error", err)
		}
		close(w.done)
		return
	}
	key := writeKey{w.req.SessionID, w.req.Cxid}
	if leading {
		// Client writes are checked against the session's owner; the
		// server's own (createSession is a client's too) are not.
		via := uint64(0)
		if w.conn != nil || w.req.Type == proto.OpCreateSession {
			via = d.node.ID()
		}
		if !d.propose(w.req, via) {
			d.fail(w)
			return
		}
	} else if err := d.node.Forward(encodeForward(w.req, w.body, d.node.ID())); err != nil {
		d.fail(w)
		return
	}
	if w.conn != nil || w.req.Type == proto.OpCreateSession {
		d.pending[key] = w // someone waits for it
	}
}

// propose preps a request against the tree plus outstanding proposals and
// proposes the resulting transaction (leader only). via is the voter the
// client's request came through, 0 for the server's own writes.
func (d *driver) propose(req *prep.Request, via uint64) bool {
	s := d.s
	zxid := d.nextZxid()
	var x *txn.Txn
	if via != 0 && d.moved(req, via) {
		x = movedTxn(req)
	} else {
		s.mu.RLock()
		x, _ = s.prep.Prepare(req, zxid, time.Now().UnixMilli())
		s.mu.RUnlock()
	}
	got, err := d.node.Propose(txn.Encode(x))
	if err != nil {
		d.log.Warn("proposal refused", "error", err)
		s.prep.Reset()
		return false
	}
	if got != zxid {
		d.log.Error("zxid prediction was wrong; outstanding changes reset", "predicted", hexZxid(zxid), "assigned", hexZxid(got))
		s.mu.Lock()
		s.prep.Reset()
		s.mu.Unlock()
	}
	return true
}

// fail ends a local write whose outcome is unknown: its client is
// disconnected (it sees a connection loss, as with a ZooKeeper leader change).
func (d *driver) fail(w *pendingWrite) {
	w.unknown = true
	close(w.done)
}

func (d *driver) failAll(why string) {
	if len(d.pending)+len(d.syncs) > 0 {
		d.log.Info("dropping clients with requests in flight", "why", why, "writes", len(d.pending), "syncs", len(d.syncs))
	}
	for k, w := range d.pending {
		d.fail(w)
		delete(d.pending, k)
	}
	for k, w := range d.syncs {
		d.fail(w)
		delete(d.syncs, k)
	}
	for _, w := range append(d.waiting, d.resend...) {
		d.fail(w)
	}
	d.waiting, d.resend = nil, nil
	d.waitingCount.Store(0)
}

// forwarded handles a request a learner forwarded to this leader. The
// session's owner is the server that holds the client's connection (the
// request's origin), not the learner that passed it on: an observer that
// moves from one relay to another keeps its sessions.
func (d *driver) forwarded(from uint64, b []byte) {
	req, body, origin, err := decodeForward(b)
	owner := from
	if origin != 0 {
		owner = origin
	}
	if err == nil && req.Type == opClaimSession {
		d.claim(req.SessionID, owner)
		return
	}
	if err == nil {
		_, err = d.s.decodeWrite(req, body)
	}
	if err != nil {
		d.log.Warn("forwarded request does not decode; dropped", "error", err)
		return
	}
	d.carried(from, req.SessionID) // a new session is held from its creation on
	d.propose(req, owner)
}

// encodeForward encodes a write for the leader: the request's identity, the
// caller's auth identities, the request body as the client sent it, and
// the id of the server holding the client's connection (relays pass the
// bytes on unchanged).
func encodeForward(req *prep.Request, body []byte, origin uint64) []byte {
	e := jute.NewEncoder(make([]byte, 0, 64+len(body)))
	e.Long(req.SessionID)
	e.Int(req.Cxid)
	e.Int(int32(req.Type))
	e.Int(req.Timeout)
	e.VectorLen(len(req.Auth))
	for _, id := range req.Auth {
		e.String(id.Scheme)
		e.String(id.ID)
	}
	e.NonNullBuffer(body)
	e.Long(int64(origin))
	return e.Bytes()
}

var errBadForward = errors.New("malformed forwarded request")

// decodeForward decodes encodeForward's bytes; the body is a view into b.
// origin is 0 from a server that did not send one (an older version).
func decodeForward(b []byte) (req *prep.Request, body []byte, origin uint64, err error) {
	d := jute.NewDecoder(b, 0).ShareBuffers()
	req = &prep.Request{SessionID: d.Long("session"), Cxid: d.Int("cxid"), Type: proto.Op(d.Int("type")), Timeout: d.Int("timeout")}
	n := d.VectorLen("auth", 8)
	for i := 0; i < n; i++ {
		req.Auth = append(req.Auth, proto.ID{Scheme: d.String("scheme"), ID: d.String("id")})
	}
	body = d.Buffer("body")
	if d.Err() == nil && d.Remaining() > 0 {
		origin = uint64(d.Long("origin"))
	}
	if err := d.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", errBadForward, err)
	}
	return req, body, origin, nil
}
