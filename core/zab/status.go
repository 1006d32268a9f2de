package zab

// Status is a snapshot of a node's protocol state, for drivers, metrics and
// tests.
type Status struct {
	ID            uint64
	Role          ServerState
	Leader        uint64
	AcceptedEpoch int64
	CurrentEpoch  int64
	LastLogged    int64
	Committed     int64
	Serving       bool
	// Phase is the leader's or learner's phase: "election", "discovery",
	// "sync", "broadcast".
	Phase         string
	ElectionEpoch int64
	// Epoch of the established leadership (leaders in broadcast only).
	Established int64
	// Leaders (and learners that serve observers): connected learners, and
	// those synced (NEWLEADER acked), split into followers and observers
	// (mntr's zk_learners, zk_synced_followers, zk_synced_observers).
	Learners, SyncedFollowers, SyncedObservers int

	// Learners only. Upstream is the server followed (the leader, or a
	// relay); UpstreamHeardTicks how many ticks ago it was last heard from
	// (-1 when not following anyone); UpstreamCommitted the highest zxid
	// it said is committed; Lag how many transactions this server has yet
	// to commit to reach it (exact within an epoch; across an epoch change
	// the counter of UpstreamCommitted, a lower bound).
	Upstream           uint64
	UpstreamHeardTicks int64
	UpstreamCommitted  int64
	Lag                int64
}

// Status returns the current protocol state.
func (n *Node) Status() Status {
	st := Status{
		ID: n.id, Role: n.state, Leader: n.leaderID,
		AcceptedEpoch: n.acceptedEpoch, CurrentEpoch: n.currentEpoch,
		LastLogged: n.log.lastZxid(), Committed: n.committed,
		Serving: n.serving(), ElectionEpoch: n.elec.clock, Phase: "election",
		UpstreamHeardTicks: -1,
	}
	if n.master != nil {
		st.Learners, st.SyncedFollowers, st.SyncedObservers = n.master.counts()
	}
	switch {
	case n.lead != nil:
		st.Phase = n.lead.phase.String()
		if n.lead.phase == phaseBroadcast {
			st.Established = n.lead.newEpoch
		}
	case n.learn != nil:
		ls := n.learn
		st.Phase = ls.phase.String()
		st.Upstream = n.leaderID
		st.UpstreamHeardTicks = n.now - ls.lastHeard
		st.UpstreamCommitted = max(ls.upCommitted, n.committed)
		st.Lag = lag(st.UpstreamCommitted, n.committed)
	}
	return st
}

// lag is how many transactions separate committed from up: exact within
// an epoch, the counter of up when the epochs differ.
func lag(up, committed int64) int64 {
	if up <= committed {
		return 0
	}
	if EpochOf(up) == EpochOf(committed) {
		return up - committed
	}
	return CounterOf(up)
}
