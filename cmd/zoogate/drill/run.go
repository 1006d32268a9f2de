package drill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// linTimeout bounds porcupine's search on one scenario's history.
const linTimeout = 60 * time.Second

// runScenario runs one scenario: the workload, a calm baseline, the fault
// for --duration, the heal, recovery, a calm end; then the checks.
func (d *drill) runScenario(ctx context.Context, idx int, w Want) ScenarioResult {
	res := ScenarioResult{Name: w.Name, Site: w.Site, LinCheck: "not run"}
	d.cur, d.at, d.down = &res, nil, map[string]bool{}
	defer func() { d.cur, d.at = nil, nil }()
	fail := func(format string, a ...any) ScenarioResult {
		res.Error = fmt.Sprintf(format, a...)
		res.Passed = false
		return res
	}
	d.prog.start(idx+1, len(d.o.Scenarios), w.String())
	if err := waitServing(ctx, d.f, d.o.Timeout); err != nil {
		return fail("the deployment was not serving before the scenario: %v", err)
	}
	base := fmt.Sprintf("%s/%s-%d-%s", Root, d.runID, idx+1, w.Name)
	if err := prepare(ctx, d.servers[0], base, d.o.Timeout); err != nil {
		return fail("preparing %s: %v", base, err)
	}
	wl, err := startWorkload(base, d.sites, d.servers, d.o, d.seed+uint64(idx)*7919)
	if err != nil {
		return fail("workload: %v", err)
	}
	d.at = wl.now
	var h *History
	defer func() {
		if h == nil {
			wl.finish()
		}
	}()
	if err := waitFor(ctx, "the workload writing on every site", d.o.Timeout, func() bool { return wl.wroteSince(0) }); err != nil {
		return fail("before the fault: %v", err)
	}
	if !d.sleep(ctx, "baseline", d.o.Settle, wl) {
		return fail("interrupted")
	}
	sc := scenarios[w.Name]
	res.FaultMs = ms(wl.now())
	flt, injErr := sc.inject(ctx, d, w)
	res.Fault = flt.what
	if injErr != nil {
		res.Problems = append(res.Problems, "fault: "+injErr.Error())
	}
	if injErr == nil && sc.hold {
		d.sleep(ctx, "fault: "+flt.what, d.o.Duration, wl)
	}
	// Heal even after an interrupt: a running deployment must not stay cut.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.Timeout)
	defer cancel()
	res.HealMs = ms(wl.now())
	if flt.heal != nil {
		d.prog.tick("healing", 0, 0, wl)
		if err := flt.heal(hctx); err != nil {
			res.Problems = append(res.Problems, "heal: "+err.Error())
		} else if flt.healWhat != "" {
			d.action("%s", flt.healWhat)
		}
	}
	if ctx.Err() != nil {
		return fail("interrupted")
	}
	healAt := wl.now()
	recovered := waitServing(ctx, d.f, d.o.Timeout)
	if recovered == nil {
		recovered = waitFor(ctx, "a write acknowledged on every site after the heal", d.o.Timeout, func() bool { return wl.wroteSince(healAt) })
	}
	if recovered != nil {
		res.Problems = append(res.Problems, "recovery: "+recovered.Error())
	} else {
		res.RecoveredMs = ms(wl.now())
		d.action("every node serving, every site writing")
	}
	d.sleep(ctx, "after", d.o.Settle, wl)
	h = wl.finish()
	h.Down = d.down
	d.prog.tick("checking", 0, 0, nil)
	d.check(ctx, &res, h, base)
	d.cleanup(ctx, base)
	res.Passed = verdict(&res)
	return res
}

// verdict: a scenario passes when it ran, recovered, lost no acknowledged
// write and its history is linearizable.
func verdict(r *ScenarioResult) bool {
	return r.Error == "" && len(r.Problems) == 0 && r.LostAckedWrites == 0 && r.Linearizable
}

// check fills in the verdicts: what each site saw, acknowledged writes
// lost, linearizability, and whether the nodes' trees agree.
func (d *drill) check(ctx context.Context, res *ScenarioResult, h *History, base string) {
	bin := max(100*time.Millisecond, (h.End / 300).Round(10*time.Millisecond))
	res.BinMs = ms(bin)
	res.EndMs = ms(h.End)
	res.Sites = Sites(h, bin)
	res.AckedWrites = len(h.Acked) + len(h.Ledger)
	var rbs []Readback
	for _, n := range d.f.Nodes {
		rb := readBack(ctx, n.ID, n.Client, base, d.o.Timeout)
		if rb.Err != "" {
			res.Problems = append(res.Problems, fmt.Sprintf("node %d could not be read back: %s", n.ID, rb.Err))
		}
		rbs = append(rbs, rb)
	}
	res.LostAckedWrites, res.Lost = LostWrites(h, rbs)
	res.LinCheck = Linearizable(h, linTimeout)
	res.Linearizable = res.LinCheck == LinOK
	res.LinOps = len(h.Lin)
	res.Trees = d.compareTrees(ctx)
	if strings.HasPrefix(res.Trees, "differ") {
		res.Problems = append(res.Problems, "trees "+res.Trees)
	}
}

// compareTrees waits (bounded) for every node to reach the same last
// zxid and compares their digests (the hash four-letter word).
func (d *drill) compareTrees(ctx context.Context) string {
	var zx, dg map[uint64]string
	err := waitFor(ctx, "every node at the same zxid", 15*time.Second, func() bool {
		zx, dg = map[uint64]string{}, map[uint64]string{}
		first := ""
		for _, n := range d.f.Nodes {
			z, g, ok := hashOf(n.Client)
			if !ok {
				return false
			}
			zx[n.ID], dg[n.ID] = z, g
			if first == "" {
				first = z
			} else if z != first {
				return false
			}
		}
		return true
	})
	if err != nil {
		if len(zx) < len(d.f.Nodes) {
			return "not compared (a node does not answer hash: add it to four_letter_words)"
		}
		return "not compared (the nodes' zxids did not settle within 15s)"
	}
	var ref string
	var differ []string
	for _, n := range d.f.Nodes {
		if ref == "" {
			ref = dg[n.ID]
		} else if dg[n.ID] != ref {
			differ = append(differ, fmt.Sprintf("node %d digest %s", n.ID, dg[n.ID]))
		}
	}
	z := zx[d.f.Nodes[0].ID]
	if len(differ) > 0 {
		return fmt.Sprintf("differ at zxid 0x%s: node %d digest %s, %s", z, d.f.Nodes[0].ID, ref, strings.Join(differ, ", "))
	}
	return fmt.Sprintf("agree (%d nodes, zxid 0x%s)", len(d.f.Nodes), z)
}

// cleanup deletes the scenario's znodes (best effort, bounded).
func (d *drill) cleanup(ctx context.Context, base string) {
	err := withConn(ctx, d.servers[0], d.o.Timeout, func(c *zk.Conn) error {
		kids, _, err := c.Children(base + "/ledger")
		if err != nil {
			return err
		}
		var ops []any
		flush := func() error {
			if len(ops) == 0 {
				return nil
			}
			_, err := c.Multi(ops...)
			ops = ops[:0]
			return err
		}
		for _, k := range kids {
			ops = append(ops, &zk.DeleteRequest{Path: base + "/ledger/" + k, Version: -1})
			if len(ops) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		ops = append(ops, &zk.DeleteRequest{Path: base + "/ledger", Version: -1}, &zk.DeleteRequest{Path: base + "/clock", Version: -1})
		for k := 0; k < linKeys; k++ {
			ops = append(ops, &zk.DeleteRequest{Path: fmt.Sprintf("%s/lin-%d", base, k), Version: -1})
		}
		ops = append(ops, &zk.DeleteRequest{Path: base, Version: -1})
		return flush()
	})
	if err != nil {
		d.log.Warn("the scenario's znodes were not all deleted", "path", base, "error", err)
	}
}
