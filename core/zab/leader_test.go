package zab

import "testing"

// electSelf makes node 1 (of voters 1,2,3) leader with 2's vote.
func electSelf(t *testing.T) (*Node, *MemLog) {
	t.Helper()
	n, log := newTestNode(t, 1, []uint64{1, 2, 3}, nil)
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgVote, From: 2, Leader: 1, ElectionEpoch: 1, State: Looking})
	drive(t, n, log)
	if st := n.Status(); st.Role != Leading || st.Phase != "discovery" {
		t.Fatalf("status %+v", st)
	}
	return n, log
}

func mustStep(t *testing.T, n *Node, m Message) {
	t.Helper()
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
}

func sent(rds []Ready, typ MessageType) []Message {
	var out []Message
	for _, rd := range rds {
		for _, m := range rd.Messages {
			if m.Type == typ {
				out = append(out, m)
			}
		}
	}
	return out
}

// An ACKEPOCH from a learner that had already accepted the epoch (from
// another would-be leader) does not count toward the quorum that
// establishes it; otherwise two leaders could establish one epoch.
func TestAlreadyAcceptedEpochAckIsNotCounted(t *testing.T) {
	n, log := electSelf(t)
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 2, Epoch: 0})
	rds := drive(t, n, log)
	if li := sent(rds, MsgLeaderInfo); len(li) != 1 || li[0].Epoch != 1 {
		t.Fatalf("LEADERINFO %v", li)
	}
	mustStep(t, n, Message{Type: MsgAckEpoch, From: 2, Flags: FlagEpochAlreadyAccepted})
	drive(t, n, log)
	if ph := n.Status().Phase; ph != "discovery" {
		t.Fatalf("a flagged ACKEPOCH was counted: phase %s", ph)
	}
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 3, Epoch: 0})
	mustStep(t, n, Message{Type: MsgAckEpoch, From: 3})
	rds = drive(t, n, log)
	if ph := n.Status().Phase; ph != "sync" {
		t.Fatalf("phase %s after a counted ACKEPOCH", ph)
	}
	// Both learners get their sync stream (2 too: it may follow, it just
	// does not count for the epoch).
	if d := sent(rds, MsgDiff); len(d) != 2 {
		t.Fatalf("DIFFs %v", d)
	}
}

// A voter that promised a later epoch than an established leader's cannot
// join it; the leader steps down so that the next epoch is above it.
func TestLeaderStepsDownForAVoterWithAHigherAcceptedEpoch(t *testing.T) {
	n, log := electSelf(t)
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 2, Epoch: 0})
	mustStep(t, n, Message{Type: MsgAckEpoch, From: 2})
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgAck, From: 2, Flags: FlagNewLeader, Epoch: 1})
	drive(t, n, log)
	if st := n.Status(); st.Established != 1 {
		t.Fatalf("status %+v", st)
	}
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 3, Epoch: 1})
	if st := n.Status(); st.Role != Leading {
		t.Fatal("stepped down for a voter at our epoch")
	}
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 3, Epoch: 7})
	if st := n.Status(); st.Role != Looking {
		t.Fatalf("still %s", st.Role)
	}
}

// An observer's promise protects no quorum: it follows the leader there is
// even when that leader's epoch is below what it accepted before.
func TestObserverAcceptsALowerEpoch(t *testing.T) {
	n, log := newTestNode(t, 9, []uint64{1, 2, 3}, func(c *Config) {
		c.AcceptedEpoch, c.CurrentEpoch = 5, 4
	})
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgVote, From: 2, Leader: 1, ElectionEpoch: 3, State: Following})
	mustStep(t, n, Message{Type: MsgVote, From: 1, Leader: 1, ElectionEpoch: 3, State: Leading})
	rds := drive(t, n, log)
	if n.Status().Role != Observing || len(sent(rds, MsgObserverInfo)) != 1 {
		t.Fatalf("status %+v", n.Status())
	}
	mustStep(t, n, Message{Type: MsgLeaderInfo, From: 1, Epoch: 3})
	rds = drive(t, n, log)
	st := n.Status()
	if st.Role != Observing || st.AcceptedEpoch != 3 || st.CurrentEpoch != 3 || len(sent(rds, MsgAckEpoch)) != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A follower that promised a higher epoch refuses a leader proposing a
// lower one and goes back to LOOKING.
func TestFollowerRefusesALowerEpoch(t *testing.T) {
	n, log := newTestNode(t, 2, []uint64{1, 2, 3}, func(c *Config) { c.AcceptedEpoch = 5 })
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgVote, From: 3, Leader: 1, ElectionEpoch: 1, State: Following})
	mustStep(t, n, Message{Type: MsgVote, From: 1, Leader: 1, ElectionEpoch: 1, State: Leading})
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgLeaderInfo, From: 1, Epoch: 4})
	rds := drive(t, n, log)
	if n.Status().Role != Looking || len(sent(rds, MsgAckEpoch)) != 0 {
		t.Fatalf("status %+v", n.Status())
	}
}

// Forwarded requests and PING piggybacks from a learner reach the leader's
// driver; a learner's sync() is answered on its stream once committed.
func TestLeaderSurfacesRequestsPingsAndSyncs(t *testing.T) {
	n, log := electSelf(t)
	mustStep(t, n, Message{Type: MsgFollowerInfo, From: 2})
	mustStep(t, n, Message{Type: MsgAckEpoch, From: 2})
	mustStep(t, n, Message{Type: MsgAck, From: 2, Flags: FlagNewLeader, Epoch: 1})
	drive(t, n, log)
	z, err := n.Propose([]byte("w"))
	if err != nil {
		t.Fatal(err)
	}
	drive(t, n, log)
	mustStep(t, n, Message{Type: MsgRequest, From: 2, Data: []byte("create /a")})
	mustStep(t, n, Message{Type: MsgPing, From: 2, Data: []byte("touch 0x1")})
	mustStep(t, n, Message{Type: MsgRequest, From: 2, Flags: FlagSync, Data: []byte("tok")})
	rds := drive(t, n, log)
	if len(rds) != 1 || len(rds[0].Requests) != 1 || string(rds[0].Requests[0].Data) != "create /a" ||
		len(rds[0].Pings) != 1 || string(rds[0].Pings[0].Data) != "touch 0x1" {
		t.Fatalf("ready %+v", rds)
	}
	if len(sent(rds, MsgSync)) != 0 {
		t.Fatal("sync answered before the outstanding proposal committed")
	}
	mustStep(t, n, Message{Type: MsgAck, From: 2, Zxid: z})
	rds = drive(t, n, log)
	msgs := rds[0].Messages
	if len(msgs) != 2 || msgs[0].Type != MsgCommit || msgs[1].Type != MsgSync || string(msgs[1].Data) != "tok" {
		t.Fatalf("after the ack: %v", msgs)
	}
}
