package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan/emulate"
)

// fault is what a scenario did, and how to undo it.
type fault struct {
	what string                          // "node 3 (leader) killed"
	heal func(ctx context.Context) error // nil: nothing to undo
	// healWhat says what heal does ("node 3 started").
	healWhat string
}

// scenario is one kind of failure.
type scenario struct {
	// inject causes the failure; for rolling-restart it is the whole
	// sequence of restarts.
	inject func(ctx context.Context, d *drill, w Want) (fault, error)
	// hold: the failure lasts --duration before heal.
	hold bool
}

var scenarios = map[string]scenario{
	KillLeader:     {inject: killLeader, hold: true},
	KillFollower:   {inject: killFollower, hold: true},
	KillRelay:      {inject: killRelay, hold: true},
	CutSite:        {inject: cutSite, hold: true},
	SlowWAN:        {inject: slowWAN, hold: true},
	LosePrimary:    {inject: losePrimary, hold: true},
	RollingRestart: {inject: rollingRestart},
}

// killNodes kills ids and returns the fault that starts them again.
func (d *drill) killNodes(ctx context.Context, ids []uint64, what string) (fault, error) {
	var killed []uint64
	start := func(ctx context.Context) error {
		var errs []error
		for _, id := range killed {
			errs = append(errs, d.ctl.start(ctx, id))
		}
		return errors.Join(errs...)
	}
	for _, id := range ids {
		d.takeDown(id)
		if err := d.ctl.kill(ctx, id); err != nil {
			return fault{heal: start}, err
		}
		killed = append(killed, id)
		d.action("node %d killed", id)
	}
	return fault{what: what, heal: start, healWhat: "started " + idList(ids)}, nil
}

// takeDown notes that the scenario kills or stops node id: its clients'
// connection losses are not held against the others.
func (d *drill) takeDown(id uint64) {
	if n, err := d.f.Node(id); err == nil {
		d.down[n.Client] = true
	}
}

func idList(ids []uint64) string {
	var s []string
	for _, id := range ids {
		s = append(s, strconv.FormatUint(id, 10))
	}
	if len(s) == 1 {
		return "node " + s[0]
	}
	return "nodes " + strings.Join(s, ", ")
}

func killLeader(ctx context.Context, d *drill, _ Want) (fault, error) {
	lead := leaderOf(d.f)
	if lead == 0 {
		return fault{}, fmt.Errorf("%w: no voter says it leads", ErrSetup)
	}
	return d.killNodes(ctx, []uint64{lead}, fmt.Sprintf("node %d (the leader) killed", lead))
}

func killFollower(ctx context.Context, d *drill, _ Want) (fault, error) {
	lead := leaderOf(d.f)
	var followers []uint64
	for _, v := range d.f.Voters() {
		if v.ID != lead {
			followers = append(followers, v.ID)
		}
	}
	if len(followers) == 0 {
		return fault{}, fmt.Errorf("%w: no follower (one voter)", ErrSetup)
	}
	id := followers[d.rnd.IntN(len(followers))]
	return d.killNodes(ctx, []uint64{id}, fmt.Sprintf("node %d (a follower; node %d leads) killed", id, lead))
}

// killRelay kills the relay of the site that most of its observers
// follow (mntr's zk_upstream), else the site's first relay.
func killRelay(ctx context.Context, d *drill, w Want) (fault, error) {
	relays := relaysIn(d.f, w.Site)
	votes := map[uint64]int{}
	for _, n := range d.f.NodesIn(w.Site) {
		if n.Role == topology.RoleObserver {
			if up, err := strconv.ParseUint(mntr(n.Client, "zk_upstream"), 10, 64); err == nil {
				votes[up]++
			}
		}
	}
	pick := relays[0]
	for _, r := range relays {
		if votes[r.ID] > votes[pick.ID] {
			pick = r
		}
	}
	return d.killNodes(ctx, []uint64{pick.ID}, fmt.Sprintf("node %d (a relay of %s, followed by %d observer(s)) killed", pick.ID, w.Site, votes[pick.ID]))
}

func losePrimary(ctx context.Context, d *drill, _ Want) (fault, error) {
	var ids []uint64
	for _, v := range d.f.Voters() {
		ids = append(ids, v.ID)
	}
	return d.killNodes(ctx, ids, "every voter ("+idList(ids)+") killed")
}

// cutSite cuts the WAN of every node of the site that has one, through
// their fault endpoints.
func cutSite(ctx context.Context, d *drill, w Want) (fault, error) {
	nodes := faultNodes(d.f, &w)
	var done []*topology.Node
	heal := func(ctx context.Context) error {
		var errs []error
		for _, n := range done {
			_, err := d.faults.do(ctx, n.Admin, &FaultRequest{Action: ActionHeal})
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	for _, n := range nodes {
		if _, err := d.faults.do(ctx, n.Admin, &FaultRequest{Action: ActionCut}); err != nil {
			return fault{heal: heal}, err
		}
		done = append(done, n)
		d.action("node %d: WAN cut", n.ID)
	}
	var ids []uint64
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	return fault{what: fmt.Sprintf("site %s cut off (WAN of %s)", w.Site, idList(ids)), heal: heal, healWhat: "WAN healed"}, nil
}

// addSpec adds the impairment extra to s: delays and jitters add up,
// losses combine.
func addSpec(s, extra emulate.Spec) emulate.Spec {
	s.Delay += extra.Delay
	s.Jitter += extra.Jitter
	s.Loss = math.Round((1-(1-s.Loss)*(1-extra.Loss))*1e6) / 1e6
	if extra.Rate != 0 && (s.Rate == 0 || extra.Rate < s.Rate) {
		s.Rate, s.Limit = extra.Rate, extra.Limit
	}
	return s
}

// slowWAN adds --slow to every WAN link, and restores each node's spec.
func slowWAN(ctx context.Context, d *drill, w Want) (fault, error) {
	extra, err := emulate.ParseSpec(d.o.SlowSpec)
	if err != nil {
		return fault{}, err
	}
	type was struct {
		n    *topology.Node
		spec string
	}
	var done []was
	heal := func(ctx context.Context) error {
		var errs []error
		for _, x := range done {
			_, err := d.faults.do(ctx, x.n.Admin, &FaultRequest{Action: ActionSet, Spec: x.spec})
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	for _, n := range faultNodes(d.f, &w) {
		st, err := d.faults.do(ctx, n.Admin, nil)
		if err != nil {
			return fault{heal: heal}, err
		}
		cur, err := emulate.ParseSpec(st.Spec)
		if err != nil {
			return fault{heal: heal}, fmt.Errorf("%w: node %d spec %q: %v", ErrFault, n.ID, st.Spec, err)
		}
		slow := addSpec(cur, extra)
		if _, err := d.faults.do(ctx, n.Admin, &FaultRequest{Action: ActionSet, Spec: slow.String()}); err != nil {
			return fault{heal: heal}, err
		}
		done = append(done, was{n, st.Spec})
		d.action("node %d: WAN %s", n.ID, slow.String())
	}
	return fault{what: "every WAN link slowed by " + extra.String(), heal: heal, healWhat: "WAN restored"}, nil
}

// rollingRestart restarts every node gracefully, one at a time, each
// serving again before the next: the remote sites' observers, then
// relays, then the primary's observers, the followers, and the leader
// last.
func rollingRestart(ctx context.Context, d *drill, _ Want) (fault, error) {
	lead := leaderOf(d.f)
	rank := func(n *topology.Node) int {
		switch {
		case n.ID == lead:
			return 4
		case n.Role == topology.RoleVoter:
			return 3
		case n.Role == topology.RoleRelay:
			return 1
		case siteOf(d.f, n) != primaryName(d.f):
			return 0
		}
		return 2
	}
	order := make([]*topology.Node, 0, len(d.f.Nodes))
	for i := range d.f.Nodes {
		order = append(order, &d.f.Nodes[i])
	}
	slices.SortStableFunc(order, func(a, b *topology.Node) int { return rank(a) - rank(b) })
	var ids []uint64
	for _, n := range order {
		d.takeDown(n.ID)
		if err := d.ctl.stop(ctx, n.ID); err != nil {
			return fault{}, err
		}
		d.action("node %d stopped", n.ID)
		// Started again even after an interrupt: what was stopped comes back.
		if err := d.ctl.start(context.WithoutCancel(ctx), n.ID); err != nil {
			return fault{}, err
		}
		if err := waitFor(ctx, fmt.Sprintf("node %d serving after its restart", n.ID), d.o.Timeout, func() bool { return serving(n) }); err != nil {
			return fault{}, err
		}
		d.action("node %d serving again", n.ID)
		ids = append(ids, n.ID)
	}
	return fault{what: "rolling restart of " + idList(ids) + " (leader last)"}, nil
}
