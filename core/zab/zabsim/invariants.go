package zabsim

import (
	"fmt"
	"slices"

	"github.com/zoogate/zoogate/core/zab"
)

// checker holds what the invariants need across servers and time.
type checker struct {
	c   *Cluster
	err error
	// ledger is the longest committed sequence seen; every server's applied
	// sequence must be a prefix of it (or extend it).
	ledger []zab.Entry
	// leaderOf records the established leader of each epoch.
	leaderOf map[int64]uint64
	// proposals: zxid -> data as proposed by a leader (for client acks).
	proposals map[int64][]byte
	proposer  map[int64]uint64
	// acked: txns acknowledged to a client as committed (applied on the
	// leader that proposed them), in order.
	acked     []int64
	ackedData map[int64][]byte
	// seenEstablished: (server, epoch) pairs already checked.
	seenEstablished map[[2]int64]bool
	syncs           int
	// voter tells voters from non-voters (observers and relays).
	voter map[uint64]bool
	// committed is the committed sequence as the voters know it: what
	// leaders decided (taken from their Readies as they hand them out,
	// before anything of the Ready is sent) and what voters applied or
	// rebuilt. Non-voters never extend it: what they apply must already
	// be in it, at the same position.
	committed []zab.Entry
}

func newChecker(c *Cluster) *checker {
	return &checker{
		c:               c,
		leaderOf:        map[int64]uint64{},
		proposals:       map[int64][]byte{},
		proposer:        map[int64]uint64{},
		ackedData:       map[int64][]byte{},
		seenEstablished: map[[2]int64]bool{},
		voter:           map[uint64]bool{},
	}
}

func (k *checker) fail(format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf(format, args...)
		k.c.tracef("violation", "VIOLATION: %v", k.err)
	}
}

func sameEntry(a, b zab.Entry) bool { return a.Zxid == b.Zxid && string(a.Data) == string(b.Data) }

// handedOut: server s's node handed out rd, which its driver is about to
// execute. A voter's rd.Committed is committed: a leader decided it (and
// a follower was told by one); it is added to the committed sequence
// before any message of rd can leave. A leader decides a commit on the
// durable logs of a quorum of voters: whatever observers and relays
// have logged never counts.
func (k *checker) handedOut(s *Server, rd zab.Ready) {
	if !k.voter[s.ID] || len(rd.Committed) == 0 {
		return
	}
	base := len(s.Applied)
	if rd.Snapshot != nil {
		base = len(decodeState(rd.Snapshot.Data))
	}
	for j, e := range rd.Committed {
		k.commit(s, base+j, e)
	}
	if s.Node.Status().Role != zab.Leading {
		return
	}
	q := len(k.c.opts.Voters)/2 + 1
	for _, e := range rd.Committed {
		if n := k.durableOn(e); n < q {
			k.fail("leader %d committed %s, durable on only %d voters (quorum %d)", s.ID, zab.FormatZxid(e.Zxid), n, q)
			return
		}
	}
}

// commit records that voter s holds e as committed at position i.
func (k *checker) commit(s *Server, i int, e zab.Entry) {
	switch {
	case i < len(k.committed):
		if !sameEntry(k.committed[i], e) {
			k.fail("voter %d committed %s (%q) at position %d where %s (%q) was committed: committed histories diverge",
				s.ID, zab.FormatZxid(e.Zxid), e.Data, i, zab.FormatZxid(k.committed[i].Zxid), k.committed[i].Data)
		}
	case i == len(k.committed):
		if i > 0 && k.committed[i-1].Zxid >= e.Zxid {
			k.fail("voter %d committed %s after %s: out of order", s.ID, zab.FormatZxid(e.Zxid), zab.FormatZxid(k.committed[i-1].Zxid))
			return
		}
		k.committed = append(k.committed, e)
	default:
		k.fail("voter %d committed position %d beyond the committed sequence (%d)", s.ID, i, len(k.committed))
	}
}

// nonVoterHolds checks that non-voter s holds e at position i of its
// state: only a committed txn, in its place in the committed sequence
// (so in order, with no gap).
func (k *checker) nonVoterHolds(s *Server, i int, e zab.Entry, how string) bool {
	if i >= len(k.committed) {
		k.fail("non-voter %d %s %s at position %d, but only %d txns are committed (last %s): not committed",
			s.ID, how, zab.FormatZxid(e.Zxid), i, len(k.committed), zab.FormatZxid(k.lastCommitted()))
		return false
	}
	if !sameEntry(k.committed[i], e) {
		k.fail("non-voter %d %s %s (%q) at position %d where %s (%q) is committed",
			s.ID, how, zab.FormatZxid(e.Zxid), e.Data, i, zab.FormatZxid(k.committed[i].Zxid), k.committed[i].Data)
		return false
	}
	return true
}

func (k *checker) lastCommitted() int64 {
	if len(k.committed) == 0 {
		return 0
	}
	return k.committed[len(k.committed)-1].Zxid
}

// applied: server s applied e at position len(s.Applied)-1.
func (k *checker) applied(s *Server, e zab.Entry) {
	i := len(s.Applied) - 1
	if k.voter[s.ID] {
		k.commit(s, i, e)
	} else if !k.nonVoterHolds(s, i, e, "applied") {
		return
	}
	if i > 0 && s.Applied[i-1].Zxid >= e.Zxid {
		k.fail("server %d applied %s after %s: out of order", s.ID, zab.FormatZxid(e.Zxid), zab.FormatZxid(s.Applied[i-1].Zxid))
		return
	}
	switch {
	case i < len(k.ledger):
		if !sameEntry(k.ledger[i], e) {
			k.fail("server %d applied %s (%q) at position %d where others applied %s (%q): committed histories diverge",
				s.ID, zab.FormatZxid(e.Zxid), e.Data, i, zab.FormatZxid(k.ledger[i].Zxid), k.ledger[i].Data)
		}
	case i == len(k.ledger):
		k.ledger = append(k.ledger, e)
	default:
		k.fail("server %d applied position %d beyond the ledger (%d)", s.ID, i, len(k.ledger))
	}
	// Applied implies committed: durable on a quorum of voters. Not
	// necessarily durable here yet: a relaxed driver applies a plain
	// Ready's Committed before persisting its Entries.
	if n, q := k.durableOn(e), len(k.c.opts.Voters)/2+1; n < q {
		k.fail("server %d applied %s, durable on only %d voters (quorum %d)", s.ID, zab.FormatZxid(e.Zxid), n, q)
	}
	// A txn applied by the leader that proposed it is acknowledged to the
	// client: from now on it must never be lost.
	if p, ok := k.proposer[e.Zxid]; ok && p == s.ID && string(k.proposals[e.Zxid]) == string(e.Data) {
		if _, dup := k.ackedData[e.Zxid]; !dup {
			k.acked = append(k.acked, e.Zxid)
			k.ackedData[e.Zxid] = e.Data
		}
	}
}

// durableOn counts the voters whose disk holds e (stopping at a quorum).
func (k *checker) durableOn(e zab.Entry) int {
	n, q := 0, len(k.c.opts.Voters)/2+1
	for _, id := range k.c.opts.Voters {
		if k.c.servers[id].Disk.contains(e.Zxid, e.Data) {
			if n++; n == q {
				break
			}
		}
	}
	return n
}

// sending: s sends m (checked as it leaves, whatever the driver's order).
// An ACK says everything up to its zxid is durable at the sender.
func (k *checker) sending(s *Server, m zab.Message) {
	if m.Type == zab.MsgAck && s.Disk.LastZxid() < m.Zxid {
		k.fail("server %d sends ACK of %s (flags %#x) but its durable log ends at %s",
			s.ID, zab.FormatZxid(m.Zxid), m.Flags, zab.FormatZxid(s.Disk.LastZxid()))
	}
}

// reset: s's applied sequence was rebuilt (restart or snapshot install).
func (k *checker) reset(s *Server) {
	for i, e := range s.Applied {
		if k.voter[s.ID] {
			k.commit(s, i, e)
		} else if !k.nonVoterHolds(s, i, e, "rebuilt a state holding") {
			return
		}
		if i < len(k.ledger) {
			if !sameEntry(k.ledger[i], e) {
				k.fail("server %d rebuilt a state whose position %d is %s, the ledger has %s",
					s.ID, i, zab.FormatZxid(e.Zxid), zab.FormatZxid(k.ledger[i].Zxid))
				return
			}
		} else {
			k.ledger = append(k.ledger, e)
		}
	}
}

func (k *checker) proposed(id uint64, z int64, data []byte) {
	if old, ok := k.proposals[z]; ok && string(old) != string(data) {
		// Two proposals with one zxid: two leaders in one epoch.
		k.fail("zxid %s proposed twice with different data (%d and %d)", zab.FormatZxid(z), k.proposer[z], id)
	}
	k.proposals[z] = append([]byte(nil), data...)
	k.proposer[z] = id
}

func (k *checker) ackedZxids() []int64 { return slices.Clone(k.acked) }

func (k *checker) syncDone(s *Server, token string) {
	want, ok := s.syncWant[token]
	if !ok {
		k.fail("server %d: sync %q completed but was never issued", s.ID, token)
		return
	}
	delete(s.syncWant, token)
	have := map[int64]bool{}
	for _, e := range s.Applied {
		have[e.Zxid] = true
	}
	for _, z := range want {
		if !have[z] {
			k.fail("server %d: sync %q completed but %s, acknowledged before the sync, is not applied",
				s.ID, token, zab.FormatZxid(z))
			return
		}
	}
	k.syncs++
	k.c.tracef("sync", "%d sync %q done", s.ID, token)
}

// afterReady checks a server's state after it executed a Ready.
func (k *checker) afterReady(s *Server, rd zab.Ready) {
	st := s.Node.Status()
	d := s.Disk
	if d.CurrentEpoch > d.AcceptedEpoch {
		k.fail("server %d: durable currentEpoch %d above acceptedEpoch %d", s.ID, d.CurrentEpoch, d.AcceptedEpoch)
	}
	if st.Committed > st.LastLogged {
		k.fail("server %d: committed %s beyond last logged %s", s.ID, zab.FormatZxid(st.Committed), zab.FormatZxid(st.LastLogged))
	}
	if st.Established > 0 {
		key := [2]int64{int64(s.ID), st.Established}
		if !k.seenEstablished[key] {
			k.seenEstablished[key] = true
			k.established(s, st.Established)
		}
	}
	// The ACK of NEWLEADER only leaves once the epoch is durable.
	for _, m := range rd.Messages {
		if m.Type == zab.MsgAck && m.Flags&zab.FlagNewLeader != 0 {
			if d.CurrentEpoch != m.Epoch || d.LastZxid() < m.Zxid {
				k.fail("server %d acked NEWLEADER(%d, %s) with durable currentEpoch %d and log end %s",
					s.ID, m.Epoch, zab.FormatZxid(m.Zxid), d.CurrentEpoch, zab.FormatZxid(d.LastZxid()))
			}
		}
	}
}

// startsServing: server s serves again, in epoch. It must have applied
// every transaction of earlier epochs that is committed: none of them can
// commit later (epoch's leader committed its initial history before anyone
// serves in epoch). core/server relies on it after a leader change: a
// client write sent in an earlier epoch and not applied by then never
// commits, so it is sent again (core/server/leaderchange.go).
func (k *checker) startsServing(s *Server, epoch int64) {
	n := 0
	for n < len(k.committed) && zab.EpochOf(k.committed[n].Zxid) < epoch {
		n++
	}
	if len(s.Applied) < n {
		k.fail("server %d serves in epoch %d having applied %d txns, but %d of earlier epochs are committed (the last %s)",
			s.ID, epoch, len(s.Applied), n, zab.FormatZxid(k.committed[n-1].Zxid))
	}
}

// established: at most one leader per epoch, and it holds every txn ever
// acknowledged to a client.
func (k *checker) established(s *Server, epoch int64) {
	if other, ok := k.leaderOf[epoch]; ok && other != s.ID {
		k.fail("two established leaders in epoch %d: %d and %d", epoch, other, s.ID)
		return
	}
	k.leaderOf[epoch] = s.ID
	k.c.tracef("established", "%d established epoch %d", s.ID, epoch)
	for _, z := range k.acked {
		if !s.Disk.contains(z, k.ackedData[z]) {
			k.fail("leader %d of epoch %d lacks %s, acknowledged to a client", s.ID, epoch, zab.FormatZxid(z))
			return
		}
	}
}

// checkConverged: every server runs, serves, and applied the same
// sequence, which contains every acknowledged txn; durable logs agree with
// the ledger on their committed part.
func (k *checker) checkConverged() error {
	c := k.c
	var ref []zab.Entry
	var refID uint64
	for i, id := range c.ids {
		s := c.servers[id]
		if i == 0 {
			ref, refID = s.Applied, id
			continue
		}
		if len(s.Applied) != len(ref) || Digest(s.Applied) != Digest(ref) {
			return fmt.Errorf("replicas diverge: %d applied %d txns (digest %x), %d applied %d (digest %x)",
				refID, len(ref), Digest(ref), id, len(s.Applied), Digest(s.Applied))
		}
	}
	have := map[int64]string{}
	for _, e := range ref {
		have[e.Zxid] = string(e.Data)
	}
	for _, z := range k.acked {
		if d, ok := have[z]; !ok || d != string(k.ackedData[z]) {
			return fmt.Errorf("acknowledged txn %s is missing from the converged state", zab.FormatZxid(z))
		}
	}
	for _, id := range c.ids {
		d := c.servers[id].Disk
		for _, e := range d.allEntries() {
			if e.Zxid > d.CommitMark {
				break
			}
			if got, ok := have[e.Zxid]; !ok || got != string(e.Data) {
				return fmt.Errorf("server %d's durable log has committed %s that is not in the converged state", id, zab.FormatZxid(e.Zxid))
			}
		}
	}
	if ls := c.Leaders(); len(ls) == 1 {
		return k.checkStreams(ls[0])
	}
	return nil
}

// checkStreams: at convergence every learner is served, up to date with
// nothing to catch up, by the server it follows (a relay's observers by
// the relay, which the leader does not serve them past), and every
// observer stream was sent everything committed.
func (k *checker) checkStreams(leader uint64) error {
	c := k.c
	committed := c.servers[leader].Node.Status().Committed
	served := map[uint64]map[uint64]zab.LearnerStatus{}
	for _, id := range c.ids {
		served[id] = map[uint64]zab.LearnerStatus{}
		for _, l := range c.servers[id].Node.Learners() {
			served[id][l.ID] = l
		}
	}
	for _, id := range c.ids {
		if id == leader {
			continue
		}
		st := c.servers[id].Node.Status()
		if st.Lag != 0 || st.Upstream != st.Leader {
			return fmt.Errorf("learner %d: upstream %d (leader %d), lag %d at convergence", id, st.Upstream, st.Leader, st.Lag)
		}
		h, ok := served[st.Upstream][id]
		if !ok || h.State != "up-to-date" || h.Observer == k.voter[id] {
			return fmt.Errorf("learner %d follows %d, which serves it as %+v (served: %v)", id, st.Upstream, h, ok)
		}
		if h.Observer && h.Sent != committed {
			return fmt.Errorf("observer %d: %d sent it up to %s, %s is committed", id, st.Upstream,
				zab.FormatZxid(h.Sent), zab.FormatZxid(committed))
		}
		for up := range served {
			if _, dup := served[up][id]; dup && up != st.Upstream {
				return fmt.Errorf("learner %d follows %d but %d serves it too", id, st.Upstream, up)
			}
		}
	}
	return nil
}
