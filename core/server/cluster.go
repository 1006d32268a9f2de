package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/storage"
)

// PeerEvent is what a peer transport delivers: a message, or the news that
// the stream with a peer broke (delivered before any message of a new
// stream with that peer).
type PeerEvent = peer.Event

// PeerTransport carries ZAB messages between voters: one ordered stream per
// pair of servers (core/peer: TCP, and an in-memory twin for tests).
type PeerTransport = peer.Transport

// ClusterConfig makes a server a member of a replicated ensemble.
type ClusterConfig struct {
	Name      string            // cluster name, checked when peers connect
	Voters    []uint64          // ids of the voting members, this server included
	Peers     map[uint64]string // voter id -> peer address (host:port)
	InitLimit int               // ticks
	SyncLimit int               // ticks
	// Transport, when set, is used instead of TCP on Peers (tests).
	Transport PeerTransport
}

// openTransport starts the TCP transport on this voter's peer address.
func (s *Server) openTransport() (PeerTransport, error) {
	cc := s.cfg.Cluster
	if cc.Transport != nil {
		return cc.Transport, nil
	}
	pc := peer.DefaultTCPConfig(uint64(s.cfg.ServerID))
	pc.ListenAddr = cc.Peers[uint64(s.cfg.ServerID)]
	pc.Peers = cc.Peers
	pc.Cluster = cc.Name
	return peer.NewTCP(pc, s.log.Named("peer"))
}

// zabTickMax is the longest protocol tick: elections resend votes every
// two of them and wait one for a better vote before deciding.
const (
	zabTickMax   = 25 * time.Millisecond
	finalizeWait = 100 * time.Millisecond
)

// writeKey identifies a client write across the ensemble: the session and
// the request's xid (createSession and expiry use xid 0).
type writeKey struct {
	session int64
	cxid    int32
}

// driver runs the ZAB state machine for a voter: it is the only goroutine
// that touches the zab.Node, and it executes each Ready in the order the
// durability contract demands (core/zab/doc.go): truncate or install a
// snapshot, append entries (fsync), persist epochs (fsync), only then send,
// then apply what committed.
type driver struct {
	s       *Server
	node    *zab.Node
	view    *logView
	tr      PeerTransport
	log     hclog.Logger
	compact chan int64

	pending map[writeKey]*pendingWrite // local writes waiting for their commit
	owners  map[int64]uint64           // leader: the voter each session is connected to (owners.go)
	syncs   map[uint64]*pendingWrite   // local sync() calls waiting for SyncDone
	token   uint64

	zabTick time.Duration              // how often the node is ticked
	status  atomic.Pointer[zab.Status] // refreshed after every Ready, for mntr

	role    atomic.Int32 // zab.ServerState
	serving atomic.Bool
	leader  atomic.Uint64

	touchMu sync.Mutex
	touched map[int64]struct{} // sessions seen since the last ping (learners)
}

func (s *Server) isCluster() bool { return s.cfg.Cluster != nil }

// serving reports whether this server may answer clients.
func (s *Server) serving() bool { return s.driver == nil || s.driver.serving.Load() }

// isLeader reports whether this server leads (standalone servers do).
func (s *Server) isLeader() bool {
	return s.driver == nil || zab.ServerState(s.driver.role.Load()) == zab.Leading
}

// newDriver prepares the ZAB node from the recovered disk. In a cluster the
// tree holds only the snapshot: logged entries after it may not have been
// committed, so they are applied only when a leader commits them (again).
func (s *Server) newDriver(t *tree.Tree, snapZxid int64) (*driver, error) {
	cc := s.cfg.Cluster
	d := &driver{
		s: s, log: s.log.Named("zab.driver"),
		compact: make(chan int64, 4),
		pending: make(map[writeKey]*pendingWrite),
		syncs:   make(map[uint64]*pendingWrite),
		touched: make(map[int64]struct{}),
	}
	d.view = newLogView(s.disk.snaps, snapZxid)
	err := s.disk.log.Iterate(snapZxid, func(r storage.Record) error {
		return d.view.mem.Append(zab.Entry{Zxid: r.Zxid, Data: append([]byte(nil), r.Payload...)})
	})
	if err != nil {
		return nil, fmt.Errorf("%w: loading the log after the snapshot: %w", ErrRecovery, err)
	}
	accepted, _, err := storage.ReadEpoch(s.disk.fs, s.cfg.DataDir, "acceptedEpoch")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	current, _, err := storage.ReadEpoch(s.disk.fs, s.cfg.DataDir, "currentEpoch")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	zc := zab.DefaultConfig()
	zc.ID = uint64(s.cfg.ServerID)
	zc.Voters = cc.Voters
	// The protocol runs on a finer clock than tickTime, so that an election
	// (vote resends, the finalize wait) takes tens of milliseconds, not
	// seconds; initLimit and syncLimit keep their meaning in tickTime units.
	d.zabTick = min(s.cfg.Tick, zabTickMax)
	scale := int(s.cfg.Tick / d.zabTick)
	if cc.InitLimit > 0 {
		zc.InitLimit = cc.InitLimit
	}
	if cc.SyncLimit > 0 {
		zc.SyncLimit = cc.SyncLimit
	}
	zc.InitLimit *= scale
	zc.SyncLimit *= scale
	// Wait ~100 ms for a better vote once one has a quorum (ZooKeeper's
	// finalizeWait is 200 ms): long enough for the votes of servers that are
	// up to arrive, short enough for a quick failover.
	zc.FinalizeTicks = int(finalizeWait / d.zabTick)
	zc.Rand = rand.New(rand.NewSource(time.Now().UnixNano() ^ s.cfg.ServerID))
	zc.Logger = s.log.Named("zab")
	zc.Log = d.view
	zc.AcceptedEpoch, zc.CurrentEpoch = accepted, current
	zc.LastCommittedZxid = snapZxid
	if d.node, err = zab.New(zc); err != nil {
		return nil, err
	}
	if d.tr, err = s.openTransport(); err != nil {
		return nil, fmt.Errorf("peer transport: %w", err)
	}
	d.role.Store(int32(zab.Looking))
	return d, nil
}

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

// run is the driver goroutine.
func (d *driver) run() {
	s := d.s
	defer s.wg.Done()
	ticker := time.NewTicker(d.zabTick)
	defer ticker.Stop()
	d.process()
	for {
		select {
		case <-s.closing:
			d.failAll("server closing")
			return
		case <-ticker.C:
			if b := d.takeTouched(); b != nil {
				d.node.SetPingData(b)
			}
			d.node.Tick()
		case <-d.tr.Notify():
			for {
				ev, ok := d.tr.Recv()
				if !ok {
					break
				}
				// Step everything that is waiting before processing the
				// Ready: the proposals that arrived together are then logged
				// with one fsync (group commit on followers too).
				if ev.Msg != nil {
					if err := d.node.Step(*ev.Msg); err != nil {
						d.log.Debug("message refused", "msg", ev.Msg.String(), "error", err)
					}
				} else {
					d.node.Disconnected(ev.Broken)
				}
			}
		case w := <-s.writes:
			d.handleWrite(w)
			// Take whatever else is queued, so one Ready (one fsync) carries it all.
			for more := true; more; {
				select {
				case w := <-s.writes:
					d.handleWrite(w)
				default:
					more = false
				}
			}
		case z := <-d.compact:
			if err := d.view.mem.Compact(zab.Snapshot{Zxid: z}); err != nil {
				d.log.Debug("log view not compacted", "zxid", hexZxid(z), "error", err)
			}
		}
		d.process()
	}
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
	if !d.serving.Load() {
		d.fail(w)
		return
	}
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
	leading := zab.ServerState(d.role.Load()) == zab.Leading
	if w.req.Type == opClaimSession {
		if leading {
			d.claim(w.req.SessionID, d.node.ID())
		} else if err := d.node.Forward(encodeForward(w.req, nil)); err != nil {
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
	} else if err := d.node.Forward(encodeForward(w.req, w.body)); err != nil {
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
}

// process executes Ready batches until there are none.
func (d *driver) process() {
	for d.node.HasReady() {
		rd := d.node.Ready()
		// In the broadcast phase (no epoch change, truncation or snapshot
		// in the Ready, which keep the strict order of zab.Ready) two
		// things happen before this Ready's fsync, each taking an fsync
		// off a write's path:
		//
		//  - Committed entries are applied and their clients answered.
		//    They are durable on a quorum already; a crash before this
		//    fsync loses nothing the ensemble committed (a restarted
		//    server syncs from the leader before it serves).
		//  - A leader sends everything (as etcd raft does), so followers
		//    log a proposal while the leader does; a follower sends the
		//    requests it forwards. Neither acknowledges anything this
		//    Ready persists. A leader's proposals earn ACKs, but this
		//    goroutine persists the Ready before it steps anything else,
		//    so those ACKs count only once the leader's copy is durable
		//    too: a commit still means a durable quorum. A follower's
		//    ACKs go out only after the fsync.
		plain := rd.SoftState == nil && rd.HardState == nil && rd.Snapshot == nil && !rd.Truncate
		role := zab.ServerState(d.role.Load())
		sentEarly := plain && role == zab.Leading
		switch {
		case sentEarly:
			d.send(rd)
		case plain && role == zab.Following:
			d.sendForwardsEarly(&rd)
		}
		if plain {
			d.applyCommitted(rd)
		}
		if err := d.persist(rd); err != nil {
			// The disk failed under the protocol: stop, rather than send
			// acknowledgements for state that is not durable.
			d.s.stopWrites(err)
			d.log.Error("cannot persist ZAB state; this voter stops", "error", err)
			d.serving.Store(false)
			d.s.closeAllClients()
			return
		}
		if !sentEarly {
			d.send(rd)
		}
		if !plain {
			d.applyCommitted(rd)
		}
		for _, tok := range rd.SyncDone {
			if len(tok) == 8 {
				id := binary.BigEndian.Uint64(tok)
				if w := d.syncs[id]; w != nil {
					delete(d.syncs, id)
					d.s.apply(w)
				}
			}
		}
		if rd.SoftState != nil {
			d.roleChanged(*rd.SoftState)
		}
		for _, m := range rd.Pings {
			for b := m.Data; len(b) >= 8; b = b[8:] {
				d.s.sessions.touch(int64(binary.BigEndian.Uint64(b)), time.Now())
			}
		}
		d.node.Advance(rd)
		st := d.node.Status()
		d.status.Store(&st)
		// Proposing is only allowed once the Ready is acknowledged.
		for _, m := range rd.Requests {
			d.forwarded(m.From, m.Data)
		}
	}
}

// applyCommitted applies a Ready's committed entries in order.
func (d *driver) applyCommitted(rd zab.Ready) {
	for _, e := range rd.Committed {
		d.applyEntry(e)
	}
}

// sendForwardsEarly sends a follower's forwarded requests (REQUEST) ahead
// of the rest of the Ready and removes them from rd.Messages, keeping the
// order of the others. The Ready's slice is the driver's: it is filtered in
// place.
func (d *driver) sendForwardsEarly(rd *zab.Ready) {
	rest := rd.Messages[:0]
	for _, m := range rd.Messages {
		if m.Type == zab.MsgRequest {
			d.tr.Send(m.To, m)
		} else {
			rest = append(rest, m)
		}
	}
	rd.Messages = rest
}

// send hands a Ready's messages to the transport and closes the streams it
// drops, in the Ready's order.
func (d *driver) send(rd zab.Ready) {
	for _, m := range rd.Messages {
		d.tr.Send(m.To, m)
	}
	for _, p := range rd.Disconnect {
		d.tr.CloseStream(p)
	}
}

// persist performs steps 1-3 of a Ready, each durable before the next.
func (d *driver) persist(rd zab.Ready) error {
	s := d.s
	lg := s.disk.log
	switch {
	case rd.Snapshot != nil:
		if err := d.installSnapshot(*rd.Snapshot); err != nil {
			return err
		}
	case rd.Truncate:
		if err := lg.TruncateAfter(rd.TruncateAfter); err != nil {
			return err
		}
		if err := d.view.mem.TruncateAfter(rd.TruncateAfter); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		recs := make([]storage.Record, len(rd.Entries))
		for i, e := range rd.Entries {
			recs[i] = storage.Record{Zxid: e.Zxid, Payload: e.Data}
		}
		if err := lg.AppendSync(recs); err != nil {
			return err
		}
		if err := d.view.mem.Append(rd.Entries...); err != nil {
			return err
		}
	}
	if hs := rd.HardState; hs != nil {
		// Durability order: the entries above are fsynced; only now the
		// epochs, and only after both do the messages (ACKs) go out.
		if err := storage.WriteEpoch(s.disk.fs, s.cfg.DataDir, "acceptedEpoch", hs.AcceptedEpoch); err != nil {
			return err
		}
		if err := storage.WriteEpoch(s.disk.fs, s.cfg.DataDir, "currentEpoch", hs.CurrentEpoch); err != nil {
			return err
		}
	}
	return nil
}

// installSnapshot makes a snapshot received from the leader (SNAP) durable
// and loads it: the snapshot file first, then the old log goes, then the
// tree is replaced.
func (d *driver) installSnapshot(snap zab.Snapshot) error {
	s := d.s
	t := tree.New()
	if snap.Zxid > 0 {
		w, err := s.disk.snaps.Create(snap.Zxid)
		if err != nil {
			return err
		}
		if _, err := w.Write(snap.Data); err != nil {
			w.Abort()
			return err
		}
		if err := w.Commit(); err != nil {
			return err
		}
		if t, err = tree.ReadSnapshot(bytes.NewReader(snap.Data), snap.Zxid); err != nil {
			return fmt.Errorf("snapshot from the leader: %w", err)
		}
	}
	if err := s.disk.log.TruncateAfter(0); err != nil {
		return err
	}
	d.view.mem.InstallSnapshot(zab.Snapshot{Zxid: snap.Zxid})
	s.replaceTree(t)
	d.log.Info("installed snapshot from the leader", "zxid", hexZxid(snap.Zxid), "nodes", t.NodeCount())
	return nil
}

// applyEntry applies one committed transaction, answering the local client
// that asked for it, if any.
func (d *driver) applyEntry(e zab.Entry) {
	x, err := txn.DecodeShared(e.Data) // log entries are never modified
	if err != nil {
		d.log.Error("committed entry does not decode; skipped", "zxid", hexZxid(e.Zxid), "error", err)
		return
	}
	x.Zxid = e.Zxid
	key := writeKey{x.SessionID, x.Cxid}
	w := d.pending[key]
	if w != nil && w.req != nil && w.req.Type != x.Type && x.Type != proto.OpError {
		w = nil // same session and xid, different request: not ours
	}
	if w != nil {
		delete(d.pending, key)
	} else {
		w = &pendingWrite{done: make(chan struct{})}
	}
	w.txn, w.zxid, w.raw = x, x.Zxid, e.Data
	if x.Type == proto.OpCloseSession {
		delete(d.owners, x.SessionID)
	}
	d.s.apply(w)
}

// forwarded handles a request a learner forwarded to this leader.
func (d *driver) forwarded(from uint64, b []byte) {
	req, body, err := decodeForward(b)
	if err == nil && req.Type == opClaimSession {
		d.claim(req.SessionID, from)
		return
	}
	if err == nil {
		_, err = d.s.decodeWrite(req, body)
	}
	if err != nil {
		d.log.Warn("forwarded request does not decode; dropped", "error", err)
		return
	}
	d.propose(req, from)
}

// roleChanged reacts to a new role or serving state.
func (d *driver) roleChanged(st zab.SoftState) {
	s := d.s
	wasServing := d.serving.Load()
	prevRole := zab.ServerState(d.role.Swap(int32(st.Role)))
	d.leader.Store(st.Leader)
	d.serving.Store(st.Serving)
	d.log.Info("role", "role", st.Role.String(), "leader", st.Leader, "epoch", st.Epoch, "serving", st.Serving)
	if prevRole != st.Role || (wasServing && !st.Serving) {
		d.failAll("role changed to " + st.Role.String())
		s.mu.Lock()
		s.prep.Reset()
		s.mu.Unlock()
	}
	if wasServing && !st.Serving {
		s.closeAllClients()
	}
	if st.Role == zab.Leading && prevRole != zab.Leading {
		d.owners = nil // learned again from claims and writes (owners.go)
	}
	if st.Role == zab.Leading && st.Serving {
		// The new leader owns session expiry: every known session gets a
		// fresh deadline.
		s.mu.RLock()
		sessions := make(map[int64]int32, len(s.tree.Sessions()))
		for id, to := range s.tree.Sessions() {
			sessions[id] = to
		}
		s.mu.RUnlock()
		now := time.Now()
		for id, to := range sessions {
			s.sessions.add(id, time.Duration(to)*time.Millisecond, now)
		}
	}
}

// encodeForward encodes a write for the leader: the request's identity, the
// caller's auth identities and the request body as the client sent it.
func encodeForward(req *prep.Request, body []byte) []byte {
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
	return e.Bytes()
}

var errBadForward = errors.New("malformed forwarded request")

// decodeForward decodes encodeForward's bytes; the body is a view into b.
func decodeForward(b []byte) (*prep.Request, []byte, error) {
	d := jute.NewDecoder(b, 0).ShareBuffers()
	req := &prep.Request{SessionID: d.Long("session"), Cxid: d.Int("cxid"), Type: proto.Op(d.Int("type")), Timeout: d.Int("timeout")}
	n := d.VectorLen("auth", 8)
	for i := 0; i < n; i++ {
		req.Auth = append(req.Auth, proto.ID{Scheme: d.String("scheme"), ID: d.String("id")})
	}
	body := d.Buffer("body")
	if err := d.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadForward, err)
	}
	return req, body, nil
}
