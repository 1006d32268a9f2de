package zab

import (
	"fmt"
	"math/rand"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// Node is one server's ZAB state machine. It is not safe for concurrent use:
// one driver goroutine calls it.
type Node struct {
	cfg      Config
	id       uint64
	voters   []uint64 // sorted
	isVoter  bool
	quorum   int
	rand     *rand.Rand
	logger   hclog.Logger
	elogger  hclog.Logger
	llogger  hclog.Logger
	lrlogger hclog.Logger

	acceptedEpoch int64
	currentEpoch  int64
	hardDirty     bool

	log       *logView
	committed int64 // highest committed zxid handed (or to be handed) to the state machine

	state    ServerState
	leaderID uint64
	now      int64 // ticks since New

	elec  election
	final finalVote // the vote this server stands by outside elections
	lead  *leaderState
	learn *learnerState
	// master serves learners: a leader's followers and observers, or the
	// observers of a learner with Config.ServeLearners (relay.go).
	master *learnerMaster
	// upstream is the server a non-voter follows without an election
	// (Config.Upstream, SetUpstream); 0: the leader the election finds.
	upstream uint64
	rejoinAt int64 // LOOKING with an upstream: when to join it again
	// stash holds FOLLOWERINFO/OBSERVERINFO received while LOOKING: a
	// learner may decide before its leader does; its stream is kept, as an
	// accepted but not yet served TCP connection would be.
	stash    map[uint64]Message
	pingData []byte // piggyback for the next PING reply to the leader

	// Pending output, handed out by Ready.
	msgs       []Message
	lastMsgs   int // how many messages the last Ready carried (sizes the next batch)
	toApply    []Entry
	syncDone   [][]byte
	requests   []Message
	pings      []Message
	disconnect []uint64
	prevSoft   SoftState
	readyOut   bool
}

// New builds a node from cfg; it starts LOOKING and its first Ready carries
// its vote notifications.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	n := &Node{
		cfg:           cfg,
		id:            cfg.ID,
		voters:        slices.Sorted(slices.Values(cfg.Voters)),
		isVoter:       cfg.isVoter(cfg.ID),
		quorum:        len(cfg.Voters)/2 + 1,
		rand:          cfg.Rand,
		acceptedEpoch: cfg.AcceptedEpoch,
		currentEpoch:  cfg.CurrentEpoch,
		log:           newLogView(cfg.Log),
		committed:     cfg.LastCommittedZxid,
	}
	n.logger = cfg.Logger.Named("zab").With("id", n.id)
	n.elogger = n.logger.Named("election")
	n.llogger = n.logger.Named("leader")
	n.lrlogger = n.logger.Named("learner")
	// The committed log must be contiguous (ZOOKEEPER-4925): refuse to start
	// on a log with holes rather than pass them on as a leader.
	base := cfg.Log.SnapshotZxid()
	ents, err := cfg.Log.Entries(base, cfg.Log.LastZxid())
	if err != nil {
		return nil, fmt.Errorf("zab: reading the log: %w", err)
	}
	if err := checkContiguous(base, ents); err != nil {
		return nil, err
	}
	n.prevSoft = SoftState{}
	n.upstream = cfg.Upstream
	n.becomeLooking("start")
	if n.upstream != 0 {
		n.becomeObserver(n.upstream)
	}
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() uint64 { return n.id }

func (n *Node) serving() bool {
	switch {
	case n.lead != nil:
		return n.lead.phase == phaseBroadcast
	case n.learn != nil:
		return n.learn.phase == lphBroadcast
	}
	return false
}

// Step feeds a message received from a peer.
func (n *Node) Step(m Message) error {
	if n.readyOut {
		return ErrReadyOutstanding
	}
	if m.From == 0 || m.From == n.id {
		return fmt.Errorf("%w: sender %d", ErrInvalidMessage, m.From)
	}
	if m.To != 0 && m.To != n.id {
		return fmt.Errorf("%w: addressed to %d, this is %d", ErrInvalidMessage, m.To, n.id)
	}
	switch n.state {
	case Looking:
		n.stepLooking(m)
	case Following:
		n.stepFollowing(m)
	case Observing:
		n.stepObserving(m)
	case Leading:
		n.stepLeading(m)
	}
	return nil
}

// Tick advances the node's clock by one tick (timeouts, pings, vote
// re-sends). It panics if a Ready is outstanding.
func (n *Node) Tick() {
	if n.readyOut {
		panic("zab: Tick with a Ready outstanding")
	}
	n.now++
	switch n.state {
	case Looking:
		n.tickLooking()
	case Following, Observing:
		n.tickLearner()
	case Leading:
		n.tickLeader()
	}
}

// Disconnected tells the node that its ordered stream with peer broke. The
// driver must call it before delivering any message of a new stream with
// that peer.
func (n *Node) Disconnected(peer uint64) error {
	if n.readyOut {
		return ErrReadyOutstanding
	}
	switch n.state {
	case Looking:
		delete(n.stash, peer)
	case Following, Observing:
		if peer == n.leaderID {
			n.becomeLooking("stream to the leader broke")
			// That stream is gone already: closing "it" would close the
			// next one, and with it the votes this Ready sends the old
			// leader (a relay then waits for yet another connection).
			n.disconnect = slices.DeleteFunc(n.disconnect, func(id uint64) bool { return id == peer })
		} else if n.master != nil {
			n.master.forget(peer)
			delete(n.stash, peer)
		}
	case Leading:
		if h := n.master.handlers[peer]; h != nil {
			n.llogger.Debug("learner stream broke", "peer", peer)
			n.master.forget(peer)
			n.leaderProgress()
		}
	}
	return nil
}

// SetUpstream makes a non-voter follow server id without an election (a
// relay of its site, chosen from a live view), or go back to the leader
// the election finds (id 0). A learner following another server leaves it
// and joins id on a later tick; one already observing id (the election or
// an earlier upstream led it there) keeps its stream, and from then on
// rejoins id, not the election, when that stream breaks.
func (n *Node) SetUpstream(id uint64) error {
	if n.readyOut {
		return ErrReadyOutstanding
	}
	if n.isVoter {
		return fmt.Errorf("%w: a voter follows the elected leader only", ErrInvalidConfig)
	}
	if id == n.id {
		return fmt.Errorf("%w: a server cannot follow itself", ErrInvalidConfig)
	}
	if id == n.upstream {
		return nil
	}
	n.upstream = id
	if n.state == Observing && id != 0 && n.leaderID == id {
		return nil // already there
	}
	if n.state == Observing {
		n.becomeLooking(fmt.Sprintf("upstream set to %d", id))
	} else {
		n.rejoinAt = n.now + 1
	}
	return nil
}

// Propose assigns the next zxid to payload and starts broadcasting it. The
// node keeps payload (it is logged and sent as is): the caller must not
// modify it afterwards. Only
// an established leader accepts (ErrNotLeader otherwise). When the epoch's
// counter is used up, the leader steps down and returns ErrCounterExhausted.
func (n *Node) Propose(payload []byte) (int64, error) {
	if n.readyOut {
		return 0, ErrReadyOutstanding
	}
	if n.state != Leading || n.lead.phase != phaseBroadcast {
		return 0, ErrNotLeader
	}
	return n.propose(payload)
}

// Sync registers a client sync(): token comes back in Ready.SyncDone once
// every transaction the leader proposed before it learned of the sync is
// committed and applied here. A learner forwards it to the leader; it is
// dropped if the node leaves its leader first (the driver sees the role
// change in SoftState and fails such calls).
func (n *Node) Sync(token []byte) error {
	if n.readyOut {
		return ErrReadyOutstanding
	}
	if !n.serving() {
		return ErrNotReady
	}
	token = append([]byte(nil), token...)
	if n.state == Leading {
		n.master.addSync(pendingSync{from: n.id, token: token, wait: n.log.lastZxid()})
		return nil
	}
	n.send(Message{Type: MsgRequest, To: n.leaderID, Flags: FlagSync, Data: token})
	return nil
}

// Forward sends a client request to the leader as a REQUEST (learners
// only); the leader's driver gets it in Ready.Requests. The node keeps
// request: the caller must not modify it afterwards.
func (n *Node) Forward(request []byte) error {
	if n.readyOut {
		return ErrReadyOutstanding
	}
	if n.learn == nil || n.learn.phase != lphBroadcast {
		return ErrNotReady
	}
	n.send(Message{Type: MsgRequest, To: n.leaderID, Data: request})
	return nil
}

// SetPingData sets the piggyback the next PING reply to the leader carries
// (the server puts its session touches there). It replaces any earlier one
// not yet sent.
func (n *Node) SetPingData(data []byte) {
	n.pingData = append([]byte(nil), data...)
}

func (n *Node) send(m Message) {
	m.From = n.id
	if n.msgs == nil {
		// Size the batch like the last one: a leader sends a proposal to
		// every follower for every write, and growing the slice step by
		// step was a tenth of its allocations.
		n.msgs = make([]Message, 0, max(8, n.lastMsgs))
	}
	n.msgs = append(n.msgs, m)
}

// --- state transitions ---------------------------------------------------

// transitions is the table of legal role changes.
var transitions = map[ServerState][]ServerState{
	0:         {Looking},
	Looking:   {Following, Leading, Observing},
	Following: {Looking},
	Leading:   {Looking},
	Observing: {Looking},
}

// transition moves to a new role; an illegal move is a bug in this package
// and panics.
func (n *Node) transition(to ServerState) {
	if !slices.Contains(transitions[n.state], to) {
		panic(fmt.Sprintf("zab: node %d: illegal transition %s -> %s", n.id, n.state, to))
	}
	if (to == Leading || to == Following) && !n.isVoter {
		panic(fmt.Sprintf("zab: node %d: an observer cannot become %s", n.id, to))
	}
	if to == Observing && n.isVoter {
		panic(fmt.Sprintf("zab: node %d: a voter cannot become OBSERVING", n.id))
	}
	n.logger.Debug("state change", "from", n.state, "to", to)
	n.state = to
}

func (n *Node) becomeLooking(reason string) {
	if n.master != nil {
		n.master.closeAll()
	}
	if n.state == Following || n.state == Observing {
		n.disconnect = append(n.disconnect, n.leaderID)
	}
	if n.state != 0 {
		n.logger.Info("going back to LOOKING", "reason", reason, "was", n.state)
	}
	n.transition(Looking)
	n.lead, n.learn, n.master, n.leaderID = nil, nil, nil, 0
	n.stash = map[uint64]Message{}
	n.pingData = nil
	n.startElection()
	// A non-voter with an upstream joins it again on a later tick (never in
	// this Ready, whose Disconnect closes the old stream after its
	// messages are sent).
	n.rejoinAt = n.now + 1
}

func (n *Node) becomeLeader() {
	n.transition(Leading)
	n.leaderID = n.id
	n.startLeading()
}

func (n *Node) becomeFollower(leader uint64) {
	n.transition(Following)
	n.leaderID = leader
	n.startLearning(MsgFollowerInfo)
}

func (n *Node) becomeObserver(leader uint64) {
	n.transition(Observing)
	n.leaderID = leader
	n.startLearning(MsgObserverInfo)
}

// commitTo marks everything up to z committed and queues it for the state
// machine, checking that the committed sequence is contiguous.
func (n *Node) commitTo(z int64) error {
	if z <= n.committed {
		return nil
	}
	if z > n.log.lastZxid() {
		return fmt.Errorf("%w: commit %s beyond the last logged %s", ErrProtocol, FormatZxid(z), FormatZxid(n.log.lastZxid()))
	}
	ents, err := n.log.entries(n.committed, z)
	if err != nil {
		return err
	}
	if err := checkContiguous(n.committed, ents); err != nil {
		return err
	}
	if len(ents) == 0 || ents[len(ents)-1].Zxid != z {
		return fmt.Errorf("%w: commit %s is not a logged zxid", ErrLogGap, FormatZxid(z))
	}
	n.toApply = append(n.toApply, ents...)
	n.committed = z
	return nil
}
