package zab

import (
	"encoding/binary"
	"fmt"
	"slices"
)

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

func (s handlerState) String() string {
	return [...]string{"info", "epoch-sent", "epoch-acked", "streaming", "synced", "up-to-date"}[s]
}

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
	logged     int64  // last logged zxid the learner reported in a PING reply
	stream     uint64 // which stream of this learner (numbered by the master)
}

type pendingSync struct {
	from  uint64
	token []byte
	flags Flags // FlagRelayed is echoed in the SYNC answer
	wait  int64 // reply once committed >= wait
}

// learnerMaster serves learners (ZooKeeper's LearnerMaster): one handler
// per learner stream, the sync decision and the sync stream (DIFF, TRUNC or
// SNAP, then NEWLEADER), the fan-out of what commits (COMMIT to followers,
// INFORM to observers), pings and silence limits per link, and the sync()
// answers owed to learners. A leader owns one for its followers and
// observers; a learner with Config.ServeLearners (a relay) owns one for the
// observers that follow it, and serves them only what it has committed.
//
// It decides nothing about quorums or epochs: its owner tells it the epoch
// learners are synced into and when a learner is acknowledged.
type learnerMaster struct {
	n        *Node
	epoch    int64 // the epoch learners are synced into (LEADERINFO, NEWLEADER)
	handlers map[uint64]*handler
	ids      []uint64 // sortedIDs cache, nil when stale
	syncs    []pendingSync
	streams  uint64 // streams served so far (numbers handler.stream)
}

func newLearnerMaster(n *Node, epoch int64) *learnerMaster {
	return &learnerMaster{n: n, epoch: epoch, handlers: map[uint64]*handler{}}
}

// sortedIDs returns the learners' ids in order. The slice is cached until
// a learner is added or dropped (which builds a new one, so a caller may
// keep iterating an old slice); callers must not modify it.
func (lm *learnerMaster) sortedIDs() []uint64 {
	if lm.ids != nil {
		return lm.ids
	}
	ids := make([]uint64, 0, len(lm.handlers))
	for id := range lm.handlers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	lm.ids = ids
	return ids
}

// add starts serving a (new) stream from learner id, forgetting an earlier
// one.
func (lm *learnerMaster) add(id uint64, observer bool, accepted int64) *handler {
	lm.forget(id)
	lm.streams++
	h := &handler{id: id, observer: observer, state: hInfo, accepted: accepted, lastHeard: lm.n.now, stream: lm.streams}
	lm.handlers[id] = h
	lm.ids = nil
	return h
}

// forget drops a learner's stream and what was pending on it: a sync()
// answer must never reach a later stream (or a restarted process).
func (lm *learnerMaster) forget(id uint64) {
	if _, ok := lm.handlers[id]; !ok {
		return
	}
	delete(lm.handlers, id)
	lm.ids = nil
	keep := lm.syncs[:0]
	for _, s := range lm.syncs {
		if s.from != id {
			keep = append(keep, s)
		}
	}
	lm.syncs = keep
}

// drop forgets a learner and closes its stream.
func (lm *learnerMaster) drop(id uint64, reason string) {
	lm.n.llogger.Warn("dropping learner", "peer", id, "reason", reason)
	lm.forget(id)
	lm.n.disconnect = append(lm.n.disconnect, id)
}

// closeAll closes every learner stream (the owner leaves its role).
func (lm *learnerMaster) closeAll() {
	lm.n.disconnect = append(lm.n.disconnect, lm.sortedIDs()...)
	lm.handlers, lm.ids, lm.syncs = map[uint64]*handler{}, nil, nil
}

// sendEpoch announces the epoch to a learner (LEADERINFO).
func (lm *learnerMaster) sendEpoch(h *handler) {
	lm.n.send(Message{Type: MsgLeaderInfo, To: h.id, Epoch: lm.epoch})
	h.state = hEpochSent
}

// broadcasting reports whether this master serves: a leader once its
// epoch is established; a learner's master exists only while it serves.
func (lm *learnerMaster) broadcasting() bool {
	if ls := lm.n.lead; ls != nil {
		return ls.phase == phaseBroadcast
	}
	return true
}

// upToDate tells a synced learner to start serving.
func (lm *learnerMaster) upToDate(h *handler) {
	lm.n.send(Message{Type: MsgUpToDate, To: h.id})
	h.state = hUpToDate
}

// proposeTo sends a new proposal to every follower with a stream
// (observers get it as an INFORM once committed).
func (lm *learnerMaster) propose(z int64, data []byte) {
	for _, id := range lm.sortedIDs() {
		if h := lm.handlers[id]; !h.observer && h.state >= hStreaming {
			lm.n.send(Message{Type: MsgProposal, To: id, Zxid: z, Data: data})
			h.sent = z
		}
	}
}

// commit forwards that everything up to z is committed: COMMIT to
// followers, INFORM (the whole transaction) to observers; then answers the
// syncs it unblocks.
func (lm *learnerMaster) commit(z int64) error {
	n := lm.n
	for _, id := range lm.sortedIDs() {
		h := lm.handlers[id]
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
	keep := lm.syncs[:0]
	for _, s := range lm.syncs {
		if s.wait > n.committed {
			keep = append(keep, s)
			continue
		}
		lm.answerSync(s)
	}
	lm.syncs = keep
	return nil
}

// addSync answers a sync() once everything up to wait is committed.
func (lm *learnerMaster) addSync(s pendingSync) {
	if s.wait <= lm.n.committed {
		lm.answerSync(s)
		return
	}
	lm.syncs = append(lm.syncs, s)
}

func (lm *learnerMaster) answerSync(s pendingSync) {
	n := lm.n
	if s.from == n.id {
		n.syncDone = append(n.syncDone, s.token)
		return
	}
	if h := lm.handlers[s.from]; h != nil && h.state >= hStreaming {
		n.send(Message{Type: MsgSync, To: s.from, Data: s.token, Flags: s.flags & FlagRelayed})
	}
}

// tick pings every learner with what is committed (as far as this server
// knows) and drops the ones silent beyond their link's limit: initLimit
// until synced, syncLimit after.
func (lm *learnerMaster) tick(committed int64) {
	n := lm.n
	for _, id := range lm.sortedIDs() {
		n.send(Message{Type: MsgPing, To: id, Zxid: committed})
	}
	for _, id := range lm.sortedIDs() {
		h := lm.handlers[id]
		lim := n.limits(id)
		limit := int64(lim.InitLimit)
		if h.state >= hSynced {
			limit = int64(lim.SyncLimit)
		}
		if n.now-h.lastHeard > limit {
			lm.drop(id, fmt.Sprintf("silent for %d ticks", n.now-h.lastHeard))
		}
	}
}

// learnerPinged takes a learner's PING reply: how far it has logged, and
// its piggyback (session touches) for the driver.
func (n *Node) learnerPinged(h *handler, m Message) {
	h.logged = max(h.logged, m.Zxid)
	if len(m.Data) > 0 {
		n.pings = append(n.pings, m)
	}
}

// counts returns the connected learners and the synced ones by kind.
func (lm *learnerMaster) counts() (learners, followers, observers int) {
	for _, h := range lm.handlers {
		learners++
		if h.state >= hSynced {
			if h.observer {
				observers++
			} else {
				followers++
			}
		}
	}
	return
}

// LearnerStatus describes one learner stream a leader or relay serves.
type LearnerStatus struct {
	ID       uint64
	Observer bool
	// State is the stream's progress: info, epoch-sent, epoch-acked,
	// streaming, synced, up-to-date.
	State string
	// Sent is the last zxid shipped to it, Acked the last it acknowledged
	// as durable (followers).
	Sent, Acked int64
	// HeardTicks is how many ticks ago it was last heard from.
	HeardTicks int64
	// Logged is the last zxid it reported logged (PING replies); Lag is
	// how many committed transactions it has yet to receive, measured
	// like Status.Lag.
	Logged, Lag int64
}

// Learners lists the learner streams this node serves (a leader, or a
// learner with Config.ServeLearners), in id order.
func (n *Node) Learners() []LearnerStatus {
	if n.master == nil {
		return nil
	}
	out := make([]LearnerStatus, 0, len(n.master.handlers))
	for _, id := range n.master.sortedIDs() {
		h := n.master.handlers[id]
		out = append(out, LearnerStatus{ID: id, Observer: h.observer, State: h.state.String(),
			Sent: h.sent, Acked: h.acked, HeardTicks: n.now - h.lastHeard,
			Logged: h.logged, Lag: lag(n.committed, h.logged)})
	}
	return out
}

// wrapRelayed prefixes a sync token forwarded by a relay with the id of the
// learner it came from, that learner's stream (its handler's stream number:
// an answer must never reach a later stream or a restarted process) and
// its flags, so that the answer finds its way back down (through any
// number of relays).
func wrapRelayed(from, stream uint64, flags Flags, token []byte) []byte {
	b := make([]byte, 0, 17+len(token))
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, stream)
	b = append(b, byte(flags&FlagRelayed))
	return append(b, token...)
}

// unwrapRelayed is the inverse of wrapRelayed.
func unwrapRelayed(b []byte) (from, stream uint64, flags Flags, token []byte, ok bool) {
	if len(b) < 17 {
		return 0, 0, 0, nil, false
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), Flags(b[16]) & FlagRelayed, b[17:], true
}
