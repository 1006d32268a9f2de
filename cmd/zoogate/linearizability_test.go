package main

import (
	"math/rand"
	"testing"
	"time"

	"github.com/zoogate/zoogate/tests/lincheck"
)

// TestClusterLinearizableProcesses records setData and version-checked
// setData on a few znodes from stock clients pinned to the 3 voter
// processes (two per voter, each given that voter only) while the leader
// is killed with SIGKILL and restarted three times, and checks the history
// with porcupine: nothing applied twice, nothing acknowledged lost. Reads
// must never go back in time within a session, and the clients of voters
// that were never killed must never lose their connection.
func TestClusterLinearizableProcesses(t *testing.T) {
	bin := buildBinary(t)
	seed := testSeed(t)
	rng := rand.New(rand.NewSource(seed))
	pc := newProcCluster(t, bin, 3)
	pc.leader()
	w := lincheck.StartPinned(t, pc.servers(), 2, 3, seed)
	killed := map[string]bool{}
	for i := 0; i < 3; i++ {
		target := w.Completed() + 30 + rng.Intn(60) // the load runs a random while between kills
		waitUntil(t, "writes between kills", 20*time.Second, func() bool { return w.Completed() >= target })
		lead := pc.leader()
		killed[pc.client[lead]] = true
		pc.kill(lead)
		pc.leader()
		pc.start(lead)
	}
	pc.leader()
	target := w.Completed() + 30
	waitUntil(t, "writes after the last kill", 20*time.Second, func() bool { return w.Completed() >= target })
	summary := w.StopAndCheck(50)
	for addr, n := range w.Disconnects() {
		if !killed[addr] && n > 0 {
			t.Errorf("clients of %s, never killed, lost their connection %d times", addr, n)
		}
	}
	pc.leader()
	pc.converged()
	t.Logf("%s across 3 kill -9s of the leader", summary)
}
