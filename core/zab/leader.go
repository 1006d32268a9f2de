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

// handlerState is how far a learner's stream has come (ZooKeeper's
// LearnerHandler).
type handlerState int

const (
	hInfo       handlerState = iota // FOLLOWERINFO/OBSERVERINFO received
	hEpochSent                      // LEADERINFO sent
	hEpochAcked                     // ACKEPOCH received, waiting for the epoch quorum
	hStreaming                      // sync stream and NEWLEADER sent; gets broadcast traffic
	hSynced                         // NEWLEADER acked
	hUpToDate                       // UPTODATE sent
)

type handler struct {
	id         uint64
	observer   bool
	state      handlerState
	accepted   int64 // learner's acceptedEpoch (FOLLOWERINFO)
	peerEpoch  int64 // learner's currentEpoch (ACKEPOCH)
	peerLast   int64 // learner's last logged zxid (ACKEPOCH)
	sent       int64 // last zxid shipped on the stream
	commitSent int64 // last COMMIT sent (followers)
	acked      int64 // everything up to acked is durable at the follower
	lastHeard  int64
}

type pendingSync struct {
	from  uint64
	token []byte
	wait  int64 // reply once committed >= wait
}

type leaderState struct {
	phase      leaderPhase
	phaseStart int64
	handlers   map[uint64]*handler
	ids        []uint64 // sortedIDs cache, nil when stale
	acks       []int64  // maybeCommit scratch

	epochDecided  bool
	newEpoch      int64
	epochAcks     map[uint64]bool // voters (self included) whose ACKEPOCH counts
	newLeaderAcks map[uint64]bool // voters (self included) that acked NEWLEADER
	initialEnd    int64           // last zxid of the initial history of the epoch

	syncs []pendingSync
	// exhausted: the epoch's zxid counter is used up; step down once
	// everything proposed is committed.
	exhausted bool
}

// sortedIDs returns the learners' ids in order. The slice is cached until
// a learner is added or dropped (which builds a new one, so a caller may
// keep iterating an old slice); callers must not modify it.
func (ls *leaderState) sortedIDs() []uint64 {
	if ls.ids != nil {
		return ls.ids
	}
	ids := make([]uint64, 0, len(ls.handlers))
	for id := range ls.handlers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ls.ids = ids
	return ids
}

func (n *Node) startLeading() {
	n.lead = &leaderState{
		phase:      phaseDiscovery,
		phaseStart: n.now,
		handlers:   map[uint64]*handler{},
	}
	n.llogger.Info("leading", "acceptedEpoch", n.acceptedEpoch, "currentEpoch", n.currentEpoch,
		"lastZxid", FormatZxid(n.log.lastZxid()))
	stashed := n.stash
	n.stash = map[uint64]Message{}
	ids := make([]uint64, 0, len(stashed))
	for id := range stashed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		n.onLearnerInfo(stashed[id])
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
	h := n.lead.handlers[m.From]
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
		if len(m.Data) > 0 {
			n.pings = append(n.pings, m)
		}
	case MsgRequest:
		if h.state < hStreaming {
			return
		}
		if m.Flags&FlagSync != 0 {
			n.leaderSync(h.id, m.Data)
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
	h := &handler{id: m.From, observer: observer, state: hInfo, accepted: m.Epoch, lastHeard: n.now}
	n.forgetLearner(m.From)
	ls.handlers[m.From] = h
	ls.ids = nil
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
		n.send(Message{Type: MsgLeaderInfo, To: h.id, Epoch: ls.newEpoch})
		h.state = hEpochSent
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
		for _, id := range ls.sortedIDs() {
			if !ls.handlers[id].observer {
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
	ls := n.lead
	maxEpoch := n.acceptedEpoch
	for _, id := range ls.sortedIDs() {
		maxEpoch = max(maxEpoch, ls.handlers[id].accepted)
	}
	ls.newEpoch = maxEpoch + 1
	ls.epochDecided = true
	ls.phaseStart = n.now
	n.acceptedEpoch = ls.newEpoch
	n.hardDirty = true
	ls.epochAcks = map[uint64]bool{n.id: true}
	n.llogger.Info("new epoch proposed", "epoch", ls.newEpoch)
	for _, id := range ls.sortedIDs() {
		h := ls.handlers[id]
		if h.state == hInfo {
			n.send(Message{Type: MsgLeaderInfo, To: id, Epoch: ls.newEpoch})
			h.state = hEpochSent
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
		n.syncLearner(h) // a late learner: the epoch is already acked
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

// startSyncPhase: a quorum acked the epoch. The leader's log is the epoch's
// initial history; currentEpoch = newEpoch is persisted (the leader's own
// NEWLEADER ack) and every acked learner gets its sync stream.
func (n *Node) startSyncPhase() {
	ls := n.lead
	ls.phase = phaseSync
	ls.phaseStart = n.now
	ls.initialEnd = n.log.lastZxid()
	n.currentEpoch = ls.newEpoch
	n.hardDirty = true
	ls.newLeaderAcks = map[uint64]bool{n.id: true}
	n.llogger.Info("epoch acknowledged by a quorum, syncing learners", "epoch", ls.newEpoch,
		"initialHistoryEnd", FormatZxid(ls.initialEnd))
	for _, id := range ls.sortedIDs() {
		if h := ls.handlers[id]; h.state == hEpochAcked {
			n.syncLearner(h)
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
		n.send(Message{Type: MsgUpToDate, To: h.id})
		h.state = hUpToDate
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
	ls := n.lead
	ls.phase = phaseBroadcast
	ls.phaseStart = n.now
	n.llogger.Info("epoch established", "epoch", ls.newEpoch, "commit", FormatZxid(ls.initialEnd))
	if err := n.leaderCommit(ls.initialEnd); err != nil {
		n.stepDown(err.Error())
		return
	}
	for _, id := range ls.sortedIDs() {
		if h := ls.handlers[id]; h.state == hSynced {
			n.send(Message{Type: MsgUpToDate, To: id})
			h.state = hUpToDate
		}
	}
	n.maybeCommit()
}

// maybeCommit commits the highest zxid a quorum of voters (the leader
// included) has logged.
func (n *Node) maybeCommit() {
	ls := n.lead
	if ls.phase != phaseBroadcast {
		return
	}
	acks := append(ls.acks[:0], n.log.lastZxid())
	for _, id := range ls.sortedIDs() {
		if h := ls.handlers[id]; !h.observer && h.state >= hSynced {
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

// leaderCommit commits up to z and forwards it: COMMIT to followers, INFORM
// (the whole transaction) to observers; then answers the syncs it unblocks.
func (n *Node) leaderCommit(z int64) error {
	if err := n.commitTo(z); err != nil {
		return err
	}
	ls := n.lead
	for _, id := range ls.sortedIDs() {
		h := ls.handlers[id]
		if h.state < hStreaming {
			continue
		}
		if !h.observer {
			if z > h.commitSent {
				n.send(Message{Type: MsgCommit, To: id, Zxid: z})
				h.commitSent = z
			}
			continue
		}
		// Observers: a COMMIT for what they already hold (a sync stream may
		// have sent them txns committed only now), INFORMs for the rest.
		if c := min(z, h.sent); c > h.commitSent {
			n.send(Message{Type: MsgCommit, To: id, Zxid: c})
			h.commitSent = c
		}
		if z > h.sent {
			ents, err := n.log.entries(h.sent, z)
			if err != nil {
				return err
			}
			for _, e := range ents {
				n.send(Message{Type: MsgInform, To: id, Zxid: e.Zxid, Data: e.Data})
			}
			h.sent, h.commitSent = z, z
		}
	}
	keep := ls.syncs[:0]
	for _, s := range ls.syncs {
		if s.wait > n.committed {
			keep = append(keep, s)
			continue
		}
		n.answerSync(s)
	}
	ls.syncs = keep
	n.maybeStepDownExhausted()
	return nil
}

func (n *Node) maybeStepDownExhausted() {
	if n.state == Leading && n.lead.exhausted && n.committed == n.log.lastZxid() {
		n.stepDown("zxid counter exhausted, a new epoch must start")
	}
}

func (n *Node) answerSync(s pendingSync) {
	if s.from == n.id {
		n.syncDone = append(n.syncDone, s.token)
		return
	}
	if h := n.lead.handlers[s.from]; h != nil && h.state >= hStreaming {
		n.send(Message{Type: MsgSync, To: s.from, Data: s.token})
	}
}

// leaderSync answers once everything proposed so far is committed.
func (n *Node) leaderSync(from uint64, token []byte) {
	s := pendingSync{from: from, token: token, wait: n.log.lastZxid()}
	if s.wait <= n.committed {
		n.answerSync(s)
		return
	}
	n.lead.syncs = append(n.lead.syncs, s)
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
	for _, id := range ls.sortedIDs() {
		if h := ls.handlers[id]; !h.observer && h.state >= hStreaming {
			n.send(Message{Type: MsgProposal, To: id, Zxid: z, Data: e.Data})
			h.sent = z
		}
	}
	n.maybeCommit()
	return z, nil
}

func (n *Node) tickLeader() {
	ls := n.lead
	for _, id := range ls.sortedIDs() {
		n.send(Message{Type: MsgPing, To: id, Zxid: n.committed})
	}
	for _, id := range ls.sortedIDs() {
		h := ls.handlers[id]
		limit := int64(n.cfg.InitLimit)
		if h.state >= hSynced {
			limit = int64(n.cfg.SyncLimit)
		}
		if n.now-h.lastHeard > limit {
			n.llogger.Warn("learner silent, dropping its stream", "peer", id, "ticks", n.now-h.lastHeard)
			n.forgetLearner(id)
			n.disconnect = append(n.disconnect, id)
		}
	}
	switch ls.phase {
	case phaseDiscovery, phaseSync:
		if n.now-ls.phaseStart > int64(n.cfg.InitLimit) {
			n.stepDown(fmt.Sprintf("no quorum within initLimit in %s", ls.phase))
		}
	case phaseBroadcast:
		count := 1
		for _, id := range ls.sortedIDs() {
			h := ls.handlers[id]
			if !h.observer && h.state >= hSynced && n.now-h.lastHeard <= int64(n.cfg.SyncLimit) {
				count++
			}
		}
		if count < n.quorum {
			n.stepDown("lost contact with a quorum within syncLimit")
		}
	}
}

// forgetLearner drops a learner's stream and what was pending on it: a
// sync() answer must never reach a later stream (or a restarted process).
func (n *Node) forgetLearner(id uint64) {
	ls := n.lead
	delete(ls.handlers, id)
	ls.ids = nil
	keep := ls.syncs[:0]
	for _, s := range ls.syncs {
		if s.from != id {
			keep = append(keep, s)
		}
	}
	ls.syncs = keep
}

func (n *Node) stepDown(reason string) {
	n.llogger.Warn("stepping down", "reason", reason)
	n.becomeLooking(reason)
}
