package zab

import (
	"bytes"
	"math/rand"
	"testing"
)

// net is a tiny in-order network of nodes for the learner-master tests:
// one FIFO queue; a Ready's Disconnect reaches the peer after the messages
// sent before it.
type tnet struct {
	t     *testing.T
	nodes map[uint64]*Node
	logs  map[uint64]*MemLog
	queue []tev
	// per node: what its Readies carried
	committed map[uint64][]Entry
	syncDone  map[uint64][][]byte
	requests  map[uint64][]Message
	sent      []Message
}

type tev struct {
	to     uint64
	msg    *Message
	broken uint64
}

func newTNet(t *testing.T) *tnet {
	return &tnet{t: t, nodes: map[uint64]*Node{}, logs: map[uint64]*MemLog{},
		committed: map[uint64][]Entry{}, syncDone: map[uint64][][]byte{}, requests: map[uint64][]Message{}}
}

func (w *tnet) add(id uint64, voters []uint64, mod func(*Config)) *Node {
	w.t.Helper()
	cfg := DefaultConfig()
	cfg.ID, cfg.Voters = id, voters
	cfg.Rand = rand.New(rand.NewSource(int64(id)))
	cfg.FinalizeTicks = 0
	log := NewMemLog()
	cfg.Log = log
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.nodes[id], w.logs[id] = n, log
	return n
}

// run drives every node and delivers messages until nothing moves.
func (w *tnet) run() {
	w.t.Helper()
	for i := 0; i < 10000; i++ {
		moved := false
		for id, n := range w.nodes {
			for n.HasReady() {
				moved = true
				rd := n.Ready()
				if err := w.logs[id].ApplyReady(rd); err != nil {
					w.t.Fatal(err)
				}
				for _, m := range rd.Messages {
					m := m
					w.sent = append(w.sent, m)
					w.queue = append(w.queue, tev{to: m.To, msg: &m})
				}
				for _, p := range rd.Disconnect {
					w.queue = append(w.queue, tev{to: p, broken: id})
				}
				w.committed[id] = append(w.committed[id], rd.Committed...)
				w.syncDone[id] = append(w.syncDone[id], rd.SyncDone...)
				w.requests[id] = append(w.requests[id], rd.Requests...)
				n.Advance(rd)
			}
		}
		if len(w.queue) > 0 {
			moved = true
			ev := w.queue[0]
			w.queue = w.queue[1:]
			if n := w.nodes[ev.to]; n != nil {
				if ev.msg != nil {
					_ = n.Step(*ev.msg)
				} else {
					_ = n.Disconnected(ev.broken)
				}
			}
		}
		if !moved {
			return
		}
	}
	w.t.Fatal("network did not settle")
}

func (w *tnet) tick(k int) {
	for i := 0; i < k; i++ {
		for _, n := range w.nodes {
			n.Tick()
		}
		w.run()
	}
}

// sentTo returns the messages of type typ sent from -> to since mark.
func (w *tnet) sentTo(mark int, from, to uint64, typ MessageType) []Message {
	var out []Message
	for _, m := range w.sent[mark:] {
		if m.From == from && m.To == to && m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// relayNet: voter 1 leads alone; relay 10 follows it; observer 20 follows
// the relay.
func relayNet(t *testing.T) *tnet {
	w := newTNet(t)
	w.add(1, []uint64{1}, nil)
	w.add(10, []uint64{1}, func(c *Config) { c.Upstream, c.ServeLearners = 1, true })
	w.add(20, []uint64{1}, func(c *Config) { c.Upstream = 10 })
	w.run()
	w.tick(3)
	for _, id := range []uint64{1, 10, 20} {
		if st := w.nodes[id].Status(); !st.Serving {
			t.Fatalf("node %d not serving: %+v", id, st)
		}
	}
	return w
}

func TestRelayServesItsObserversFromItsOwnStream(t *testing.T) {
	w := relayNet(t)
	leader := w.nodes[1]
	mark := len(w.sent)
	for i := 0; i < 5; i++ {
		if _, err := leader.Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	w.run()
	if got := len(w.committed[20]); got != 5 {
		t.Fatalf("observer committed %d entries, want 5", got)
	}
	for i, e := range w.committed[20] {
		if e.Zxid != MakeZxid(1, int64(i+1)) || !bytes.Equal(e.Data, []byte{byte(i)}) {
			t.Fatalf("observer entry %d: %s %v", i, FormatZxid(e.Zxid), e.Data)
		}
	}
	// One stream per site: the leader informs the relay only; the relay
	// informs its observer.
	if n := len(w.sentTo(mark, 1, 10, MsgInform)); n != 5 {
		t.Fatalf("leader sent %d INFORMs to the relay, want 5", n)
	}
	if n := len(w.sentTo(mark, 1, 20, MsgInform)); n != 0 {
		t.Fatalf("leader sent %d INFORMs to the observer behind the relay", n)
	}
	if n := len(w.sentTo(mark, 10, 20, MsgInform)); n != 5 {
		t.Fatalf("relay sent %d INFORMs, want 5", n)
	}
	// Status: the observer's upstream is the relay, nothing to catch up;
	// the leader sees one learner, the relay one.
	st := w.nodes[20].Status()
	if st.Upstream != 10 || st.Lag != 0 || st.UpstreamCommitted != MakeZxid(1, 5) || st.Role != Observing {
		t.Fatalf("observer status %+v", st)
	}
	if ls := w.nodes[10].Learners(); len(ls) != 1 || ls[0].ID != 20 || !ls[0].Observer || ls[0].State != "up-to-date" || ls[0].Sent != MakeZxid(1, 5) {
		t.Fatalf("relay learners %+v", ls)
	}
	if st := leader.Status(); st.Learners != 1 || st.SyncedObservers != 1 {
		t.Fatalf("leader status %+v", st)
	}
	// After a ping round the leader knows how far its relay has logged.
	w.tick(1)
	if ls := leader.Learners(); len(ls) != 1 || ls[0].Logged != MakeZxid(1, 5) || ls[0].Lag != 0 {
		t.Fatalf("leader's view of the relay: %+v", ls)
	}
}

func TestRelayForwardsWritesAndSyncs(t *testing.T) {
	w := relayNet(t)
	obs := w.nodes[20]
	if err := obs.Forward([]byte("write")); err != nil {
		t.Fatal(err)
	}
	w.run()
	reqs := w.requests[1]
	if len(reqs) != 1 || reqs[0].From != 10 || string(reqs[0].Data) != "write" {
		t.Fatalf("leader's forwarded requests %v", reqs)
	}
	// A proposal the leader makes before the sync reaches it is applied at
	// the observer before the sync is answered.
	if _, err := w.nodes[1].Propose([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := obs.Sync([]byte("tok")); err != nil {
		t.Fatal(err)
	}
	w.run()
	if got := w.syncDone[20]; len(got) != 1 || string(got[0]) != "tok" {
		t.Fatalf("observer sync answers %q", got)
	}
	if len(w.committed[20]) != 1 || string(w.committed[20][0].Data) != "before" {
		t.Fatalf("observer committed %v before its sync answer", w.committed[20])
	}
	if len(w.syncDone[10]) != 0 || len(w.syncDone[1]) != 0 {
		t.Fatalf("a relayed sync was answered as the relay's or leader's own: %q %q", w.syncDone[10], w.syncDone[1])
	}
}

func TestRelaySyncsANewObserverBySnapshotAfterCompaction(t *testing.T) {
	w := relayNet(t)
	for i := 0; i < 4; i++ {
		w.nodes[1].Propose([]byte{byte(i)})
	}
	w.run()
	// The relay compacts its log into a snapshot at the 3rd entry.
	if err := w.logs[10].Compact(Snapshot{Zxid: MakeZxid(1, 3), Data: []byte("state@3")}); err != nil {
		t.Fatal(err)
	}
	mark := len(w.sent)
	w.add(21, []uint64{1}, func(c *Config) { c.Upstream = 10 })
	w.run()
	w.tick(2)
	snaps := w.sentTo(mark, 10, 21, MsgSnap)
	if len(snaps) != 1 || snaps[0].Zxid != MakeZxid(1, 3) || string(snaps[0].Data) != "state@3" {
		t.Fatalf("relay's SNAP to the new observer: %v", snaps)
	}
	if n := len(w.sentTo(mark, 1, 21, MsgSnap)); n != 0 {
		t.Fatal("the leader sent the snapshot across, not the relay")
	}
	if st := w.nodes[21].Status(); !st.Serving || st.Committed != MakeZxid(1, 4) {
		t.Fatalf("new observer %+v", st)
	}
}

func TestRelayThatLosesItsUpstreamResyncsItsObservers(t *testing.T) {
	w := relayNet(t)
	w.nodes[1].Propose([]byte("a"))
	w.run()
	// The relay's stream with the leader breaks (both ends are told).
	w.nodes[10].Disconnected(1)
	w.nodes[1].Disconnected(10)
	w.run()
	if st := w.nodes[20].Status(); st.Serving {
		t.Fatalf("observer still serving after its relay left its upstream: %+v", st)
	}
	mark := len(w.sent)
	w.nodes[1].Propose([]byte("b"))
	w.tick(4)
	if st := w.nodes[20].Status(); !st.Serving || st.Committed != MakeZxid(1, 2) {
		t.Fatalf("observer after the relay came back: %+v", st)
	}
	if d := w.sentTo(mark, 10, 20, MsgDiff); len(d) != 1 || d[0].Zxid != MakeZxid(1, 1) {
		t.Fatalf("observer resync: %v", d)
	}
}

func TestSetUpstreamMovesAnObserverToTheLeader(t *testing.T) {
	w := relayNet(t)
	if err := w.nodes[20].SetUpstream(1); err != nil {
		t.Fatal(err)
	}
	w.tick(3)
	st := w.nodes[20].Status()
	if st.Upstream != 1 || !st.Serving {
		t.Fatalf("observer %+v", st)
	}
	if ls := w.nodes[10].Learners(); len(ls) != 0 {
		t.Fatalf("relay still serves %+v", ls)
	}
	if err := w.nodes[1].SetUpstream(2); err == nil {
		t.Fatal("a voter accepted an upstream")
	}
	if err := w.nodes[20].SetUpstream(20); err == nil {
		t.Fatal("an observer accepted itself as upstream")
	}
}

// TestSetUpstreamKeepsTheStreamItAlreadyHas: an observer that the election
// led to leader 1 and is then told to follow 1 keeps its stream (no
// resync, no new join).
func TestSetUpstreamKeepsTheStreamItAlreadyHas(t *testing.T) {
	w := newTNet(t)
	w.add(1, []uint64{1}, nil)
	w.add(30, []uint64{1}, nil) // an observer without an upstream: the election finds 1
	w.run()
	w.tick(3)
	before := w.nodes[30].Status()
	if !before.Serving || before.Upstream != 1 {
		t.Fatalf("observer before: %+v", before)
	}
	mark := len(w.sent)
	if err := w.nodes[30].SetUpstream(1); err != nil {
		t.Fatal(err)
	}
	w.run()
	w.tick(3)
	if st := w.nodes[30].Status(); !st.Serving || st.Upstream != 1 {
		t.Fatalf("observer after SetUpstream(1): %+v", st)
	}
	for _, m := range w.sent[mark:] {
		if m.To == 1 && m.From == 30 && m.Type == MsgObserverInfo {
			t.Fatalf("the observer joined again the leader it already followed: %v", m)
		}
	}
}

// Per-link limits: a relay whose WAN link to the leader has a syncLimit of
// 20 ticks outlives a silence that would drop a LAN link (5 ticks), and
// the leader keeps it as long.
func TestPeerLimitsPerLink(t *testing.T) {
	w := newTNet(t)
	wan := Limits{InitLimit: 40, SyncLimit: 20}
	w.add(1, []uint64{1}, func(c *Config) { c.PeerLimits = map[uint64]Limits{10: wan} })
	w.add(10, []uint64{1}, func(c *Config) { c.Upstream, c.PeerLimits = 1, map[uint64]Limits{1: wan} })
	w.run()
	w.tick(3)
	relay, leader := w.nodes[10], w.nodes[1]
	// Neither hears from the other for 15 ticks (nothing is delivered).
	silent := func(k int) {
		for i := 0; i < k; i++ {
			relay.Tick()
			leader.Tick()
		}
		w.queue = nil
	}
	silent(15)
	if st := relay.Status(); st.Role != Observing || st.UpstreamHeardTicks < 15 {
		t.Fatalf("relay after 15 silent ticks: %+v", st)
	}
	if ls := leader.Learners(); len(ls) != 1 || ls[0].HeardTicks < 15 {
		t.Fatalf("leader's learners after 15 silent ticks: %+v", ls)
	}
	silent(6)
	if st := relay.Status(); st.Role != Looking {
		t.Fatalf("relay after 21 silent ticks: %+v", st)
	}
	if ls := leader.Learners(); len(ls) != 0 {
		t.Fatalf("leader still serves %+v after 21 silent ticks", ls)
	}
	// A config with a bad per-link limit is refused, naming the field.
	cfg := DefaultConfig()
	cfg.ID, cfg.Voters, cfg.Rand, cfg.Log = 10, []uint64{1}, rand.New(rand.NewSource(1)), NewMemLog()
	cfg.PeerLimits = map[uint64]Limits{1: {InitLimit: 0, SyncLimit: 3}}
	cfg.Upstream = 10
	err := cfg.Validate()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("PeerLimits")) || !bytes.Contains([]byte(err.Error()), []byte("Upstream")) {
		t.Fatalf("Validate: %v", err)
	}
}
