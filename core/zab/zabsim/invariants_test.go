package zabsim

import (
	"strings"
	"testing"

	"github.com/zoogate/zoogate/core/zab"
)

// relayCluster: voters 1-3 (3 leads), relay 4, observer 5 behind it, all
// serving; a1..a3 committed everywhere.
func relayCluster(t *testing.T) *Cluster {
	t.Helper()
	c := NewCluster(Options{Voters: []uint64{1, 2, 3}, Relays: []uint64{4}, Observers: []uint64{5},
		Upstreams: map[uint64]uint64{5: 4}, FinalizeTicks: 1, Seed: 1, Manual: true})
	for i := 0; i < 20 && !c.settled(); i++ {
		c.Stabilize()
		c.Tick()
	}
	c.Stabilize()
	if !c.settled() || c.Leaders()[0] != 3 {
		t.Fatalf("cluster did not settle: %v", c.Trace(50))
	}
	for _, d := range []string{"a1", "a2", "a3"} {
		if _, err := c.Propose(3, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	c.Stabilize()
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if got := len(c.Server(5).Applied); got != 3 {
		t.Fatalf("observer 5 applied %d txns, want 3", got)
	}
	return c
}

// A relay whose driver applies a txn that is logged on a quorum of voters
// but not committed yet (the leader has not heard the ACKs) is caught:
// the older check (applied implies durable on a quorum) lets it through,
// the committed-prefix invariant does not.
func TestNonVoterApplyingUncommittedIsCaught(t *testing.T) {
	c := relayCluster(t)
	z, err := c.Propose(3, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	// The followers log x and send their ACKs, which stay in flight.
	for _, f := range []uint64{1, 2} {
		if m, ok := c.DeliverFrom(3, f); !ok || m.Type != zab.MsgProposal {
			t.Fatalf("3->%d: %v %v", f, m, ok)
		}
	}
	c.ProcessAll()
	x := zab.Entry{Zxid: z, Data: []byte("x")}
	if n := c.chk.durableOn(x); n < 2 {
		t.Fatalf("x durable on %d voters, want a quorum", n)
	}
	if c.chk.lastCommitted() >= z {
		t.Fatalf("x is committed already")
	}
	// The faulty driver of relay 4 applies x early.
	c.apply(c.Server(4), []zab.Entry{x})
	err = c.Err()
	if err == nil || !strings.Contains(err.Error(), "non-voter 4 applied 0x100000004 at position 3, but only 3 txns are committed") {
		t.Fatalf("early apply not caught: %v", err)
	}
}

// An observer that skips a committed txn (a gap), or applies one with
// other data, is caught.
func TestNonVoterGapAndWrongDataAreCaught(t *testing.T) {
	c := relayCluster(t)
	obs := c.Server(5)
	a := obs.Applied
	obs.Applied = a[:1:1]
	c.apply(obs, []zab.Entry{a[2]}) // a3 where a2 belongs
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "non-voter 5 applied 0x100000003 (\"a3\") at position 1 where 0x100000002 (\"a2\") is committed") {
		t.Fatalf("gap not caught: %v", err)
	}

	c = relayCluster(t)
	obs = c.Server(4)
	a = obs.Applied
	obs.Applied = a[:2:2]
	c.apply(obs, []zab.Entry{{Zxid: a[2].Zxid, Data: []byte("forged")}})
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "where 0x100000003 (\"a3\") is committed") {
		t.Fatalf("wrong data not caught: %v", err)
	}

	// A relay that rebuilds (restart, snapshot) a state holding an
	// uncommitted txn is caught too.
	c = relayCluster(t)
	obs = c.Server(4)
	obs.Applied = append(obs.Applied, zab.Entry{Zxid: zab.MakeZxid(1, 4), Data: []byte("y")})
	c.chk.reset(obs)
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "non-voter 4 rebuilt a state holding 0x100000004 at position 3, but only 3 txns are committed") {
		t.Fatalf("rebuilt state not caught: %v", err)
	}
}

// A commit counted on what non-voters logged is caught: the leader's
// commits must be durable on a quorum of voters, whatever observers and
// relays hold.
func TestCommitCountingNonVotersIsCaught(t *testing.T) {
	c := relayCluster(t)
	z := zab.MakeZxid(1, 4)
	x := zab.Entry{Zxid: z, Data: []byte("x")}
	// x is on the leader's disk and on the relay's and observer's, on no
	// follower's: two of five servers, one of three voters.
	for _, id := range []uint64{3, 4, 5} {
		if err := c.Server(id).Disk.Log.Append(x); err != nil {
			t.Fatal(err)
		}
	}
	// A leader that counted them would hand out x as committed.
	c.chk.handedOut(c.Server(3), zab.Ready{Committed: []zab.Entry{x}})
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "leader 3 committed 0x100000004, durable on only 1 voters (quorum 2)") {
		t.Fatalf("commit on non-voters not caught: %v", err)
	}
}
