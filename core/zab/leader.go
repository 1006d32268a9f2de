package zab

import (
	"cmp"
	"fmt"
	"slices"
)

// leaderPhase is where an elected leader stands.
type leaderPhase int

const (
	// phaseDiscovery: collecting FOLLOWERINFO (then ACKEPOCH) from a quorum.
	phaseDiscovery leaderPhase = iota
	// phaseSync: the epoch is acked by a quorum; learners are synced and
	// the leader waits for a quorum of NEWLEADER acks.
	phaseSync
	// phaseBroadcast: established; proposals flow.
	phaseBroadcast
)

func (p leaderPhase) String() string {
	return [...]string{"discovery", "sync", "broadcast"}[p]
}

// leaderState is what only a leader decides: the epoch and the quorums that
// establish it and commit proposals. Serving its learners is the
// learnerMaster's (n.master).
type leaderState struct {
	phase      leaderPhase
	phaseStart int64
	acks       []int64 // maybeCommit scratch

	epochDecided  bool
	newEpoch      int64
	epochAcks     map[uint64]bool // voters (self included) whose ACKEPOCH counts
	newLeaderAcks map[uint64]bool // voters (self included) that acked NEWLEADER
	initialEnd    int64           // last zxid of the initial history of the epoch

	// exhausted: the epoch's zxid counter is used up; step down once
	// everything proposed is committed.
	exhausted bool
}

func (n *Node) startLeading() {
	n.lead = &leaderState{phase: phaseDiscovery, phaseStart: n.now}
	n.master = newLearnerMaster(n, 0)
	n.llogger.Info("leading", "acceptedEpoch", n.acceptedEpoch, "currentEpoch", n.currentEpoch,
		"lastZxid", FormatZxid(n.log.lastZxid()))
	for _, m := range n.takeStash() {
		n.onLearnerInfo(m)
		if n.state != Leading {
			return
		}
	}
	n.leaderProgress()
}

func (n *Node) stepLeading(m Message) {
	if m.Type == MsgVote {
		n.replyToVote(m)
		return
	}
	if m.Type == MsgFollowerInfo || m.Type == MsgObserverInfo {
		n.onLearnerInfo(m)
		return
	}
	lm := n.master
	h := lm.handlers[m.From]
	if h == nil {
		return // no stream with this learner (yet): stale traffic
	}
	h.lastHeard = n.now
	switch m.Type {
	case MsgAckEpoch:
		n.onAckEpoch(h, m)
	case MsgAck:
		n.onAck(h, m)
	case MsgPing:
		n.learnerPinged(h, m)
	case MsgRequest:
		if h.state < hStreaming {
			return
		}
		if m.Flags&FlagSync != 0 {
			lm.addSync(pendingSync{from: h.id, token: m.Data, flags: m.Flags, wait: n.log.lastZxid()})
		} else {
			n.requests = append(n.requests, m)
		}
	}
}

// onLearnerInfo handles FOLLOWERINFO/OBSERVERINFO: a (new) stream from a
// learner. A previous stream from the same learner is forgotten.
func (n *Node) onLearnerInfo(m Message) {
	ls := n.lead
	observer := m.Type == MsgObserverInfo
	if observer == n.isVoterID(m.From) {
		n.llogger.Warn("learner announced the wrong role", "peer", m.From, "type", m.Type)
		return
	}
	h := n.master.add(m.From, observer, m.Epoch)
	n.llogger.Debug("learner connected", "peer", m.From, "type", m.Type, "acceptedEpoch", m.Epoch)
	if ls.epochDecided {
		if !observer && h.accepted > ls.newEpoch {
			// The voter promised a later epoch (to a leader that never
			// established it) and may not accept ours. ZooKeeper leaves it
			// failing to join forever; we step down so that the next
			// discovery picks an epoch above its promise.
			n.stepDown(fmt.Sprintf("voter %d accepted epoch %d, above ours (%d)", h.id, h.accepted, ls.newEpoch))
			return
		}
		n.master.sendEpoch(h)
		return
	}
	n.leaderProgress()
}

// leaderProgress moves discovery and sync forward whenever a quorum allows.
func (n *Node) leaderProgress() {
	ls := n.lead
	if n.state != Leading {
		return
	}
	if ls.phase == phaseDiscovery && !ls.epochDecided {
		count := 1
		for _, h := range n.master.handlers {
			if !h.observer {
				count++
			}
		}
		if count >= n.quorum {
			n.decideEpoch()
		}
	}
	if ls.phase == phaseDiscovery && ls.epochDecided && len(ls.epochAcks) >= n.quorum {
		n.startSyncPhase()
	}
	if ls.phase == phaseSync && len(ls.newLeaderAcks) >= n.quorum {
		n.establish()
	}
}

// decideEpoch: newEpoch = max(acceptedEpoch of the connected learners and
// this leader) + 1, persisted as acceptedEpoch, announced by LEADERINFO.
func (n *Node) decideEpoch() {
	ls, lm := n.lead, n.master
	maxEpoch := n.acceptedEpoch
	for _, h := range lm.handlers {
		maxEpoch = max(maxEpoch, h.accepted)
	}
	ls.newEpoch = maxEpoch + 1
	lm.epoch = ls.newEpoch
	ls.epochDecided = true
	ls.phaseStart = n.now
	n.acceptedEpoch = ls.newEpoch
	n.hardDirty = true
	ls.epochAcks = map[uint64]bool{n.id: true}
	n.llogger.Info("new epoch proposed", "epoch", ls.newEpoch)
	for _, id := range lm.sortedIDs() {
		if h := lm.handlers[id]; h.state == hInfo {
			lm.sendEpoch(h)
		}
	}
}

// newer reports whether history (epochA, zxidA) is more recent than B.
func newer(epochA, zxidA, epochB, zxidB int64) bool {
	return epochA > epochB || (epochA == epochB && zxidA > zxidB)
}

func (n *Node) onAckEpoch(h *handler, m Message) {
	ls := n.lead
	if h.state != hEpochSent {
		n.llogger.Warn("unexpected ACKEPOCH", "peer", h.id, "state", h.state)
		return
	}
	h.peerEpoch, h.peerLast, h.state = m.Epoch, m.Zxid, hEpochAcked
	if ls.phase != phaseDiscovery {
		n.leaderSyncLearner(h) // a late learner: the epoch is already acked
		return
	}
	// Observers hold only committed txns, so only voters can hold a newer
	// history that this leader must not overwrite.
	if !h.observer && newer(m.Epoch, m.Zxid, n.currentEpoch, n.log.lastZxid()) {
		n.stepDown(fmt.Sprintf("learner %d has a newer history (epoch %d, %s) than ours (epoch %d, %s)",
			h.id, m.Epoch, FormatZxid(m.Zxid), n.currentEpoch, FormatZxid(n.log.lastZxid())))
		return
	}
	if !h.observer && m.Flags&FlagEpochAlreadyAccepted == 0 {
		ls.epochAcks[h.id] = true
	}
	n.leaderProgress()
}

// leaderSyncLearner syncs a learner; a leader whose log is broken must not
// lead (ZOOKEEPER-4925).
func (n *Node) leaderSyncLearner(h *handler) {
	if err := n.master.sync(h); err != nil {
		n.stepDown(err.Error())
	}
}

// startSyncPhase: a quorum acked the epoch. The leader's log is the epoch's
// initial history; currentEpoch = newEpoch is persisted (the leader's own
// NEWLEADER ack) and every acked learner gets its sync stream.
func (n *Node) startSyncPhase() {
	ls, lm := n.lead, n.master
	ls.phase = phaseSync
	ls.phaseStart = n.now
	ls.initialEnd = n.log.lastZxid()
	n.currentEpoch = ls.newEpoch
	n.hardDirty = true
	ls.newLeaderAcks = map[uint64]bool{n.id: true}
	n.llogger.Info("epoch acknowledged by a quorum, syncing learners", "epoch", ls.newEpoch,
		"initialHistoryEnd", FormatZxid(ls.initialEnd))
	for _, id := range lm.sortedIDs() {
		if h := lm.handlers[id]; h != nil && h.state == hEpochAcked {
			n.leaderSyncLearner(h)
			if n.state != Leading {
				return
			}
		}
	}
	n.leaderProgress()
}

func (n *Node) onAck(h *handler, m Message) {
	ls := n.lead
	if m.Flags&FlagNewLeader != 0 {
		if h.observer && h.state == hUpToDate && m.Epoch == ls.newEpoch {
			return // sent UPTODATE already, right behind NEWLEADER (sync)
		}
		if h.state != hStreaming || m.Epoch != ls.newEpoch {
			n.llogger.Warn("unexpected NEWLEADER ack", "peer", h.id, "epoch", m.Epoch)
			return
		}
		h.state = hSynced
		h.acked = m.Zxid
		if ls.phase == phaseSync {
			if !h.observer {
				ls.newLeaderAcks[h.id] = true
			}
			n.leaderProgress()
			return
		}
		n.master.upToDate(h)
		n.maybeCommit()
		return
	}
	if h.observer || h.state < hSynced {
		return
	}
	if m.Zxid > h.acked && m.Zxid <= n.log.lastZxid() {
		h.acked = m.Zxid
		n.maybeCommit()
	}
}

// establish: a quorum acked NEWLEADER. The initial history is committed,
// UPTODATE goes to the synced learners, broadcast starts.
func (n *Node) establish() {
	ls, lm := n.lead, n.master
	ls.phase = phaseBroadcast
	ls.phaseStart = n.now
	n.llogger.Info("epoch established", "epoch", ls.newEpoch, "commit", FormatZxid(ls.initialEnd))
	if err := n.leaderCommit(ls.initialEnd); err != nil {
		n.stepDown(err.Error())
		return
	}
	for _, id := range lm.sortedIDs() {
		if h := lm.handlers[id]; h.state == hSynced {
			lm.upToDate(h)
		}
	}
	n.maybeCommit()
}

// maybeCommit commits the highest zxid a quorum of voters (the leader
// included) has logged durably. The leader's own vote is what its driver
// has made durable (acknowledged by Advance), not what it has just
// appended: a lone voter is its own quorum, and counting its pending
// entries would commit, and let a driver apply and answer, a write that
// is on no disk yet (testdata/relaxed_single_voter.txt in zabsim).
func (n *Node) maybeCommit() {
	ls, lm := n.lead, n.master
	if ls.phase != phaseBroadcast {
		return
	}
	acks := append(ls.acks[:0], n.log.durableLastZxid())
	for _, id := range lm.sortedIDs() {
		if h := lm.handlers[id]; !h.observer && h.state >= hSynced {
			acks = append(acks, h.acked)
		}
	}
	ls.acks = acks
	if len(acks) < n.quorum {
		return
	}
	slices.SortFunc(acks, func(a, b int64) int { return cmp.Compare(b, a) })
	if c := acks[n.quorum-1]; c > n.committed {
		if err := n.leaderCommit(c); err != nil {
			n.stepDown(err.Error())
		}
	}
}

// leaderCommit commits up to z and has the learner master forward it.
func (n *Node) leaderCommit(z int64) error {
	if err := n.commitTo(z); err != nil {
		return err
	}
	if err := n.master.commit(z); err != nil {
		return err
	}
	n.maybeStepDownExhausted()
	return nil
}

func (n *Node) maybeStepDownExhausted() {
	if n.state == Leading && n.lead.exhausted && n.committed == n.log.lastZxid() {
		n.stepDown("zxid counter exhausted, a new epoch must start")
	}
}

func (n *Node) propose(payload []byte) (int64, error) {
	ls := n.lead
	last := n.log.lastZxid()
	var z int64
	if EpochOf(last) < ls.newEpoch {
		z = MakeZxid(ls.newEpoch, 1)
	} else {
		if CounterOf(last) >= n.cfg.MaxCounter {
			// Never wrap the counter: refuse, let what is outstanding
			// commit, then step down so that a new epoch starts.
			ls.exhausted = true
			n.maybeStepDownExhausted()
			return 0, ErrCounterExhausted
		}
		z = last + 1
	}
	e := Entry{Zxid: z, Data: payload} // Propose owns payload from here on
	if err := n.log.append(e); err != nil {
		return 0, err
	}
	n.master.propose(z, e.Data)
	n.maybeCommit()
	return z, nil
}

func (n *Node) tickLeader() {
	ls, lm := n.lead, n.master
	lm.tick(n.committed)
	switch ls.phase {
	case phaseDiscovery, phaseSync:
		if n.now-ls.phaseStart > int64(n.cfg.InitLimit) {
			n.stepDown(fmt.Sprintf("no quorum within initLimit in %s", ls.phase))
		}
	case phaseBroadcast:
		count := 1
		for _, h := range lm.handlers {
			if !h.observer && h.state >= hSynced && n.now-h.lastHeard <= int64(n.limits(h.id).SyncLimit) {
				count++
			}
		}
		if count < n.quorum {
			n.stepDown("lost contact with a quorum within syncLimit")
		}
	}
}

func (n *Node) stepDown(reason string) {
	n.llogger.Warn("stepping down", "reason", reason)
	n.becomeLooking(reason)
}
