package main

import (
	"errors"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/tests/lincheck"
)

// TestClusterLinearizableProcesses records setData and version-checked
// setData on a few znodes from clients spread over 3 voter processes while
// the leader is killed with SIGKILL and restarted, and checks the history
// with porcupine; reads must never go back in time within a session.
func TestClusterLinearizableProcesses(t *testing.T) {
	bin := buildBinary(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	pc := newProcCluster(t, bin, 3)
	pc.leader()
	const keys = 3
	setup, _, err := zk.Connect(pc.servers(), 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < keys; k++ {
		if _, err := setup.Create("/lin"+strconv.Itoa(k), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	var mu sync.Mutex
	var history []porcupine.Operation
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for cl := 0; cl < 6; cl++ {
		wg.Add(1)
		go func(cl int, r *rand.Rand) {
			defer wg.Done()
			c, _, err := zk.Connect(pc.servers(), 8*time.Second, zk.WithLogInfo(false))
			if err != nil {
				return
			}
			defer c.Close()
			lastSeen := map[int]int32{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := r.Intn(keys)
				path := "/lin" + strconv.Itoa(k)
				if r.Intn(3) == 0 {
					if _, st, err := c.Get(path); err == nil {
						if st.Version < lastSeen[k] {
							t.Errorf("client %d read version %d of %s after seeing %d", cl, st.Version, path, lastSeen[k])
						}
						lastSeen[k] = st.Version
					}
					continue
				}
				in := lincheck.Input{Key: k, Expect: -1}
				if r.Intn(2) == 0 {
					in.Expect = lastSeen[k]
				}
				call := now()
				st, err := c.Set(path, []byte(strconv.Itoa(cl)), in.Expect)
				ret := now()
				var out lincheck.Output
				switch {
				case err == nil:
					out = lincheck.Output{OK: true, Version: st.Version}
					lastSeen[k] = max(lastSeen[k], st.Version)
				case errors.Is(err, zk.ErrBadVersion):
				default:
					out = lincheck.Output{Unknown: true}
					ret = 1 << 62 // may take effect any time after the call
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}(cl, rand.New(rand.NewSource(rng.Int63())))
	}
	for i := 0; i < 2; i++ {
		time.Sleep(time.Duration(300+rng.Intn(300)) * time.Millisecond) // load runs meanwhile
		lead := pc.leader()
		pc.kill(lead)
		pc.leader()
		pc.start(lead)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	pc.leader()
	pc.converged()
	mu.Lock()
	defer mu.Unlock()
	known := 0
	for _, op := range history {
		if !op.Output.(lincheck.Output).Unknown {
			known++
		}
	}
	if known < 50 {
		t.Fatalf("only %d completed writes: the load did not run", known)
	}
	if res := porcupine.CheckOperationsTimeout(lincheck.Model.ToModel(), history, 60*time.Second); res != porcupine.Ok {
		t.Fatalf("history of %d writes is not linearizable (%v), seed %d", len(history), res, seed)
	}
	t.Logf("%d writes (%d with a known outcome) linearizable across 2 kill -9s of the leader", len(history), known)
}
