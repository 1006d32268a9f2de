package zab

// Fast leader election (ZooKeeper's FastLeaderElection), ticks for time.

// vote is a proposed leader with its history: the peerEpoch (currentEpoch)
// and last logged zxid. Leader 0 is "no vote" (an observer's).
type vote struct {
	Leader uint64
	Zxid   int64
	Epoch  int64
}

// beats is FLE's total order: peerEpoch, then zxid, then sid.
func (a vote) beats(b vote) bool {
	if a.Leader == 0 {
		return false
	}
	if b.Leader == 0 {
		return true
	}
	if a.Epoch != b.Epoch {
		return a.Epoch > b.Epoch
	}
	if a.Zxid != b.Zxid {
		return a.Zxid > b.Zxid
	}
	return a.Leader > b.Leader
}

type received struct {
	v     vote
	clock int64
	state ServerState
}

type election struct {
	clock      int64 // logicalclock (electionEpoch)
	proposal   vote
	recv       map[uint64]received // this round's votes (voters only)
	outOf      map[uint64]received // FOLLOWING/LEADING notifications, any round
	finalizing bool
	finalizeAt int64
	nextResend int64
}

// finalVote is what a decided server answers to LOOKING servers.
type finalVote struct {
	v     vote
	clock int64
}

func (n *Node) initialVote() vote {
	if !n.isVoter {
		return vote{}
	}
	return vote{Leader: n.id, Zxid: n.log.lastZxid(), Epoch: n.currentEpoch}
}

func (n *Node) startElection() {
	e := &n.elec
	if n.isVoter {
		e.clock++
	} else {
		// Observers do not count rounds; they adopt the voters' clock.
		e.clock = 0
	}
	e.proposal = n.initialVote()
	e.recv = map[uint64]received{}
	e.outOf = map[uint64]received{}
	e.finalizing = false
	if n.isVoter {
		e.recv[n.id] = received{v: e.proposal, clock: e.clock, state: Looking}
	}
	if n.upstream != 0 {
		return // a non-voter with an upstream does not look for the leader
	}
	n.elogger.Debug("election round", "clock", e.clock, "vote", e.proposal.Leader)
	n.sendNotifications()
	n.scheduleResend()
	n.checkTally()
}

func (n *Node) scheduleResend() {
	n.elec.nextResend = n.now + int64(n.cfg.ElectionTicks)
	if n.cfg.ElectionTicks > 1 {
		n.elec.nextResend += int64(n.rand.Intn(n.cfg.ElectionTicks))
	}
}

// sendNotifications sends this server's current vote to every other voter.
func (n *Node) sendNotifications() {
	for _, v := range n.voters {
		if v != n.id {
			n.sendVote(v, Looking, n.elec.proposal, n.elec.clock)
		}
	}
}

func (n *Node) sendVote(to uint64, state ServerState, v vote, clock int64) {
	n.send(Message{Type: MsgVote, To: to, Leader: v.Leader, Zxid: v.Zxid, Epoch: v.Epoch,
		ElectionEpoch: clock, State: state})
}

func (n *Node) isVoterID(id uint64) bool {
	for _, v := range n.voters {
		if v == id {
			return true
		}
	}
	return false
}

// replyToVote answers a LOOKING server's notification with the vote this
// decided server stands by (FOLLOWING/LEADING/OBSERVING).
func (n *Node) replyToVote(m Message) {
	if m.Type != MsgVote || m.State != Looking || !n.isVoter {
		return
	}
	n.sendVote(m.From, n.state, n.final.v, n.final.clock)
}

func (n *Node) stepLooking(m Message) {
	switch m.Type {
	case MsgFollowerInfo, MsgObserverInfo:
		if n.isVoter || (n.cfg.ServeLearners && m.Type == MsgObserverInfo) {
			n.stash[m.From] = m
		}
		return
	case MsgVote:
		if n.upstream != 0 {
			return // follows its upstream, not the election
		}
	default:
		return // stale traffic from an earlier leadership
	}
	e := &n.elec
	if !n.isVoterID(m.From) {
		// An observer looking for the leader: tell it our vote; its own
		// vote does not count.
		if n.isVoter {
			n.sendVote(m.From, Looking, e.proposal, e.clock)
		}
		return
	}
	v := vote{Leader: m.Leader, Zxid: m.Zxid, Epoch: m.Epoch}
	if v.Leader == 0 || !n.isVoterID(v.Leader) {
		return // votes only go to voters
	}
	switch m.State {
	case Looking:
		switch {
		case m.ElectionEpoch > e.clock:
			e.clock = m.ElectionEpoch
			e.recv = map[uint64]received{}
			if init := n.initialVote(); v.beats(init) {
				e.proposal = v
			} else {
				e.proposal = init
			}
			n.selfVote()
			n.sendNotifications()
		case m.ElectionEpoch < e.clock:
			if n.isVoter {
				n.sendVote(m.From, Looking, e.proposal, e.clock)
			}
			return
		case v.beats(e.proposal):
			e.proposal = v
			n.selfVote()
			n.sendNotifications()
		}
		e.recv[m.From] = received{v: v, clock: m.ElectionEpoch, state: Looking}
		n.checkTally()
	case Following, Leading:
		rec := received{v: v, clock: m.ElectionEpoch, state: m.State}
		if m.ElectionEpoch == e.clock {
			e.recv[m.From] = rec
			if n.agrees(e.recv, v) && n.checkLeader(e.recv, v.Leader, m.ElectionEpoch) {
				n.decide(v)
				return
			}
		}
		// Servers that already decided: join their leader once a quorum
		// follows it and the leader itself says LEADING (outofelection).
		// Only the leader is compared: servers that joined it at different
		// times stand by different votes for it (ZooKeeper compares id and
		// peerEpoch and can wait forever when those differ). Safety does not
		// rest on this: discovery checks the histories.
		e.outOf[m.From] = rec
		if n.followedBy(e.outOf, v.Leader) && n.checkLeader(e.outOf, v.Leader, m.ElectionEpoch) {
			e.clock = m.ElectionEpoch
			n.decide(v)
		}
	}
}

// selfVote records a changed proposal as this server's own vote; a better
// vote restarts the finalize wait.
func (n *Node) selfVote() {
	n.elec.finalizing = false
	if n.isVoter {
		n.elec.recv[n.id] = received{v: n.elec.proposal, clock: n.elec.clock, state: Looking}
	}
}

// agrees: a quorum of voters in set votes v.
func (n *Node) agrees(set map[uint64]received, v vote) bool {
	count := 0
	for _, id := range n.voters {
		if r, ok := set[id]; ok && r.v == v {
			count++
		}
	}
	return count >= n.quorum
}

// followedBy: a quorum of voters in set is FOLLOWING or LEADING leader.
func (n *Node) followedBy(set map[uint64]received, leader uint64) bool {
	count := 0
	for _, id := range n.voters {
		if r, ok := set[id]; ok && r.v.Leader == leader && r.state != Looking {
			count++
		}
	}
	return count >= n.quorum
}

// checkLeader: the proposed leader must itself say LEADING, or be us in
// this very round.
func (n *Node) checkLeader(set map[uint64]received, leader uint64, clock int64) bool {
	if leader != n.id {
		r, ok := set[leader]
		return ok && r.state == Leading
	}
	return n.elec.clock == clock
}

// checkTally starts (or cancels) the finalize wait once this round's
// proposal has a quorum.
func (n *Node) checkTally() {
	e := &n.elec
	if e.proposal.Leader == 0 || !n.agrees(e.recv, e.proposal) {
		e.finalizing = false
		return
	}
	if !e.finalizing {
		e.finalizing = true
		e.finalizeAt = n.now + int64(n.cfg.FinalizeTicks)
	}
	if n.now >= e.finalizeAt {
		n.decide(e.proposal)
	}
}

func (n *Node) tickLooking() {
	if n.upstream != 0 {
		if n.now >= n.rejoinAt {
			n.becomeObserver(n.upstream)
		}
		return
	}
	e := &n.elec
	if e.finalizing && n.now >= e.finalizeAt {
		n.checkTally()
		if n.state != Looking {
			return
		}
	}
	if n.now >= e.nextResend {
		n.sendNotifications()
		n.scheduleResend()
	}
}

func (n *Node) decide(v vote) {
	e := &n.elec
	e.finalizing = false
	n.final = finalVote{v: v, clock: e.clock}
	n.elogger.Info("election decided", "leader", v.Leader, "zxid", FormatZxid(v.Zxid),
		"peerEpoch", v.Epoch, "clock", e.clock)
	switch {
	case v.Leader == n.id:
		n.becomeLeader()
	case n.isVoter:
		n.becomeFollower(v.Leader)
	default:
		n.becomeObserver(v.Leader)
	}
}
