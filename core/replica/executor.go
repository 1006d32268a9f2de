package replica

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/zab"
)

// ErrStopped is returned by Process once Storage has failed: the executor
// executes nothing more.
var ErrStopped = errors.New("replica: stopped after a storage failure")

// Config wires an Executor. Every field is required except Logger.
type Config struct {
	Node      *zab.Node
	Storage   Storage
	Transport Transport
	Applier   Applier
	Notifier  Notifier
	Logger    hclog.Logger
}

// Executor drives one zab.Node. Its methods other than the observers (Role,
// Serving, Leader, Status) are called from one goroutine, the driver's,
// which is also the only one that touches the Node.
type Executor struct {
	node *zab.Node
	st   Storage
	tr   Transport
	app  Applier
	note Notifier
	log  hclog.Logger

	stopped bool

	// Observations for other goroutines (client connections, mntr).
	role    atomic.Int32 // zab.ServerState
	serving atomic.Bool
	leader  atomic.Uint64
	status  atomic.Pointer[zab.Status] // refreshed after every Ready
}

// New checks cfg and returns an executor; the node starts LOOKING.
func New(cfg Config) (*Executor, error) {
	var missing []string
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Node", cfg.Node == nil}, {"Storage", cfg.Storage == nil}, {"Transport", cfg.Transport == nil},
		{"Applier", cfg.Applier == nil}, {"Notifier", cfg.Notifier == nil},
	} {
		if f.nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, errors.New("replica: Config is missing " + strings.Join(missing, ", "))
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	e := &Executor{node: cfg.Node, st: cfg.Storage, tr: cfg.Transport, app: cfg.Applier, note: cfg.Notifier, log: cfg.Logger}
	e.role.Store(int32(zab.Looking))
	st := e.node.Status()
	e.status.Store(&st)
	return e, nil
}

// Node returns the node, for the driver goroutine only.
func (e *Executor) Node() *zab.Node { return e.node }

// Transport returns the transport the executor sends on.
func (e *Executor) Transport() Transport { return e.tr }

// Role is the node's role as of the last executed Ready.
func (e *Executor) Role() zab.ServerState { return zab.ServerState(e.role.Load()) }

// Serving reports whether the node serves clients (an established leader,
// or a learner that got UPTODATE), as of the last executed Ready.
func (e *Executor) Serving() bool { return e.serving.Load() }

// Leader is the id of the node's leader (0 while LOOKING).
func (e *Executor) Leader() uint64 { return e.leader.Load() }

// Status is the node's zab.Status after the last executed Ready; safe from
// any goroutine.
func (e *Executor) Status() *zab.Status { return e.status.Load() }

// Stopped reports whether Storage failed and the executor stopped.
func (e *Executor) Stopped() bool { return e.stopped }

// Deliver steps every event the transport has waiting: messages, and the
// ends of streams. It steps them all before the caller processes the Ready,
// so proposals that arrived together are logged with one fsync (group
// commit on learners too).
func (e *Executor) Deliver() {
	for {
		ev, ok := e.tr.Recv()
		if !ok {
			return
		}
		if e.stopped {
			continue
		}
		if ev.Msg != nil {
			if err := e.node.Step(*ev.Msg); err != nil {
				e.log.Debug("message refused", "msg", ev.Msg.String(), "error", err)
			}
		} else if err := e.node.Disconnected(ev.Broken); err != nil {
			e.log.Debug("disconnect not taken", "peer", ev.Broken, "error", err)
		}
	}
}

// Process executes Ready batches until the node has none, in the order of
// zab.Ready's documentation with the two relaxations it allows in the
// broadcast phase. It returns ErrStopped (and has told the Notifier) once
// Storage failed.
func (e *Executor) Process() error {
	if e.stopped {
		return ErrStopped
	}
	for e.node.HasReady() {
		rd := e.node.Ready()
		if err := e.execute(&rd); err != nil {
			e.stopped = true
			e.serving.Store(false)
			e.log.Error("cannot persist ZAB state; this server stops replicating", "error", err)
			e.note.StorageFailed(err)
			return ErrStopped
		}
		e.node.Advance(rd)
		st := e.node.Status()
		e.status.Store(&st)
		// Proposing is only allowed once the Ready is acknowledged.
		for _, m := range rd.Requests {
			e.note.Forwarded(m.From, m.Data)
		}
	}
	return nil
}

// execute runs one Ready. The durability contract (core/zab/doc.go):
// steps 1-3 (snapshot or truncation, entries, epochs) are durable, each
// before the next, before step 4 sends anything that could acknowledge
// them: a learner's ACK of NEWLEADER leaves only once the synced
// transactions and then currentEpoch are on disk (ZOOKEEPER-3642,
// 3911/4646, 4643), and an ACK of a proposal only once it is logged.
//
// In the broadcast phase (no epoch change, truncation or snapshot in the
// Ready, which keep the strict order) two things happen before this Ready's
// fsync, each taking an fsync off a write's path (zab.Ready documents why
// both are safe):
//
//   - Committed entries are applied and their clients answered. They are
//     durable on a quorum already; a crash before this fsync loses nothing
//     the ensemble committed (a restarted server syncs before it serves).
//   - A leader sends everything (as etcd raft does), so followers log a
//     proposal while the leader does; a learner sends the requests it
//     forwards. Neither acknowledges anything this Ready persists. A
//     leader's proposals earn ACKs, but this goroutine persists the Ready
//     before it steps anything else, so those ACKs count only once the
//     leader's copy is durable too: a commit still means a durable quorum.
//     A follower's ACKs go out only after the fsync.
func (e *Executor) execute(rd *zab.Ready) error {
	plain := rd.SoftState == nil && rd.HardState == nil && rd.Snapshot == nil && !rd.Truncate
	role := e.Role()
	sentEarly := plain && role == zab.Leading
	switch {
	case sentEarly:
		e.send(rd)
	case plain:
		e.sendRequestsEarly(rd)
	}
	if plain {
		e.apply(rd)
	}
	if err := e.persist(rd); err != nil {
		return err
	}
	if !sentEarly {
		e.send(rd)
	}
	if !plain {
		e.apply(rd)
	}
	for _, tok := range rd.SyncDone {
		e.note.SyncDone(tok)
	}
	if ss := rd.SoftState; ss != nil {
		prev := zab.ServerState(e.role.Swap(int32(ss.Role)))
		e.leader.Store(ss.Leader)
		e.serving.Store(ss.Serving)
		e.note.RoleChanged(prev, *ss)
	}
	for _, m := range rd.Pings {
		e.note.Pinged(m.From, m.Data)
	}
	return nil
}

// persist performs steps 1-3, each durable before the next.
func (e *Executor) persist(rd *zab.Ready) error {
	switch {
	case rd.Snapshot != nil:
		if err := e.st.InstallSnapshot(*rd.Snapshot); err != nil {
			return err
		}
		if err := e.app.Restore(*rd.Snapshot); err != nil {
			return err
		}
	case rd.Truncate:
		if err := e.st.TruncateAfter(rd.TruncateAfter); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		if err := e.st.Append(rd.Entries); err != nil {
			return err
		}
	}
	if hs := rd.HardState; hs != nil {
		// The entries above are durable; only now the epochs, and only
		// after both do the messages (ACKs) go out.
		if err := e.st.SetHardState(*hs); err != nil {
			return err
		}
	}
	return nil
}

func (e *Executor) apply(rd *zab.Ready) {
	for _, ent := range rd.Committed {
		e.app.Apply(ent)
	}
}

// sendRequestsEarly sends a learner's forwarded requests (REQUEST) ahead of
// the rest of the Ready and removes them from rd.Messages, keeping the order
// of the others. The Ready's slice is the executor's: it is filtered in
// place.
func (e *Executor) sendRequestsEarly(rd *zab.Ready) {
	rest := rd.Messages[:0]
	for _, m := range rd.Messages {
		if m.Type == zab.MsgRequest {
			e.tr.Send(m.To, m)
		} else {
			rest = append(rest, m)
		}
	}
	rd.Messages = rest
}

// send hands a Ready's messages to the transport and closes the streams it
// drops, in the Ready's order.
func (e *Executor) send(rd *zab.Ready) {
	for _, m := range rd.Messages {
		e.tr.Send(m.To, m)
	}
	for _, p := range rd.Disconnect {
		e.tr.CloseStream(p)
	}
}
