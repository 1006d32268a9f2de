package zabsim

import (
	"fmt"
	"math/rand"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/zoogate/zoogate/core/zab"
)

// RunConfig bounds a random schedule.
type RunConfig struct {
	// ChaosTicks is how long faults and proposals are injected.
	ChaosTicks int
	// QuietTicks bounds how long the healed, quiet cluster may take to
	// converge.
	QuietTicks int
	// StepsPerTick is the number of micro-steps per tick.
	StepsPerTick int
	// Orders chooses the drivers' Ready orders (OrdersBySeed: the seed
	// picks all strict, all relaxed, or a mix per server).
	Orders OrderMode
	Logger hclog.Logger
}

// OrderMode chooses the Ready orders of a random run's servers.
type OrderMode int

const (
	OrdersBySeed  OrderMode = iota // the seed picks strict, relaxed, or mixed
	OrdersStrict                   // every server OrderStrict
	OrdersRelaxed                  // every server OrderRelaxed
)

// DefaultRunConfig is what TestSim uses.
func DefaultRunConfig() RunConfig {
	return RunConfig{ChaosTicks: 120, QuietTicks: 400, StepsPerTick: 10}
}

// Report summarises a run.
type Report struct {
	Seed                                   int64
	Voters, Observers                      int
	Proposed, Acked, Committed, Syncs      int
	Crashes, MidReadyCrashes, Partitions   int
	Breaks, Compactions, Epochs, Exhausted int
	Messages, Dropped                      int
	Diffs, Truncs, Snaps                   int
	ConvergeTicks                          int
	// Relaxed servers ran OrderRelaxed; EarlyReadies had sends or applies
	// before their persist; EarlyCrashes crashed after such early work and
	// before the persist (after sending proposals / after applying).
	Relaxed, EarlyReadies                                 int
	EarlyCrashes, EarlyProposalCrashes, EarlyApplyCrashes int
	// Relays and the observers configured behind them; Moves are
	// SetUpstream calls (to another relay, to the leader or to the
	// election, and back); RelayCrashes crashes aimed at relays; the
	// Relay* counts are messages relays delivered to their observers.
	Relays, Behind, Chains, Moves, RelayCrashes       int
	RelayInforms, RelayDiffs, RelayTruncs, RelaySnaps int
	// VoterUpstreams: relays configured to follow a voter; FollowerInforms:
	// INFORMs following voters sent them.
	VoterUpstreams, FollowerInforms int
}

func (r Report) String() string {
	return fmt.Sprintf("seed=%d voters=%d observers=%d relays=%d(behind %d, chains %d) relaxed=%d proposed=%d acked=%d committed=%d syncs=%d crashes=%d(mid-ready %d) partitions=%d breaks=%d compactions=%d epochs=%d exhausted=%d msgs=%d dropped=%d diff/trunc/snap=%d/%d/%d early-readies=%d early-crashes=%d(proposals %d, applied %d) moves=%d relay-crashes=%d relay-inform/diff/trunc/snap=%d/%d/%d/%d converge=%dticks",
		r.Seed, r.Voters, r.Observers, r.Relays, r.Behind, r.Chains, r.Relaxed, r.Proposed, r.Acked, r.Committed, r.Syncs, r.Crashes, r.MidReadyCrashes,
		r.Partitions, r.Breaks, r.Compactions, r.Epochs, r.Exhausted, r.Messages, r.Dropped, r.Diffs, r.Truncs, r.Snaps,
		r.EarlyReadies, r.EarlyCrashes, r.EarlyProposalCrashes, r.EarlyApplyCrashes, r.Moves, r.RelayCrashes,
		r.RelayInforms, r.RelayDiffs, r.RelayTruncs, r.RelaySnaps, r.ConvergeTicks)
}

// Add adds o's counters to r (Seed, Voters and Observers excepted).
func (r *Report) Add(o Report) {
	r.Relays += o.Relays
	r.Behind += o.Behind
	r.Chains += o.Chains
	r.Moves += o.Moves
	r.VoterUpstreams += o.VoterUpstreams
	r.FollowerInforms += o.FollowerInforms
	r.RelayCrashes += o.RelayCrashes
	r.RelayInforms += o.RelayInforms
	r.RelayDiffs += o.RelayDiffs
	r.RelayTruncs += o.RelayTruncs
	r.RelaySnaps += o.RelaySnaps
	r.Proposed += o.Proposed
	r.Acked += o.Acked
	r.Committed += o.Committed
	r.Syncs += o.Syncs
	r.Crashes += o.Crashes
	r.MidReadyCrashes += o.MidReadyCrashes
	r.Partitions += o.Partitions
	r.Breaks += o.Breaks
	r.Compactions += o.Compactions
	r.Epochs += o.Epochs
	r.Exhausted += o.Exhausted
	r.Messages += o.Messages
	r.Dropped += o.Dropped
	r.Diffs += o.Diffs
	r.Truncs += o.Truncs
	r.Snaps += o.Snaps
	r.ConvergeTicks += o.ConvergeTicks
	r.Relaxed += o.Relaxed
	r.EarlyReadies += o.EarlyReadies
	r.EarlyCrashes += o.EarlyCrashes
	r.EarlyProposalCrashes += o.EarlyProposalCrashes
	r.EarlyApplyCrashes += o.EarlyApplyCrashes
}

type scheduled struct {
	at   int64
	what string
	id   uint64
}

// Run executes one seeded random schedule and returns its report and the
// first violated invariant (or a failure to converge).
func Run(seed int64, rc RunConfig) (*Cluster, Report, error) {
	rng := rand.New(rand.NewSource(seed))
	rep := Report{Seed: seed}
	nv := []int{1, 3, 3, 3, 5, 5, 2, 4}[rng.Intn(8)]
	no := []int{0, 0, 1, 2}[rng.Intn(4)]
	opts := Options{
		Seed:           rng.Int63(),
		InitLimit:      5 + rng.Intn(6),
		SyncLimit:      2 + rng.Intn(4),
		ElectionTicks:  1 + rng.Intn(3),
		FinalizeTicks:  rng.Intn(3),
		MaxDelay:       1 + rng.Int63n(int64(rc.StepsPerTick)),
		MaxNoticeDelay: 1 + rng.Int63n(int64(3*rc.StepsPerTick)),
		LazyCommitMark: rng.Intn(2) == 0,
		CrashDelivers:  rng.Float64(),
		Logger:         rc.Logger,
	}
	if rng.Intn(4) == 0 {
		opts.MaxCounter = 3 + rng.Int63n(10)
	}
	for i := 1; i <= nv; i++ {
		opts.Voters = append(opts.Voters, uint64(i))
	}
	for i := 1; i <= no; i++ {
		opts.Observers = append(opts.Observers, uint64(nv+i))
	}
	// Relays: a third of the seeds add one or two, each with zero to two
	// observers of its own behind it; with two, a third of the time the
	// second follows the first (a chain). Their choices and faults draw
	// from a generator of their own, so that the seeds without relays
	// keep the schedules they had.
	rr := rand.New(rand.NewSource(seed ^ 0x7e1a95))
	var relays, behind []uint64
	if rr.Intn(3) == 0 {
		next := uint64(nv + no)
		for range 1 + rr.Intn(2) {
			next++
			relays = append(relays, next)
		}
		opts.Upstreams = map[uint64]uint64{}
		if len(relays) == 2 && rr.Intn(3) == 0 {
			opts.Upstreams[relays[1]] = relays[0]
			rep.Chains++
		}
		for _, r := range relays {
			for range rr.Intn(3) {
				next++
				behind = append(behind, next)
				opts.Upstreams[next] = r
			}
		}
		opts.Relays = relays
		opts.Observers = append(opts.Observers, behind...)
		// A third of these have the voters serve: a relay without an
		// upstream follows a voter (relay_upstream = "follower").
		if rr.Intn(3) == 0 {
			opts.VotersServe = true
			for _, r := range relays {
				if opts.Upstreams[r] == 0 {
					opts.Upstreams[r] = uint64(1 + rr.Intn(nv))
					rep.VoterUpstreams++
				}
			}
		}
	}
	total := nv + no + len(relays) + len(behind)
	// The drivers' Ready orders: a third of the seeds run every server
	// strict, a third relaxed, a third a mix.
	mode := rc.Orders
	if mode == OrdersBySeed {
		mode = []OrderMode{OrdersStrict, OrdersRelaxed, OrdersBySeed}[rng.Intn(3)]
	}
	switch mode {
	case OrdersStrict:
		opts.Order = OrderStrict
	case OrdersRelaxed:
		opts.Order = OrderRelaxed
	default: // a mix, server by server
		opts.Orders = map[uint64]Order{}
		for i := 1; i <= nv+no; i++ {
			opts.Orders[uint64(i)] = Order(rng.Intn(2))
		}
		for i := nv + no + 1; i <= total; i++ {
			opts.Orders[uint64(i)] = Order(rr.Intn(2))
		}
	}
	rep.Voters, rep.Observers = nv, no
	rep.Relays, rep.Behind = len(relays), len(behind)
	c := NewCluster(opts)
	for _, id := range c.ids {
		if c.servers[id].Order == OrderRelaxed {
			rep.Relaxed++
		}
	}

	// Fault rates per micro-step, varied per seed.
	pPropose := 0.05 + rng.Float64()*0.2
	pCrash := rng.Float64() * 0.004
	// Per Ready executed: a crash in the middle of it, at a random cut.
	pReadyCrash := rng.Float64() * 0.003
	pPartition := rng.Float64() * 0.003
	pBreak := rng.Float64() * 0.004
	pCompact := rng.Float64() * 0.004
	pSync := rng.Float64() * 0.02
	// Relay seeds only: moving an observer to another upstream (and back
	// later), and crashes, stream breaks and compactions aimed at relays.
	var pMove, pRelayCrash, pRelayBreak, pRelayCompact float64
	if len(relays) > 0 {
		pMove = rr.Float64() * 0.004
		pRelayCrash = rr.Float64() * 0.002
		pRelayBreak = rr.Float64() * 0.006
		pRelayCompact = rr.Float64() * 0.004
	}
	// observers: every non-voter that is not a relay (plain ones too).
	observers := slices.Clone(opts.Observers)
	var agenda []scheduled
	payload := 0
	ticks := 0
	chaos := true
	restartLater := func(id uint64) {
		agenda = append(agenda, scheduled{at: c.now + 1 + rng.Int63n(int64(20*rc.StepsPerTick)), what: "restart", id: id})
	}
	c.crashInReady = func(id uint64, rd zab.Ready) Cut {
		if !chaos || rng.Float64() >= pReadyCrash {
			return -1
		}
		rep.Crashes++
		rep.MidReadyCrashes++
		restartLater(id)
		srv := c.servers[id]
		early, _, _, applyEarly := earlyWork(srv.Order, srv.Soft.Role, rd)
		if (len(early) > 0 || applyEarly && len(rd.Committed) > 0) && rng.Intn(2) == 0 {
			// Half of these land between a relaxed driver's early sends
			// and applies and its persist: the window the relaxation
			// opens.
			return []Cut{CutMidEarly, CutAfterEarly}[rng.Intn(2)]
		}
		return Cut(rng.Intn(int(cutCount)))
	}

	relayFaults := func() {
		if rr.Float64() < pMove && len(observers) > 0 {
			if id := observers[rr.Intn(len(observers))]; c.alive(id) {
				s := c.servers[id]
				// The view a driver is given: another relay, the leader
				// it names, or no one (the election finds the leader).
				to := append([]uint64{0}, relays...)
				if ls := c.Leaders(); len(ls) > 0 {
					to = append(to, ls[rr.Intn(len(ls))])
				}
				to = slices.DeleteFunc(to, func(u uint64) bool { return u == s.upstream })
				if err := c.SetUpstream(id, to[rr.Intn(len(to))]); err != nil {
					c.chk.fail("set upstream of %d: %v", id, err)
				}
				agenda = append(agenda, scheduled{at: c.now + 1 + rr.Int63n(int64(30*rc.StepsPerTick)), what: "back", id: id})
			}
		}
		if rr.Float64() < pRelayCrash {
			if id := relays[rr.Intn(len(relays))]; c.alive(id) {
				c.Crash(id, -1)
				rep.Crashes++
				rep.RelayCrashes++
				agenda = append(agenda, scheduled{at: c.now + 1 + rr.Int63n(int64(20*rc.StepsPerTick)), what: "restart", id: id})
			}
		}
		if rr.Float64() < pRelayBreak {
			// A relay's stream with one of its observers, with its
			// upstream, or with anyone.
			r := relays[rr.Intn(len(relays))]
			var peers []uint64
			for _, id := range c.ids {
				if id != r && (c.servers[id].upstream == r || rr.Intn(4) == 0) {
					peers = append(peers, id)
				}
			}
			if s := c.servers[r]; s.Up() {
				if up := s.Node.Status().Leader; up != 0 {
					peers = append(peers, up)
				}
			}
			if len(peers) > 0 {
				c.Disconnect(r, peers[rr.Intn(len(peers))])
			}
		}
		if rr.Float64() < pRelayCompact {
			if c.Compact(relays[rr.Intn(len(relays))]) == nil {
				rep.Compactions++
			}
		}
	}

	step := func() {
		if chaos && len(relays) > 0 {
			relayFaults()
		}
		if chaos {
			if rng.Float64() < pPropose {
				for _, id := range c.Leaders() {
					payload++
					_, err := c.Propose(id, fmt.Appendf(nil, "s%d-%d", seed, payload))
					if err == nil {
						rep.Proposed++
					} else if err == zab.ErrCounterExhausted {
						rep.Exhausted++
					}
				}
			}
			if rng.Float64() < pCrash {
				up := c.upIDs()
				if len(up) > 0 {
					// Between Readies: every server executes its Readies
					// as soon as it has them, so crashes in the middle of
					// one come from crashInReady.
					id := up[rng.Intn(len(up))]
					c.Crash(id, -1)
					rep.Crashes++
					restartLater(id)
				}
			}
			if rng.Float64() < pPartition {
				ids := slices.Clone(c.ids)
				rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				k := 1 + rng.Intn(len(ids))
				c.Partition(ids[:k], ids[k:])
				rep.Partitions++
				agenda = append(agenda, scheduled{at: c.now + 1 + rng.Int63n(int64(15*rc.StepsPerTick)), what: "heal"})
			}
			if rng.Float64() < pBreak && len(c.ids) > 1 {
				a := c.ids[rng.Intn(len(c.ids))]
				b := c.ids[rng.Intn(len(c.ids))]
				if a != b {
					c.Disconnect(a, b)
				}
			}
			if rng.Float64() < pCompact {
				up := c.upIDs()
				if len(up) > 0 && c.Compact(up[rng.Intn(len(up))]) == nil {
					rep.Compactions++
				}
			}
			if rng.Float64() < pSync {
				for _, id := range c.upIDs() {
					if c.servers[id].Soft.Serving && rng.Intn(2) == 0 {
						payload++
						_ = c.Sync(id, fmt.Sprintf("sync-%d", payload))
					}
				}
			}
		}
		// Scheduled restarts and heals. A restart may crash again in its
		// first Ready and schedule another: agenda is rebuilt, not
		// filtered in place.
		due := agenda
		agenda = nil
		for _, a := range due {
			if a.at > c.now {
				agenda = append(agenda, a)
				continue
			}
			switch a.what {
			case "restart":
				if err := c.Restart(a.id); err != nil {
					c.chk.fail("restart %d: %v", a.id, err)
				}
			case "heal":
				c.Heal()
			case "back":
				if s := c.servers[a.id]; s.Up() && s.upstream != s.Upstream {
					if err := c.SetUpstream(a.id, s.Upstream); err != nil {
						c.chk.fail("set upstream of %d back: %v", a.id, err)
					}
				}
			}
		}
		// Deliver what is due, a random number of messages.
		for k := rng.Intn(8); k >= 0; k-- {
			if !c.DeliverOne() {
				break
			}
		}
		c.ProcessAll()
		c.now++
		if c.now%int64(rc.StepsPerTick) == 0 {
			c.Tick()
			ticks++
		}
	}

	finish := func(err error) (*Cluster, Report, error) {
		rep.Acked = len(c.chk.acked)
		rep.Committed = len(c.chk.ledger)
		rep.Syncs = c.chk.syncs
		rep.Epochs = len(c.chk.leaderOf)
		rep.Breaks = c.net.breaks
		rep.Messages, rep.Dropped = c.net.sent, c.net.dropped
		rep.Diffs, rep.Truncs, rep.Snaps = c.delivered[zab.MsgDiff], c.delivered[zab.MsgTrunc], c.delivered[zab.MsgSnap]
		rep.EarlyReadies, rep.EarlyCrashes = c.stats.earlyReadies, c.stats.earlyCrashes
		rep.EarlyProposalCrashes, rep.EarlyApplyCrashes = c.stats.earlyProposalCrashes, c.stats.earlyApplyCrashes
		rep.Moves = c.moves
		rep.RelayInforms, rep.RelayDiffs = c.relayDelivered[zab.MsgInform], c.relayDelivered[zab.MsgDiff]
		rep.RelayTruncs, rep.RelaySnaps = c.relayDelivered[zab.MsgTrunc], c.relayDelivered[zab.MsgSnap]
		rep.FollowerInforms = c.followerInforms
		return c, rep, err
	}

	for ticks < rc.ChaosTicks {
		step()
		if err := c.Err(); err != nil {
			return finish(err)
		}
	}
	// Quiet: heal, restart everyone, no more faults or proposals.
	chaos = false
	c.Heal()
	agenda = nil
	for _, id := range c.ids {
		if err := c.Restart(id); err != nil {
			return finish(fmt.Errorf("restart %d: %w", id, err))
		}
		// Observers the view moved go back to their configured upstream.
		if s := c.servers[id]; s.Up() && s.upstream != s.Upstream {
			if err := c.SetUpstream(id, s.Upstream); err != nil {
				return finish(fmt.Errorf("set upstream of %d back: %w", id, err))
			}
		}
	}
	start := ticks
	for ticks-start < rc.QuietTicks {
		step()
		if err := c.Err(); err != nil {
			return finish(err)
		}
		if c.now%int64(rc.StepsPerTick) == 0 && c.converged() {
			rep.ConvergeTicks = ticks - start
			return finish(c.chk.checkConverged())
		}
	}
	return finish(fmt.Errorf("no convergence within %d quiet ticks: %s", rc.QuietTicks, c.notConverged()))
}

func (c *Cluster) upIDs() []uint64 {
	var out []uint64
	for _, id := range c.ids {
		if c.servers[id].Up() {
			out = append(out, id)
		}
	}
	return out
}

// converged: one established leader, everyone serving under it (a
// relay's observers through their relay) with nothing in flight (no
// broken stream either end has yet to be told of) and everything it
// logged committed and applied everywhere.
func (c *Cluster) converged() bool { return c.notConverged() == "" }

// notConverged says why the cluster has not converged ("" when it has).
func (c *Cluster) notConverged() string {
	leaders := c.Leaders()
	if len(leaders) != 1 {
		return fmt.Sprintf("established leaders %v", leaders)
	}
	if len(c.net.broken) > 0 {
		return "broken streams not yet noticed"
	}
	l := c.servers[leaders[0]].Node.Status()
	if l.Committed != l.LastLogged {
		return fmt.Sprintf("leader %d committed %s of %s", l.ID, zab.FormatZxid(l.Committed), zab.FormatZxid(l.LastLogged))
	}
	for _, id := range c.ids {
		s := c.servers[id]
		if !s.Up() || s.Node.HasReady() {
			return c.StatusLine(id)
		}
		st := s.Node.Status()
		if !st.Serving || (id != l.ID && !c.servedBy(id, l.ID)) {
			return fmt.Sprintf("not served by leader %d (upstream %s): %s", l.ID, upstreamName(s.upstream), c.StatusLine(id))
		}
		var last int64
		if len(s.Applied) > 0 {
			last = s.Applied[len(s.Applied)-1].Zxid
		}
		if last != l.Committed {
			return fmt.Sprintf("%d applied up to %s, leader %d committed %s", id, zab.FormatZxid(last), l.ID, zab.FormatZxid(l.Committed))
		}
	}
	return ""
}

// servedBy: server id follows leader, directly or through serving
// relays, and follows the upstream its driver chose (if any).
func (c *Cluster) servedBy(id, leader uint64) bool {
	for hops := 0; hops < len(c.ids); hops++ {
		s := c.servers[id]
		if !s.Up() {
			return false
		}
		st := s.Node.Status()
		if !st.Serving || (s.upstream != 0 && st.Leader != s.upstream) {
			return false
		}
		if st.Leader == leader {
			return true
		}
		if st.Leader == 0 || st.Leader == id {
			return false
		}
		id = st.Leader
	}
	return false
}
