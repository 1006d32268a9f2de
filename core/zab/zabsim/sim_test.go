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
// convergence at the end.
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
				totals.Proposed += rep.Proposed
				totals.Acked += rep.Acked
				totals.Crashes += rep.Crashes
				totals.MidReadyCrashes += rep.MidReadyCrashes
				totals.Partitions += rep.Partitions
				totals.Compactions += rep.Compactions
				totals.Epochs += rep.Epochs
				totals.Exhausted += rep.Exhausted
				totals.Syncs += rep.Syncs
				totals.Breaks += rep.Breaks
				totals.Diffs += rep.Diffs
				totals.Truncs += rep.Truncs
				totals.Snaps += rep.Snaps
				mu.Unlock()
				if len(failed) >= 5 {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds: proposed=%d acked=%d crashes=%d (mid-ready %d) partitions=%d breaks=%d compactions=%d epochs=%d exhausted=%d syncs=%d diff/trunc/snap=%d/%d/%d",
		n, totals.Proposed, totals.Acked, totals.Crashes, totals.MidReadyCrashes, totals.Partitions,
		totals.Breaks, totals.Compactions, totals.Epochs, totals.Exhausted, totals.Syncs,
		totals.Diffs, totals.Truncs, totals.Snaps)
	if len(failed) > 0 {
		t.Fatalf("%d failing seeds:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
