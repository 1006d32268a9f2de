package zab

import "fmt"

// SyncMode is how a leader (or relay) brings a learner's log in line with
// its own.
type SyncMode int

const (
	SyncDiff  SyncMode = iota // the learner's last zxid is in our log: send what follows
	SyncTrunc                 // the learner has extra txns of a provable epoch: truncate, then send what follows
	SyncSnap                  // no provable common point (or compacted): send a snapshot, then what follows
)

func (s SyncMode) String() string { return [...]string{"DIFF", "TRUNC", "SNAP"}[s] }

// chooseSync decides how to sync a learner whose last logged zxid is
// peerLast, on the full (epoch, zxid) history, not on zxid ranges alone
// (ZOOKEEPER-1154):
//
//   - peerLast is a zxid of our log (or our snapshot zxid): both histories
//     agree up to it (one leader per epoch, and each learner synced with the
//     leader of every epoch it logged), so DIFF from it;
//   - otherwise let f be our largest zxid below peerLast. If f has the same
//     epoch as peerLast, the learner holds f too (it logged that epoch's
//     txns in order from the same leader): TRUNC to f, then DIFF;
//   - otherwise the learner's history after f cannot be proven to match
//     ours (the TRUNC would cross an epoch boundary): SNAP. Also SNAP when
//     peerLast is below our snapshot.
//
// It returns the mode and the zxid the learner's log ends at after the
// header (the point entries are sent after).
func (n *Node) chooseSync(peerLast int64) (SyncMode, int64) {
	if peerLast >= n.log.snapshotZxid() {
		if f, err := n.log.floor(peerLast); err == nil {
			if f == peerLast {
				return SyncDiff, peerLast
			}
			if EpochOf(f) == EpochOf(peerLast) {
				return SyncTrunc, f
			}
		}
	}
	return SyncSnap, n.log.snapshotZxid()
}

// sync sends a learner its whole sync stream at once: DIFF, TRUNC or SNAP,
// the txns after that point as PROPOSALs, a COMMIT for what is committed,
// then NEWLEADER. From then on the learner's stream also carries the
// broadcast traffic, queued after the sync stream on the same ordered
// channel, so nothing committed meanwhile is missed (ZOOKEEPER-4785).
//
// Followers get the whole log, observers only committed txns (they get the
// rest as INFORMs once committed). A snapshot that cannot be read drops the
// learner; a log that cannot be read whole, or has a hole, is returned as
// an error: whoever serves learners from a broken log must stop
// (ZOOKEEPER-4925).
func (lm *learnerMaster) sync(h *handler) error {
	n := lm.n
	mode, start := n.chooseSync(h.peerLast)
	switch mode {
	case SyncDiff:
		n.send(Message{Type: MsgDiff, To: h.id, Zxid: start})
	case SyncTrunc:
		n.send(Message{Type: MsgTrunc, To: h.id, Zxid: start})
	case SyncSnap:
		snap, err := n.log.snapshot()
		if err != nil {
			lm.drop(h.id, fmt.Sprintf("cannot read snapshot: %v", err))
			return nil
		}
		start = snap.Zxid
		n.send(Message{Type: MsgSnap, To: h.id, Zxid: snap.Zxid, Data: snap.Data, Blob: snap.Blob})
	}
	limit := n.log.lastZxid()
	if h.observer {
		limit = min(limit, n.committed)
	}
	ents, err := n.log.entries(start, limit)
	if err == nil {
		err = checkContiguous(start, ents)
	}
	if err != nil {
		return fmt.Errorf("reading the log to sync learner %d: %w", h.id, err)
	}
	end := start
	for _, e := range ents {
		n.send(Message{Type: MsgProposal, To: h.id, Zxid: e.Zxid, Data: e.Data})
		end = e.Zxid
	}
	if c := min(n.committed, end); c > 0 {
		n.send(Message{Type: MsgCommit, To: h.id, Zxid: c})
		h.commitSent = c
	}
	n.send(Message{Type: MsgNewLeader, To: h.id, Epoch: lm.epoch, Zxid: end})
	h.sent = end
	h.state = hStreaming
	if h.observer && lm.broadcasting() {
		// An observer's ack of NEWLEADER counts toward nothing: a master
		// that already serves sends UPTODATE right behind NEWLEADER, which
		// saves the observer a round trip (a WAN one for a relay). The
		// observer still acks; the ack is ignored.
		h.acked = end
		lm.upToDate(h)
	}
	n.llogger.Debug("syncing learner", "peer", h.id, "mode", mode, "peerLast", FormatZxid(h.peerLast),
		"from", FormatZxid(start), "to", FormatZxid(end), "txns", len(ents))
	return nil
}
