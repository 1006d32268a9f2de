package zab

import (
	"errors"
	"math/rand"
	"testing"
)

// drive executes every pending Ready of n against log, like a driver, and
// returns them.
func drive(t *testing.T, n *Node, log *MemLog) []Ready {
	t.Helper()
	var out []Ready
	for n.HasReady() {
		rd := n.Ready()
		if err := log.ApplyReady(rd); err != nil {
			t.Fatal(err)
		}
		n.Advance(rd)
		out = append(out, rd)
	}
	return out
}

func newTestNode(t *testing.T, id uint64, voters []uint64, mod func(*Config)) (*Node, *MemLog) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.Voters = voters
	cfg.Rand = rand.New(rand.NewSource(int64(id)))
	log := NewMemLog()
	cfg.Log = log
	cfg.FinalizeTicks = 0
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, log
}

func TestSingleVoterLeadsProposesAndSyncs(t *testing.T) {
	n, log := newTestNode(t, 1, []uint64{1}, nil)
	drive(t, n, log)
	st := n.Status()
	if st.Role != Leading || st.Established != 1 || !st.Serving {
		t.Fatalf("status %+v", st)
	}
	var committed []Entry
	for i := 0; i < 3; i++ {
		z, err := n.Propose([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if z != MakeZxid(1, int64(i+1)) {
			t.Fatalf("zxid %s", FormatZxid(z))
		}
		if err := n.Sync([]byte("s")); err != nil {
			t.Fatal(err)
		}
		syncs := 0
		for _, rd := range drive(t, n, log) {
			committed = append(committed, rd.Committed...)
			syncs += len(rd.SyncDone)
			// A lone voter never commits what the same Ready appends:
			// its own vote counts once the entry is durable.
			for _, c := range rd.Committed {
				for _, e := range rd.Entries {
					if c.Zxid == e.Zxid {
						t.Fatalf("%s committed in the Ready that appends it", FormatZxid(c.Zxid))
					}
				}
			}
		}
		if syncs != 1 || len(committed) != i+1 {
			t.Fatalf("after proposal %d: %d syncs answered, %d committed", i+1, syncs, len(committed))
		}
	}
	if len(committed) != 3 || committed[2].Zxid != MakeZxid(1, 3) || log.LastZxid() != MakeZxid(1, 3) {
		t.Fatalf("committed %v, log ends %s", committed, FormatZxid(log.LastZxid()))
	}
}

func TestCounterExhaustionStartsANewEpoch(t *testing.T) {
	n, log := newTestNode(t, 1, []uint64{1}, func(c *Config) { c.MaxCounter = 2 })
	drive(t, n, log)
	for i := 0; i < 2; i++ {
		if _, err := n.Propose(nil); err != nil {
			t.Fatal(err)
		}
		drive(t, n, log)
	}
	if _, err := n.Propose(nil); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("got %v", err)
	}
	// A single voter re-elects itself at once, in a new epoch.
	drive(t, n, log)
	if st := n.Status(); st.Established != 2 {
		t.Fatalf("status after stepping down %+v", st)
	}
	z, err := n.Propose(nil)
	if err != nil || z != MakeZxid(2, 1) {
		t.Fatalf("after re-election: %s, %v", FormatZxid(z), err)
	}
}

func TestAPIErrors(t *testing.T) {
	n, log := newTestNode(t, 1, []uint64{1, 2, 3}, nil)
	if _, err := n.Propose(nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Propose while LOOKING: %v", err)
	}
	if err := n.Sync(nil); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Sync while LOOKING: %v", err)
	}
	if err := n.Step(Message{Type: MsgVote}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("Step without sender: %v", err)
	}
	rd := n.Ready()
	if err := n.Step(Message{Type: MsgVote, From: 2}); !errors.Is(err, ErrReadyOutstanding) {
		t.Fatalf("Step with a Ready outstanding: %v", err)
	}
	if n.HasReady() {
		t.Fatal("HasReady with a Ready outstanding")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tick with a Ready outstanding did not panic")
			}
		}()
		n.Tick()
	}()
	_ = log.ApplyReady(rd)
	n.Advance(rd)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("illegal transition LOOKING -> LOOKING did not panic")
			}
		}()
		n.transition(Looking)
	}()
}

func TestObserverCannotLeadOrFollow(t *testing.T) {
	n, _ := newTestNode(t, 9, []uint64{1, 2, 3}, nil)
	for _, to := range []ServerState{Leading, Following} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("observer became %s", to)
				}
			}()
			n.transition(to)
		}()
	}
}

// TestFollowerSyncReadyOrder: the synced txns, the new currentEpoch and the
// NEWLEADER ack come out in one Ready, whose documented order makes the
// txns durable, then the epoch, then sends the ACK.
func TestFollowerSyncReadyOrder(t *testing.T) {
	n, log := newTestNode(t, 2, []uint64{1, 2, 3}, nil)
	drive(t, n, log)
	// Voters 1 and 3 already follow 1, which says LEADING: join it.
	step := func(m Message) {
		t.Helper()
		if err := n.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	step(Message{Type: MsgVote, From: 3, Leader: 1, ElectionEpoch: 1, State: Following})
	step(Message{Type: MsgVote, From: 1, Leader: 1, ElectionEpoch: 1, State: Leading})
	rds := drive(t, n, log)
	if n.Status().Role != Following || len(rds) != 1 || rds[0].Messages[0].Type != MsgFollowerInfo {
		t.Fatalf("status %+v, readies %+v", n.Status(), rds)
	}
	step(Message{Type: MsgLeaderInfo, From: 1, Epoch: 2})
	rds = drive(t, n, log)
	if rds[0].HardState == nil || rds[0].HardState.AcceptedEpoch != 2 || rds[0].Messages[0].Type != MsgAckEpoch {
		t.Fatalf("LEADERINFO ready %+v", rds[0])
	}
	step(Message{Type: MsgDiff, From: 1, Zxid: 0})
	step(Message{Type: MsgProposal, From: 1, Zxid: MakeZxid(1, 1), Data: []byte("a")})
	step(Message{Type: MsgProposal, From: 1, Zxid: MakeZxid(1, 2), Data: []byte("b")})
	step(Message{Type: MsgCommit, From: 1, Zxid: MakeZxid(1, 1)})
	step(Message{Type: MsgNewLeader, From: 1, Epoch: 2, Zxid: MakeZxid(1, 2)})
	rds = drive(t, n, log)
	if len(rds) != 1 {
		t.Fatalf("%d readies", len(rds))
	}
	rd := rds[0]
	if len(rd.Entries) != 2 || rd.HardState == nil || rd.HardState.CurrentEpoch != 2 ||
		len(rd.Messages) != 1 || rd.Messages[0].Flags&FlagNewLeader == 0 || len(rd.Committed) != 1 {
		t.Fatalf("sync ready %+v", rd)
	}
	// A proposal that skips a zxid is refused (ZOOKEEPER-4925).
	step(Message{Type: MsgUpToDate, From: 1})
	step(Message{Type: MsgProposal, From: 1, Zxid: MakeZxid(2, 2)})
	if st := n.Status(); st.Role != Looking {
		t.Fatalf("accepted a gap: %+v", st)
	}
}

func TestLogViewTruncateDropsPendingEntries(t *testing.T) {
	store := NewMemLog()
	_ = store.Append(Entry{Zxid: MakeZxid(1, 1)}, Entry{Zxid: MakeZxid(1, 2)}, Entry{Zxid: MakeZxid(1, 3)})
	v := newLogView(store)
	if err := v.append(Entry{Zxid: MakeZxid(1, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := v.truncateAfter(MakeZxid(1, 2)); err != nil {
		t.Fatal(err)
	}
	if len(v.unstable) != 0 || !v.hasTrunc || v.trunc != MakeZxid(1, 2) || v.lastZxid() != MakeZxid(1, 2) {
		t.Fatalf("view %+v", v)
	}
	if err := v.append(Entry{Zxid: MakeZxid(2, 1)}); err != nil {
		t.Fatal(err)
	}
	ents, err := v.entries(0, MakeZxid(9, 0))
	if err != nil || len(ents) != 3 || ents[2].Zxid != MakeZxid(2, 1) {
		t.Fatalf("entries %v %v", ents, err)
	}
	if f, _ := v.floor(MakeZxid(1, 3)); f != MakeZxid(1, 2) {
		t.Fatalf("floor %s", FormatZxid(f))
	}
	if err := v.truncateAfter(MakeZxid(1, 3)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("truncate to a dropped zxid: %v", err)
	}
}
