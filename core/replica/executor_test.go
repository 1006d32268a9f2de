package replica

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/zab"
)

// trace is the shared, ordered record of what every executor did.
type trace struct{ events []string }

func (t *trace) add(format string, a ...any) { t.events = append(t.events, fmt.Sprintf(format, a...)) }

// index returns the position of the first event equal to e, or -1.
func (t *trace) index(e string) int {
	for i, x := range t.events {
		if x == e {
			return i
		}
	}
	return -1
}

// memStorage is a Storage over zab.MemLog that records each durable step
// and can be made to fail.
type memStorage struct {
	*zab.MemLog
	id   uint64
	tr   *trace
	fail error
}

func (s *memStorage) InstallSnapshot(snap zab.Snapshot) error {
	s.tr.add("%d persist snap %s", s.id, zab.FormatZxid(snap.Zxid))
	s.MemLog.InstallSnapshot(snap)
	return nil
}

func (s *memStorage) TruncateAfter(z int64) error {
	s.tr.add("%d persist trunc %s", s.id, zab.FormatZxid(z))
	return s.MemLog.TruncateAfter(z)
}

func (s *memStorage) Append(ents []zab.Entry) error {
	if s.fail != nil {
		return s.fail
	}
	for _, e := range ents {
		s.tr.add("%d persist %s", s.id, zab.FormatZxid(e.Zxid))
	}
	return s.MemLog.Append(ents...)
}

func (s *memStorage) SetHardState(hs zab.HardState) error {
	s.tr.add("%d persist epochs %d/%d", s.id, hs.AcceptedEpoch, hs.CurrentEpoch)
	return nil
}

// wire is a perfect in-order network between executors' transports.
type wire struct {
	tr    *trace
	boxes map[uint64]*fakeTransport
}

type fakeTransport struct {
	w      *wire
	id     uint64
	events []peer.Event
	notify chan struct{}
}

func (f *fakeTransport) Send(to uint64, m zab.Message) {
	m.From, m.To = f.id, to
	desc := m.Type.String()
	if m.Type == zab.MsgProposal || m.Type == zab.MsgAck || m.Type == zab.MsgCommit {
		desc += " " + zab.FormatZxid(m.Zxid)
	}
	f.w.tr.add("%d send %s to %d", f.id, desc, to)
	if dst := f.w.boxes[to]; dst != nil {
		dst.events = append(dst.events, peer.Event{Msg: &m})
	}
}
func (f *fakeTransport) CloseStream(p uint64)    {}
func (f *fakeTransport) Notify() <-chan struct{} { return f.notify }
func (f *fakeTransport) Close() error            { return nil }
func (f *fakeTransport) Recv() (peer.Event, bool) {
	if len(f.events) == 0 {
		return peer.Event{}, false
	}
	ev := f.events[0]
	f.events = f.events[1:]
	return ev, true
}

type recorder struct {
	id      uint64
	tr      *trace
	failed  error
	roles   []zab.ServerState
	syncs   int
	forward [][]byte
}

func (r *recorder) Restore(snap zab.Snapshot) error {
	r.tr.add("%d restore %s", r.id, zab.FormatZxid(snap.Zxid))
	return nil
}
func (r *recorder) Apply(e zab.Entry) { r.tr.add("%d apply %s", r.id, zab.FormatZxid(e.Zxid)) }
func (r *recorder) SyncDone([]byte)   { r.syncs++ }
func (r *recorder) RoleChanged(prev zab.ServerState, st zab.SoftState) {
	r.roles = append(r.roles, st.Role)
}
func (r *recorder) Forwarded(from uint64, data []byte) { r.forward = append(r.forward, data) }
func (r *recorder) Pinged(uint64, []byte)              {}
func (r *recorder) StorageFailed(err error)            { r.failed = err }

type member struct {
	exec *Executor
	st   *memStorage
	rec  *recorder
}

func newPair(t *testing.T) (*trace, map[uint64]*member) {
	t.Helper()
	tr := &trace{}
	w := &wire{tr: tr, boxes: map[uint64]*fakeTransport{}}
	ms := map[uint64]*member{}
	for _, id := range []uint64{1, 2} {
		st := &memStorage{MemLog: zab.NewMemLog(), id: id, tr: tr}
		cfg := zab.DefaultConfig()
		cfg.ID, cfg.Voters, cfg.Log = id, []uint64{1, 2}, st
		cfg.Rand = rand.New(rand.NewSource(int64(id)))
		cfg.FinalizeTicks = 0
		node, err := zab.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ft := &fakeTransport{w: w, id: id, notify: make(chan struct{}, 1)}
		w.boxes[id] = ft
		rec := &recorder{id: id, tr: tr}
		ex, err := New(Config{Node: node, Storage: st, Transport: ft, Applier: rec, Notifier: rec})
		if err != nil {
			t.Fatal(err)
		}
		ms[id] = &member{exec: ex, st: st, rec: rec}
	}
	return tr, ms
}

// settle runs both executors until nothing moves.
func settle(t *testing.T, ms map[uint64]*member) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		moved := false
		for _, id := range []uint64{1, 2} {
			m := ms[id]
			if m.exec.Node().HasReady() || len(m.exec.Transport().(*fakeTransport).events) > 0 {
				moved = true
			}
			m.exec.Deliver()
			m.exec.Process()
		}
		if !moved {
			return
		}
	}
	t.Fatal("did not settle")
}

func established(t *testing.T) (*trace, map[uint64]*member, *member) {
	t.Helper()
	tr, ms := newPair(t)
	settle(t, ms)
	for i := 0; i < 5; i++ {
		for _, m := range ms {
			m.exec.Node().Tick()
		}
		settle(t, ms)
	}
	for _, m := range ms {
		if m.exec.Role() == zab.Leading && m.exec.Serving() {
			return tr, ms, m
		}
	}
	t.Fatalf("no leader: %v", tr.events)
	return nil, nil, nil
}

func before(t *testing.T, tr *trace, a, b string) {
	t.Helper()
	ia, ib := tr.index(a), tr.index(b)
	if ia < 0 || ib < 0 {
		t.Fatalf("missing %q (%d) or %q (%d) in\n%s", a, ia, b, ib, strings.Join(tr.events, "\n"))
	}
	if ia > ib {
		t.Fatalf("%q came after %q in\n%s", a, b, strings.Join(tr.events, "\n"))
	}
}

// The strict order while an epoch is set up: a follower's NEWLEADER ack
// leaves only after its epochs are durable; the relaxed order in broadcast:
// the leader sends a proposal before its own fsync, a follower acks only
// after its fsync, and a commit is applied before that Ready's fsync.
func TestExecutorDurabilityOrder(t *testing.T) {
	tr, ms, leader := established(t)
	lid := leader.st.id
	fid := 3 - lid
	before(t, tr, fmt.Sprintf("%d persist epochs 1/1", fid), fmt.Sprintf("%d send ACK 0x0 to %d", fid, lid))
	before(t, tr, fmt.Sprintf("%d persist epochs 1/1", lid), fmt.Sprintf("%d send UPTODATE to %d", lid, fid))

	z1, z2 := zab.MakeZxid(1, 1), zab.MakeZxid(1, 2)
	if _, err := leader.exec.Node().Propose([]byte("a")); err != nil {
		t.Fatal(err)
	}
	settle(t, ms)
	if _, err := leader.exec.Node().Propose([]byte("b")); err != nil {
		t.Fatal(err)
	}
	settle(t, ms)
	f := func(format string, a ...any) string { return fmt.Sprintf(format, a...) }
	x1, x2 := zab.FormatZxid(z1), zab.FormatZxid(z2)
	before(t, tr, f("%d send PROPOSAL %s to %d", lid, x1, fid), f("%d persist %s", lid, x1))
	before(t, tr, f("%d persist %s", fid, x1), f("%d send ACK %s to %d", fid, x1, lid))
	before(t, tr, f("%d persist %s", lid, x1), f("%d apply %s", lid, x1))
	// The follower learns of commit 1 in the Ready that logs proposal 2:
	// it applies 1 before that Ready's fsync.
	before(t, tr, f("%d apply %s", fid, x1), f("%d persist %s", fid, x2))
	if leader.exec.Status().Committed != z2 {
		t.Fatalf("leader status %+v", leader.exec.Status())
	}
}

// A storage failure stops the executor: nothing more is sent or applied,
// and the notifier is told once.
func TestExecutorStopsOnStorageFailure(t *testing.T) {
	tr, ms, leader := established(t)
	boom := errors.New("disk on fire")
	leader.st.fail = boom
	n := len(tr.events)
	if _, err := leader.exec.Node().Propose([]byte("a")); err != nil {
		t.Fatal(err)
	}
	settle(t, ms)
	if !errors.Is(leader.rec.failed, boom) || !leader.exec.Stopped() || leader.exec.Serving() {
		t.Fatalf("failed=%v stopped=%v serving=%v", leader.rec.failed, leader.exec.Stopped(), leader.exec.Serving())
	}
	for _, e := range tr.events[n:] {
		if strings.HasPrefix(e, fmt.Sprintf("%d apply", leader.st.id)) {
			t.Fatalf("applied after the failure: %v", tr.events[n:])
		}
	}
	if err := leader.exec.Process(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Process after failure: %v", err)
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	_, err := New(Config{})
	if err == nil || !strings.Contains(err.Error(), "Node, Storage, Transport, Applier, Notifier") {
		t.Fatalf("New: %v", err)
	}
}
