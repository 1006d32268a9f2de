package zabsim

import (
	"slices"

	"github.com/zoogate/zoogate/core/zab"
)

// Order is how a simulated server's driver orders the steps of a Ready.
type Order int

const (
	// OrderStrict is zab.Ready's documented order: persist (steps 1-3),
	// then send (4), then apply (5).
	OrderStrict Order = iota
	// OrderRelaxed is what production runs (core/replica's Executor,
	// which core/server drives), using the relaxations documented on
	// zab.Ready. In a plain Ready (no Snapshot, Truncate, HardState or
	// SoftState: the broadcast phase), before steps 1-3, a leader sends all
	// its Messages (and closes its Disconnect streams), any other server
	// sends its REQUEST messages, and then Committed is applied. Everything
	// else keeps the strict order.
	OrderRelaxed
)

func (o Order) String() string {
	if o == OrderRelaxed {
		return "relaxed"
	}
	return "strict"
}

// ParseOrder parses an Order name.
func ParseOrder(s string) (Order, bool) {
	switch s {
	case "strict":
		return OrderStrict, true
	case "relaxed":
		return OrderRelaxed, true
	}
	return 0, false
}

// plain reports whether rd is a Ready in which a relaxed driver sends and
// applies early: the broadcast phase, with no epoch, role, truncation or
// snapshot change.
func plain(rd zab.Ready) bool {
	return rd.SoftState == nil && rd.HardState == nil && rd.Snapshot == nil && !rd.Truncate
}

// earlyWork splits what a driver of order o does before steps 1-3 of rd:
// the messages it sends early, the ones left for step 4, whether it closes
// the Disconnect streams early, and whether it applies Committed early.
// role is the server's role as the driver last observed it (SoftState).
func earlyWork(o Order, role zab.ServerState, rd zab.Ready) (early, late []zab.Message, closeEarly, applyEarly bool) {
	if o != OrderRelaxed || !plain(rd) {
		return nil, rd.Messages, false, false
	}
	if role == zab.Leading {
		// It steps nothing until this Ready is persisted (execute runs
		// it to the end or crashes), so the ACKs its proposals earn
		// count only once its own copy is durable.
		return rd.Messages, nil, true, true
	}
	for _, m := range rd.Messages {
		if m.Type == zab.MsgRequest {
			early = append(early, m)
		} else {
			late = append(late, m)
		}
	}
	return early, late, false, true
}

// execute runs the steps of a Ready in the server's order; false means it
// crashed at cut.
func (c *Cluster) execute(s *Server, rd zab.Ready, cut Cut) bool {
	d := s.Disk
	crashAt := func(at Cut) bool { return cut >= 0 && cut == at }
	if crashAt(CutNone) {
		return false
	}
	early, late, closeEarly, applyEarly := earlyWork(s.Order, s.Soft.Role, rd)
	if len(early) > 0 || (applyEarly && len(rd.Committed) > 0) {
		c.stats.earlyReadies++
	}
	// 0. A relaxed driver's early sends and applies.
	if crashAt(CutMidEarly) && len(early) > 0 {
		early = early[:c.cutPoint(len(early))]
	}
	c.sendAll(s, early)
	if crashAt(CutMidEarly) {
		c.noteEarlyCrash(early, nil)
		return false
	}
	if closeEarly {
		c.closeAll(s, rd.Disconnect)
	}
	if applyEarly {
		c.apply(s, rd.Committed)
	}
	if crashAt(CutAfterEarly) {
		if applyEarly {
			c.noteEarlyCrash(early, rd.Committed)
		}
		return false
	}
	// 1. Truncate or install the snapshot, durably.
	if rd.Snapshot != nil {
		d.Log.InstallSnapshot(*rd.Snapshot)
		d.CommitMark = rd.Snapshot.Zxid
		s.Applied = decodeState(rd.Snapshot.Data)
		c.chk.reset(s)
		c.tracef("snap", "%d installed snapshot %s", s.ID, zab.FormatZxid(rd.Snapshot.Zxid))
	} else if rd.Truncate {
		if err := d.Log.TruncateAfter(rd.TruncateAfter); err != nil {
			c.chk.fail("%d truncate: %v", s.ID, err)
		}
		c.tracef("trunc", "%d truncated its log after %s", s.ID, zab.FormatZxid(rd.TruncateAfter))
	}
	if crashAt(CutAfterSnapshot) {
		return false
	}
	// 2. Append, durably.
	ents := rd.Entries
	if crashAt(CutMidEntries) && len(ents) > 0 {
		ents = ents[:c.cutPoint(len(ents))]
	}
	if err := d.Log.Append(ents...); err != nil {
		c.chk.fail("%d append: %v", s.ID, err)
	}
	if crashAt(CutMidEntries) || crashAt(CutAfterEntries) {
		return false
	}
	// 3. Epochs, durably.
	if hs := rd.HardState; hs != nil {
		d.AcceptedEpoch, d.CurrentEpoch = hs.AcceptedEpoch, hs.CurrentEpoch
	}
	if crashAt(CutAfterHardState) {
		return false
	}
	// 4. Send, then close streams.
	if crashAt(CutMidMessages) && len(late) > 0 {
		late = late[:c.cutPoint(len(late))]
	}
	c.sendAll(s, late)
	if crashAt(CutMidMessages) {
		return false
	}
	if !closeEarly {
		c.closeAll(s, rd.Disconnect)
	}
	// 5. Apply, then persist the applied mark (lazily) now that the
	// entries are in the log, then answer the syncs.
	if !applyEarly {
		c.apply(s, rd.Committed)
	}
	if len(rd.Committed) > 0 && (!c.opts.LazyCommitMark || c.rng.Intn(2) == 0) {
		d.CommitMark = rd.Committed[len(rd.Committed)-1].Zxid
	}
	for _, tok := range rd.SyncDone {
		c.chk.syncDone(s, string(tok))
	}
	if rd.SoftState != nil {
		if rd.SoftState.Serving && !s.Soft.Serving {
			c.chk.startsServing(s, rd.SoftState.Epoch)
		}
		s.Soft = *rd.SoftState
		c.tracef("role", "%d is %s leader=%d epoch=%d serving=%v", s.ID, rd.SoftState.Role,
			rd.SoftState.Leader, rd.SoftState.Epoch, rd.SoftState.Serving)
	}
	return true
}

func (c *Cluster) sendAll(s *Server, msgs []zab.Message) {
	for _, m := range msgs {
		c.chk.sending(s, m)
		c.net.send(m, c.now+c.delay(), c.noticeAt, c.alive)
	}
}

func (c *Cluster) closeAll(s *Server, peers []uint64) {
	for _, p := range peers {
		c.net.closePair(s.ID, p, c.noticeAt, c.alive)
	}
}

func (c *Cluster) apply(s *Server, ents []zab.Entry) {
	for _, e := range ents {
		s.Applied = append(s.Applied, e)
		c.chk.applied(s, e)
	}
}

// noteEarlyCrash records a crash that a relaxed driver's early work makes
// possible: after it sent or applied part of a Ready, before persisting it.
func (c *Cluster) noteEarlyCrash(sent []zab.Message, applied []zab.Entry) {
	if len(sent) == 0 && len(applied) == 0 {
		return
	}
	c.stats.earlyCrashes++
	if slices.ContainsFunc(sent, func(m zab.Message) bool { return m.Type == zab.MsgProposal }) {
		c.stats.earlyProposalCrashes++
	}
	if len(applied) > 0 {
		c.stats.earlyApplyCrashes++
	}
}

// cutPoint: how many of n items a crash in their middle leaves done (half
// in manual mode, random otherwise).
func (c *Cluster) cutPoint(n int) int {
	if c.opts.Manual {
		return n / 2
	}
	return c.rng.Intn(n)
}
