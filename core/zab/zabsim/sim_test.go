package zabsim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
)

var (
	seedFlag  = flag.Int64("seed", 0, "run only this simulation seed, with protocol logs")
	seedsFlag = flag.Int("seeds", 0, "number of seeds TestSim runs (default 2000, 50000 with ZOOGATE_LONG=1)")
)

const replayCmd = "go test ./core/zab/zabsim -run 'TestSim$' -seed=%d -v"

// TestSim runs many seeded random schedules of proposals, crashes (also in
// the middle of a Ready), restarts, partitions, stream breaks and
// compactions against real nodes, checking invariants after every step and
// convergence at the end. Each seed also picks the drivers' Ready order:
// zab.Ready's strict one, production's relaxed one, or a mix per server
// (see Order); the invariants are the same for both. A third of the seeds
// add relays with observers of their own, upstream moves, and faults aimed
// at relays.
func TestSim(t *testing.T) {
	if *seedFlag != 0 {
		logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: testWriter{t}, DisableTime: true})
		rc := DefaultRunConfig()
		rc.Logger = logger
		c, rep, err := Run(*seedFlag, rc)
		t.Log(rep)
		if err != nil {
			for _, l := range c.Trace(400) {
				t.Log(l)
			}
			for _, id := range c.IDs() {
				t.Log(c.StatusLine(id))
			}
			t.Fatalf("seed %d: %v", *seedFlag, err)
		}
		return
	}
	n := *seedsFlag
	if n == 0 {
		n = 2000
		if os.Getenv("ZOOGATE_LONG") == "1" {
			n = 50000
		}
	}
	var (
		next   atomic.Int64
		mu     sync.Mutex
		failed []string
		totals Report
		seeds  int
	)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed > int64(n) {
					return
				}
				_, rep, err := Run(seed, DefaultRunConfig())
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("seed %d: %v\n  replay: "+replayCmd, seed, err, seed))
				}
				totals.Add(rep)
				seeds++
				stop := len(failed) >= 5
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds: proposed=%d acked=%d crashes=%d (mid-ready %d) partitions=%d breaks=%d compactions=%d epochs=%d exhausted=%d syncs=%d diff/trunc/snap=%d/%d/%d",
		seeds, totals.Proposed, totals.Acked, totals.Crashes, totals.MidReadyCrashes, totals.Partitions,
		totals.Breaks, totals.Compactions, totals.Epochs, totals.Exhausted, totals.Syncs,
		totals.Diffs, totals.Truncs, totals.Snaps)
	t.Logf("relaxed order: %d servers, %d Readies with early sends or applies, %d crashes between them and the persist (%d after sending proposals, %d after applying)",
		totals.Relaxed, totals.EarlyReadies, totals.EarlyCrashes, totals.EarlyProposalCrashes, totals.EarlyApplyCrashes)
	t.Logf("relays: %d relays with %d observers behind them, %d chains of two relays, %d upstream moves, %d crashes aimed at relays; relays sent %d INFORMs, DIFF/TRUNC/SNAP %d/%d/%d",
		totals.Relays, totals.Behind, totals.Chains, totals.Moves, totals.RelayCrashes, totals.RelayInforms,
		totals.RelayDiffs, totals.RelayTruncs, totals.RelaySnaps)
	t.Logf("voters serving relays: %d relays followed a voter, following voters sent %d INFORMs", totals.VoterUpstreams, totals.FollowerInforms)
	if len(failed) > 0 {
		t.Fatalf("%d failing seeds:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	// Crashes in the middle of Readies happened, both orders ran, and the
	// relaxed one's crash points were reached.
	if n >= 500 && (totals.MidReadyCrashes == 0 || totals.EarlyReadies == 0 || totals.EarlyProposalCrashes == 0 ||
		totals.EarlyApplyCrashes == 0) {
		t.Errorf("%d seeds did not exercise every crash point: %d mid-Ready crashes, %d early Readies, %d crashes after early proposals, %d after early applies",
			n, totals.MidReadyCrashes, totals.EarlyReadies, totals.EarlyProposalCrashes, totals.EarlyApplyCrashes)
	}
	// Relays served their observers, synced them both ways, and moves
	// and relay crashes happened.
	if n >= 500 && (totals.RelayInforms == 0 || totals.RelayDiffs == 0 || totals.RelaySnaps == 0 ||
		totals.Moves == 0 || totals.RelayCrashes == 0) {
		t.Errorf("%d seeds did not exercise relays: %d INFORMs, %d DIFFs, %d SNAPs from relays, %d moves, %d relay crashes",
			n, totals.RelayInforms, totals.RelayDiffs, totals.RelaySnaps, totals.Moves, totals.RelayCrashes)
	}
	if n >= 500 && (totals.VoterUpstreams == 0 || totals.FollowerInforms == 0) {
		t.Errorf("%d seeds did not exercise voters serving relays: %d relays followed a voter, %d INFORMs from following voters",
			n, totals.VoterUpstreams, totals.FollowerInforms)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
