package server

import (
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zoogate/zoogate/tests/lincheck"
)

// TestClusterLinearizableWrites records setData and compare-and-set histories
// on a few znodes from clients spread over a 3-voter cluster while the
// leader is stopped and restarted, and checks them with porcupine. Reads
// are checked to never go back in time within a session.
func TestClusterLinearizableWrites(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("ZOOGATE_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	tc := newTestCluster(t, 3)
	tc.leader()
	var addrs []string
	for _, s := range tc.servers {
		addrs = append(addrs, s.Addr().String())
	}
	w := lincheck.Start(t, addrs, 6, 3, seed)
	// Faults: stop the leader, wait for a new one, bring the old one back,
	// each after the load has run a random number of writes.
	for i := 0; i < 2; i++ {
		target := w.Completed() + 15 + rng.Intn(30)
		waitFor(t, "writes between failovers", 20*time.Second, func() bool { return w.Completed() >= target })
		lead := tc.leader()
		tc.stop(lead)
		tc.leader()
		tc.start(lead)
	}
	target := w.Completed() + 20
	waitFor(t, "writes after the last failover", 20*time.Second, func() bool { return w.Completed() >= target })
	t.Logf("%s across 2 leader failovers", w.StopAndCheck(50))
	tc.converged()
}

// TestRegisterModelRejects makes sure the checker can fail: two sequential
// unconditional writes cannot both produce version 1, and a compare-and-set
// cannot succeed against a version that was already replaced.
func TestRegisterModelRejects(t *testing.T) {
	m := lincheck.Model.ToModel()
	op := func(call, ret int64, expect int32, out lincheck.Output) porcupine.Operation {
		return porcupine.Operation{Input: lincheck.Input{Expect: expect}, Call: call, Return: ret, Output: out}
	}
	bad := [][]porcupine.Operation{
		{op(0, 1, -1, lincheck.Output{OK: true, Version: 1}), op(2, 3, -1, lincheck.Output{OK: true, Version: 1})},
		{op(0, 1, -1, lincheck.Output{OK: true, Version: 1}), op(2, 3, 0, lincheck.Output{OK: true, Version: 1})},
		{op(0, 1, 0, lincheck.Output{})}, // BadVersion although version 0 is current
	}
	for i, h := range bad {
		if porcupine.CheckOperations(m, h) {
			t.Errorf("history %d accepted", i)
		}
	}
	good := []porcupine.Operation{op(0, 1, -1, lincheck.Output{Unknown: true}), op(2, 3, 0, lincheck.Output{}), op(4, 5, 1, lincheck.Output{OK: true, Version: 2})}
	if !porcupine.CheckOperations(m, good) {
		t.Error("a history where the unknown write happened was rejected")
	}
}
