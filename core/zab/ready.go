package zab

// HardState is the durable epoch pair. ZooKeeper keeps them in two files
// (acceptedEpoch, currentEpoch); a driver may write only the one that
// changed, but both must be durable before Ready.Messages are sent.
type HardState struct {
	AcceptedEpoch int64
	CurrentEpoch  int64
}

// SoftState is what a driver observes about the node's role; it is not
// persisted.
type SoftState struct {
	Role   ServerState
	Leader uint64 // 0 while LOOKING
	Epoch  int64  // currentEpoch
	// Serving: an established leader, or a learner that got UPTODATE. Only a
	// serving server answers clients.
	Serving bool
}

// Ready is a batch of work. The driver executes it in this order, then calls
// Advance; each step starts only once the previous ones are durable:
//
//  1. if Snapshot != nil, install it durably (it replaces the log and the
//     state machine); otherwise, if Truncate, drop every log entry above
//     TruncateAfter durably;
//  2. append Entries to the log durably;
//  3. persist HardState (when not nil) durably;
//  4. send Messages in order, then close the streams to the peers in
//     Disconnect (after what was sent on them: a graceful close);
//  5. apply Committed to the state machine in zxid order, then answer the
//     sync() calls in SyncDone.
//
// Steps 1-3 before 4 is ZAB's durability order: txns durable, then the epoch
// durable, then the ACK sent (ZOOKEEPER-3642, 3911/4646, 4643).
// SoftState, Requests and Pings are observations with no ordering needs.
//
// Two relaxations are safe in a Ready with no Snapshot, Truncate, HardState
// or SoftState (the broadcast phase), and core/server uses them: Committed
// may be applied before steps 1-3 (those entries are durable on a quorum
// already: a leader counts its own log toward a commit only as far as
// Advance has acknowledged it durable, which matters for a lone voter,
// its own quorum), and REQUEST messages may be sent before them (they acknowledge
// nothing). A leader may also send all of its Messages before steps 1-3 as
// long as it steps nothing until they are done: the ACKs its proposals earn
// then count only once its own copy is durable.
type Ready struct {
	// Step 1.
	Snapshot      *Snapshot
	Truncate      bool
	TruncateAfter int64

	// Step 2.
	Entries []Entry

	// Step 3.
	HardState *HardState

	// Step 4.
	Messages   []Message
	Disconnect []uint64

	// Step 5.
	Committed []Entry
	SyncDone  [][]byte

	// Observations.
	SoftState *SoftState
	// Requests are REQUEST messages forwarded to this leader by learners
	// (Data is the server's request bytes).
	Requests []Message
	// Pings are learners' PING replies that carried a piggyback (Data).
	Pings []Message
}

// HasReady reports whether Ready would return anything. It is false while a
// Ready is outstanding.
func (n *Node) HasReady() bool {
	if n.readyOut {
		return false
	}
	return len(n.msgs) > 0 || len(n.toApply) > 0 || n.log.pending() || n.hardDirty ||
		n.softState() != n.prevSoft || len(n.syncDone) > 0 || len(n.requests) > 0 ||
		len(n.pings) > 0 || len(n.disconnect) > 0
}

// Ready returns the pending batch. The driver must execute it (see Ready's
// doc for the order) and call Advance before calling anything else on the
// Node.
func (n *Node) Ready() Ready {
	if n.readyOut {
		panic("zab: Ready called twice without Advance")
	}
	rd := Ready{
		Snapshot:   n.log.snap,
		Entries:    n.log.unstable,
		Disconnect: n.disconnect,
		Messages:   n.msgs,
		Committed:  n.toApply,
		SyncDone:   n.syncDone,
		Requests:   n.requests,
		Pings:      n.pings,
	}
	if n.log.snap == nil && n.log.hasTrunc {
		rd.Truncate, rd.TruncateAfter = true, n.log.trunc
	}
	if n.hardDirty {
		rd.HardState = &HardState{AcceptedEpoch: n.acceptedEpoch, CurrentEpoch: n.currentEpoch}
		n.hardDirty = false
	}
	if ss := n.softState(); ss != n.prevSoft {
		rd.SoftState = &ss
		n.prevSoft = ss
	}
	n.lastMsgs = len(n.msgs)
	n.msgs, n.toApply, n.syncDone, n.requests, n.pings, n.disconnect = nil, nil, nil, nil, nil, nil
	n.readyOut = true
	return rd
}

// Advance acknowledges that rd was executed. It panics if the log the
// driver exposes through Config.Log does not end where rd said it would.
func (n *Node) Advance(rd Ready) {
	if !n.readyOut {
		panic("zab: Advance without Ready")
	}
	n.log.stable()
	n.readyOut = false
	// The leader's own entries are durable now: they count toward a
	// commit (maybeCommit counts only what is durable).
	if n.state == Leading {
		n.maybeCommit()
	}
}

func (n *Node) softState() SoftState {
	return SoftState{Role: n.state, Leader: n.leaderID, Epoch: n.currentEpoch, Serving: n.serving()}
}
