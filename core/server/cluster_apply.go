package server

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/core/zab"
)

// clusterApplier is the driver seen as the executor's replica.Applier: the
// server's tree is the state machine.
type clusterApplier driver

// Restore loads the snapshot the executor's storage just installed (SNAP
// from the leader), streaming it from its file, and replaces the tree.
func (a *clusterApplier) Restore(snap zab.Snapshot) error {
	d := (*driver)(a)
	s := d.s
	t := tree.New()
	if snap.Zxid > 0 {
		r, err := s.disk.snaps.Open(snap.Zxid)
		if err != nil {
			return err
		}
		t, err = tree.ReadSnapshot(r, snap.Zxid)
		r.Close()
		if err != nil {
			return fmt.Errorf("snapshot from the leader: %w", err)
		}
	}
	s.mu.RLock()
	old := s.tree
	s.mu.RUnlock()
	s.replaceTree(t)
	d.log.Info("installed snapshot from the leader", "zxid", hexZxid(snap.Zxid), "nodes", t.NodeCount())
	// Clients kept through a leader change still watch the old tree.
	if events := snapshotEvents(s.watches, old, t); len(events) > 0 {
		d.log.Info("watches fired by the snapshot", "events", len(events))
		s.fireWatches(events, t.LastZxid())
	}
	return nil
}

// Apply applies one committed transaction, answering the local client that
// asked for it, if any.
func (a *clusterApplier) Apply(e zab.Entry) {
	d := (*driver)(a)
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
		d.forgetCarrier(x.SessionID)
	}
	d.s.apply(w)
}

// clusterNotifier is the driver seen as the executor's replica.Notifier.
type clusterNotifier driver

// SyncDone answers a local sync() once everything before it is applied.
func (n *clusterNotifier) SyncDone(tok []byte) {
	d := (*driver)(n)
	if len(tok) != 8 {
		return
	}
	id := binary.BigEndian.Uint64(tok)
	if w := d.syncs[id]; w != nil {
		delete(d.syncs, id)
		d.s.apply(w)
	}
}

// Forwarded proposes a request a learner forwarded to this leader.
func (n *clusterNotifier) Forwarded(from uint64, data []byte) { (*driver)(n).forwarded(from, data) }

// Pinged renews the sessions a learner saw activity for.
// A learner that serves observers (a relay) passes them on upstream with
// its own, so the leader, which owns expiry, hears of them.
func (n *clusterNotifier) Pinged(from uint64, data []byte) {
	d := (*driver)(n)
	relay := d.exec.Role() != zab.Leading
	now := time.Now()
	for b := data; len(b) >= 8; b = b[8:] {
		sid := int64(binary.BigEndian.Uint64(b))
		n.s.sessions.touch(sid, now)
		d.carried(from, sid)
		if relay {
			d.touch(sid)
		}
	}
}

// StorageFailed stops the server's writes and drops its clients: the disk
// failed under the protocol, and nothing more is acknowledged.
func (n *clusterNotifier) StorageFailed(err error) {
	s := n.s
	s.stopWrites(err)
	(*driver)(n).failAll("storage failed")
	s.closeAllClients()
}

// RoleChanged reacts to a new role or serving state.
func (n *clusterNotifier) RoleChanged(prevRole zab.ServerState, st zab.SoftState) {
	d := (*driver)(n)
	s := d.s
	wasServing := d.wasServing
	d.wasServing = st.Serving
	d.epoch = st.Epoch
	d.log.Info("role", "role", st.Role.String(), "leader", st.Leader, "epoch", st.Epoch, "serving", st.Serving)
	if prevRole != st.Role || (wasServing && !st.Serving) {
		// A leader's outstanding changes die with its leadership; its
		// proposals' fate is decided by the next epoch (leaderchange.go).
		s.mu.Lock()
		s.prep.Reset()
		s.mu.Unlock()
	}
	now := time.Now()
	if s.ro.markServing(st.Serving, now) {
		s.leaveReadOnly()
	}
	s.servingGate.set(st.Serving)
	switch {
	case wasServing && !st.Serving:
		d.lostLeader()
	case !wasServing && st.Serving:
		d.resumed(st.Epoch, now)
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
		s.ensureSessionSecret() // a deployment's first leader proposes one (secret.go)
	}
}
