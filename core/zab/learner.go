package zab

import "fmt"

// learnerPhase is where a follower or observer stands with its leader.
type learnerPhase int

const (
	lphDiscovery learnerPhase = iota // FOLLOWERINFO/OBSERVERINFO sent, waiting for LEADERINFO
	lphSync                          // ACKEPOCH sent, receiving the sync stream
	lphSynced                        // NEWLEADER acked, waiting for UPTODATE
	lphBroadcast                     // UPTODATE received: serving
)

func (p learnerPhase) String() string {
	return [...]string{"discovery", "sync", "synced", "broadcast"}[p]
}

// learnerState is the learner side of ZAB, shared by followers and
// observers (and by observers that learn from a relay across a WAN: nothing
// here assumes the leader is a voter on the same LAN).
type learnerState struct {
	observer  bool
	phase     learnerPhase
	newEpoch  int64
	gotHeader bool // DIFF/TRUNC/SNAP received in this sync
	lastHeard int64
	// upCommitted is the highest zxid the upstream said is committed (in
	// PING, COMMIT and INFORM): what Status's lag is measured against.
	upCommitted int64
}

func (n *Node) startLearning(info MessageType) {
	n.learn = &learnerState{observer: info == MsgObserverInfo, phase: lphDiscovery, lastHeard: n.now}
	if n.cfg.ServeLearners {
		n.master = newLearnerMaster(n, 0)
	}
	n.lrlogger.Info("joining leader", "leader", n.leaderID, "as", n.state,
		"acceptedEpoch", n.acceptedEpoch, "lastZxid", FormatZxid(n.log.lastZxid()))
	n.send(Message{Type: info, To: n.leaderID, Epoch: n.acceptedEpoch, Zxid: n.log.lastZxid()})
}

func (n *Node) stepFollowing(m Message) {
	if m.Type == MsgInform {
		n.learnerFail(fmt.Errorf("%w: INFORM sent to a follower", ErrProtocol))
		return
	}
	n.stepLearner(m)
}

func (n *Node) stepObserving(m Message) {
	n.stepLearner(m)
}

func (n *Node) learnerFail(err error) {
	n.lrlogger.Warn("leaving leader", "leader", n.leaderID, "error", err)
	n.becomeLooking(err.Error())
}

func (n *Node) stepLearner(m Message) {
	if m.Type == MsgVote {
		n.replyToVote(m)
		return
	}
	if m.From != n.leaderID {
		if n.master != nil {
			n.stepDownstream(m)
		}
		return
	}
	ls := n.learn
	ls.lastHeard = n.now
	if m.Type == MsgPing {
		ls.upCommitted = max(ls.upCommitted, m.Zxid)
		n.send(Message{Type: MsgPing, To: n.leaderID, Zxid: n.log.lastZxid(), Data: n.pingData})
		n.pingData = nil
		return
	}
	if ls.phase == lphDiscovery && m.Type != MsgLeaderInfo {
		return // left over from an earlier stream with this leader
	}
	var err error
	switch m.Type {
	case MsgLeaderInfo:
		err = n.onLeaderInfo(m)
	case MsgDiff, MsgTrunc, MsgSnap:
		err = n.onSyncHeader(m)
	case MsgProposal:
		err = n.onProposal(m)
	case MsgCommit:
		err = n.learnerCommit(m.Zxid)
	case MsgInform:
		err = n.onInform(m)
	case MsgNewLeader:
		err = n.onNewLeader(m)
	case MsgUpToDate:
		if ls.phase != lphSynced {
			err = fmt.Errorf("%w: UPTODATE in phase %s", ErrProtocol, ls.phase)
			break
		}
		ls.phase = lphBroadcast
		n.lrlogger.Info("up to date, serving", "leader", n.leaderID, "epoch", n.currentEpoch,
			"lastZxid", FormatZxid(n.log.lastZxid()))
		if n.master != nil {
			n.startServing()
		}
	case MsgSync:
		if ls.phase < lphSynced {
			err = fmt.Errorf("%w: SYNC before NEWLEADER", ErrProtocol)
			break
		}
		if m.Flags&FlagRelayed != 0 {
			n.passSyncDown(m)
			break
		}
		n.syncDone = append(n.syncDone, m.Data)
	default:
		n.lrlogger.Debug("ignoring", "msg", m.Type)
	}
	if err != nil {
		n.learnerFail(err)
	}
}

// onLeaderInfo: persist the new epoch as acceptedEpoch (it goes out in the
// same Ready as the ACKEPOCH, before it: step 3 precedes step 4), or give
// up if the leader's epoch is older than one we promised.
func (n *Node) onLeaderInfo(m Message) error {
	ls := n.learn
	e := m.Epoch
	var flags Flags
	switch {
	case e < n.acceptedEpoch && !ls.observer:
		return fmt.Errorf("%w: leader proposes epoch %d below our acceptedEpoch %d", ErrProtocol, e, n.acceptedEpoch)
	case e < n.acceptedEpoch:
		// An observer's promise protects no quorum: follow the leader
		// there is.
		n.acceptedEpoch = e
		n.currentEpoch = min(n.currentEpoch, e)
		n.hardDirty = true
	case e == n.acceptedEpoch:
		// Already promised this epoch: ack without counting toward its quorum.
		flags = FlagEpochAlreadyAccepted
	default:
		n.acceptedEpoch = e
		n.hardDirty = true
	}
	ls.newEpoch = e
	ls.phase = lphSync
	ls.gotHeader = false
	n.send(Message{Type: MsgAckEpoch, To: n.leaderID, Epoch: n.currentEpoch, Zxid: n.log.lastZxid(), Flags: flags})
	return nil
}

func (n *Node) onSyncHeader(m Message) error {
	ls := n.learn
	if ls.phase != lphSync || ls.gotHeader {
		return fmt.Errorf("%w: %s outside the start of a sync", ErrProtocol, m.Type)
	}
	ls.gotHeader = true
	switch m.Type {
	case MsgDiff:
		if m.Zxid != n.log.lastZxid() {
			return fmt.Errorf("%w: DIFF from %s but our log ends at %s", ErrProtocol,
				FormatZxid(m.Zxid), FormatZxid(n.log.lastZxid()))
		}
	case MsgTrunc:
		if m.Zxid < n.committed {
			// Committed txns are never rolled back; a leader asking for it
			// lacks committed history.
			return fmt.Errorf("%w: TRUNC to %s below our committed %s", ErrProtocol,
				FormatZxid(m.Zxid), FormatZxid(n.committed))
		}
		if err := n.log.truncateAfter(m.Zxid); err != nil {
			return err
		}
	case MsgSnap:
		// The snapshot replaces log and state; it is installed durably in
		// step 1 of the Ready, before the NEWLEADER ack can go out
		// (ZOOKEEPER-3642). Commits not yet handed out are superseded.
		n.log.installSnapshot(Snapshot{Zxid: m.Zxid, Data: m.Data, Blob: m.Blob})
		n.committed = m.Zxid
		n.toApply = nil
	}
	n.lrlogger.Debug("sync", "mode", m.Type, "zxid", FormatZxid(m.Zxid))
	return nil
}

// onProposal logs a transaction. During sync nothing is acked: the
// NEWLEADER ack covers the whole stream. Afterwards each proposal is acked
// once durable (the ACK leaves in step 4 of the Ready that appends it).
func (n *Node) onProposal(m Message) error {
	ls := n.learn
	if ls.phase == lphSync && !ls.gotHeader {
		return fmt.Errorf("%w: PROPOSAL before DIFF/TRUNC/SNAP", ErrProtocol)
	}
	if ls.observer && ls.phase != lphSync {
		return fmt.Errorf("%w: PROPOSAL to an observer outside sync", ErrProtocol)
	}
	if err := n.log.append(Entry{Zxid: m.Zxid, Data: m.Data}); err != nil {
		return err
	}
	if ls.phase >= lphSynced && !ls.observer {
		n.send(Message{Type: MsgAck, To: n.leaderID, Zxid: m.Zxid})
	}
	return nil
}

// onInform: an observer logs and commits a transaction at once.
func (n *Node) onInform(m Message) error {
	if n.learn.phase < lphSynced {
		return fmt.Errorf("%w: INFORM before NEWLEADER", ErrProtocol)
	}
	if err := n.log.append(Entry{Zxid: m.Zxid, Data: m.Data}); err != nil {
		return err
	}
	return n.learnerCommit(m.Zxid)
}

// learnerCommit commits up to z (COMMIT, INFORM) and passes it on to this
// learner's own observers, if it serves any.
func (n *Node) learnerCommit(z int64) error {
	n.learn.upCommitted = max(n.learn.upCommitted, z)
	if err := n.commitTo(z); err != nil {
		return err
	}
	if n.master != nil && n.learn.phase == lphBroadcast {
		return n.master.commit(n.committed)
	}
	return nil
}

// onNewLeader ends the sync stream. The synced txns (step 2) and then
// currentEpoch (step 3) become durable before the ACK is sent (step 4):
// ZOOKEEPER-3911/4646 and 4643 are the bugs this order prevents.
func (n *Node) onNewLeader(m Message) error {
	ls := n.learn
	if ls.phase != lphSync || !ls.gotHeader {
		return fmt.Errorf("%w: NEWLEADER in phase %s", ErrProtocol, ls.phase)
	}
	if m.Epoch != ls.newEpoch {
		return fmt.Errorf("%w: NEWLEADER epoch %d, LEADERINFO said %d", ErrProtocol, m.Epoch, ls.newEpoch)
	}
	if m.Zxid != n.log.lastZxid() {
		return fmt.Errorf("%w: NEWLEADER at %s but our log ends at %s", ErrProtocol,
			FormatZxid(m.Zxid), FormatZxid(n.log.lastZxid()))
	}
	if n.currentEpoch != m.Epoch {
		n.currentEpoch = m.Epoch
		n.hardDirty = true
	}
	ls.phase = lphSynced
	n.send(Message{Type: MsgAck, To: n.leaderID, Flags: FlagNewLeader, Epoch: m.Epoch, Zxid: n.log.lastZxid()})
	return nil
}

func (n *Node) tickLearner() {
	ls := n.learn
	lim := n.limits(n.leaderID)
	limit := int64(lim.InitLimit)
	if ls.phase == lphBroadcast {
		limit = int64(lim.SyncLimit)
	}
	if n.now-ls.lastHeard > limit {
		n.learnerFail(fmt.Errorf("leader %d silent for %d ticks", n.leaderID, n.now-ls.lastHeard))
		return
	}
	if n.master != nil && ls.phase == lphBroadcast {
		n.master.tick(max(n.committed, ls.upCommitted))
	}
}
