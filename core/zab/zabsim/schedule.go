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
}

func (r Report) String() string {
	return fmt.Sprintf("seed=%d voters=%d observers=%d relaxed=%d proposed=%d acked=%d committed=%d syncs=%d crashes=%d(mid-ready %d) partitions=%d breaks=%d compactions=%d epochs=%d exhausted=%d msgs=%d dropped=%d diff/trunc/snap=%d/%d/%d early-readies=%d early-crashes=%d(proposals %d, applied %d) converge=%dticks",
		r.Seed, r.Voters, r.Observers, r.Relaxed, r.Proposed, r.Acked, r.Committed, r.Syncs, r.Crashes, r.MidReadyCrashes,
		r.Partitions, r.Breaks, r.Compactions, r.Epochs, r.Exhausted, r.Messages, r.Dropped, r.Diffs, r.Truncs, r.Snaps,
		r.EarlyReadies, r.EarlyCrashes, r.EarlyProposalCrashes, r.EarlyApplyCrashes, r.ConvergeTicks)
}

// Add adds o's counters to r (Seed, Voters and Observers excepted).
func (r *Report) Add(o Report) {
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
	}
	rep.Voters, rep.Observers = nv, no
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

	step := func() {
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
	return finish(fmt.Errorf("no convergence within %d quiet ticks", rc.QuietTicks))
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

// converged: one established leader, everyone serving under it with
// nothing in flight and everything it logged committed and applied
// everywhere.
func (c *Cluster) converged() bool {
	leaders := c.Leaders()
	if len(leaders) != 1 {
		return false
	}
	l := c.servers[leaders[0]].Node.Status()
	if l.Committed != l.LastLogged {
		return false
	}
	for _, id := range c.ids {
		s := c.servers[id]
		if !s.Up() || s.Node.HasReady() {
			return false
		}
		st := s.Node.Status()
		if !st.Serving || (id != l.ID && st.Leader != l.ID) {
			return false
		}
		if len(s.Applied) == 0 && l.Committed != 0 {
			return false
		}
		if len(s.Applied) > 0 && s.Applied[len(s.Applied)-1].Zxid != l.Committed {
			return false
		}
	}
	return true
}
