package zab

import "slices"

// Serving observers from a learner (Config.ServeLearners): a relay, or any
// learner chosen to offload its upstream (ZooKeeper's ObserverMaster on a
// follower). Such a learner owns a learnerMaster once it is up to date with
// its own upstream, and serves its observers what it has committed: they
// sync from its log and snapshot, get INFORMs as it commits, and their
// writes and sync() calls go upstream through it. When it leaves its
// upstream, it closes its observers' streams: they sync again once it is
// back, with whatever epoch its upstream then has.

// stepDownstream handles a message from one of this learner's own
// learners.
func (n *Node) stepDownstream(m Message) {
	switch m.Type {
	case MsgObserverInfo:
		if n.learn.phase != lphBroadcast {
			n.stash[m.From] = m // served once this learner is up to date
			return
		}
		n.onDownstreamInfo(m)
		return
	case MsgFollowerInfo:
		n.lrlogger.Warn("a voter tried to follow a learner; only observers may", "peer", m.From)
		return
	}
	lm := n.master
	h := lm.handlers[m.From]
	if h == nil {
		return
	}
	h.lastHeard = n.now
	switch m.Type {
	case MsgAckEpoch:
		if h.state != hEpochSent {
			n.lrlogger.Warn("unexpected ACKEPOCH", "peer", h.id, "state", h.state)
			return
		}
		h.peerEpoch, h.peerLast, h.state = m.Epoch, m.Zxid, hEpochAcked
		if err := lm.sync(h); err != nil {
			n.learnerFail(err)
		}
	case MsgAck:
		if m.Flags&FlagNewLeader != 0 && h.state == hStreaming && m.Epoch == lm.epoch {
			h.state, h.acked = hSynced, m.Zxid
			lm.upToDate(h)
		}
	case MsgPing:
		n.learnerPinged(h, m)
	case MsgRequest:
		if h.state < hStreaming {
			return
		}
		up := Message{Type: MsgRequest, To: n.leaderID, Data: m.Data}
		if m.Flags&FlagSync != 0 {
			// The answer comes back on the upstream stream after every
			// transaction committed before it, which this learner passes
			// down before it passes the answer.
			up.Flags = FlagSync | FlagRelayed
			up.Data = wrapRelayed(h.id, h.stream, m.Flags, m.Data)
		}
		n.send(up)
	}
}

// onDownstreamInfo starts serving an observer's (new) stream.
func (n *Node) onDownstreamInfo(m Message) {
	h := n.master.add(m.From, true, m.Epoch)
	n.lrlogger.Debug("observer connected", "peer", m.From, "acceptedEpoch", m.Epoch)
	n.master.sendEpoch(h)
}

// startServing: this learner is up to date; it serves its observers in its
// upstream's epoch, starting with those that asked meanwhile.
func (n *Node) startServing() {
	n.master.epoch = n.currentEpoch
	for _, m := range n.takeStash() {
		if m.Type == MsgObserverInfo {
			n.onDownstreamInfo(m)
		}
	}
}

// passSyncDown answers an observer's sync() that this learner relayed
// upstream.
func (n *Node) passSyncDown(m Message) {
	from, stream, flags, token, ok := unwrapRelayed(m.Data)
	if !ok || n.master == nil {
		return
	}
	// Only on the stream that asked: never a later one, never a restarted
	// process (whose sync tokens start again from where the old one's did).
	if h := n.master.handlers[from]; h != nil && h.stream == stream && h.state >= hStreaming {
		n.send(Message{Type: MsgSync, To: from, Flags: flags, Data: token})
	}
}

// takeStash returns the stashed learner infos in id order and empties the
// stash.
func (n *Node) takeStash() []Message {
	ids := make([]uint64, 0, len(n.stash))
	for id := range n.stash {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Message, 0, len(ids))
	for _, id := range ids {
		out = append(out, n.stash[id])
	}
	n.stash = map[uint64]Message{}
	return out
}
