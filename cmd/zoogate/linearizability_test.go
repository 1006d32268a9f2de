package main

import (
	"math/rand"
	"testing"
	"time"

	"github.com/zoogate/zoogate/tests/lincheck"
)

// TestClusterLinearizableProcesses records setData and version-checked
// setData on a few znodes from clients spread over 3 voter processes while
// the leader is killed with SIGKILL and restarted, and checks the history
// with porcupine; reads must never go back in time within a session.
func TestClusterLinearizableProcesses(t *testing.T) {
	bin := buildBinary(t)
	seed := testSeed(t)
	rng := rand.New(rand.NewSource(seed))
	pc := newProcCluster(t, bin, 3)
	pc.leader()
	w := lincheck.Start(t, pc.servers(), 6, 3, seed)
	for i := 0; i < 2; i++ {
		time.Sleep(time.Duration(300+rng.Intn(300)) * time.Millisecond) // load runs meanwhile
		lead := pc.leader()
		pc.kill(lead)
		pc.leader()
		pc.start(lead)
	}
	time.Sleep(300 * time.Millisecond)
	summary := w.StopAndCheck(50)
	pc.leader()
	pc.converged()
	t.Logf("%s across 2 kill -9s of the leader", summary)
}
