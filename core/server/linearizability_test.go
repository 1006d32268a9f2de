package server

import (
	"errors"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

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
	const keys = 3
	setup := tc.connect(1)
	for k := 0; k < keys; k++ {
		if _, err := setup.Create("/lin"+strconv.Itoa(k), nil, 0, open); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var history []porcupine.Operation
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var addrs []string
	for _, s := range tc.servers {
		addrs = append(addrs, s.Addr().String())
	}
	for cl := 0; cl < 6; cl++ {
		wg.Add(1)
		go func(cl int, r *rand.Rand) {
			defer wg.Done()
			c, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogInfo(false))
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
				if r.Intn(3) == 0 { // read: never older than what this session saw
					_, st, err := c.Get(path)
					if err == nil {
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
					out = lincheck.Output{}
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
	// Faults: stop the leader, wait for a new one, bring the old one back.
	for i := 0; i < 2; i++ {
		time.Sleep(time.Duration(100+rng.Intn(200)) * time.Millisecond) // load runs meanwhile
		lead := tc.leader()
		tc.stop(lead)
		tc.leader()
		tc.start(lead)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	known := 0
	for _, op := range history {
		if !op.Output.(lincheck.Output).Unknown {
			known++
		}
	}
	if known < 50 {
		t.Fatalf("only %d completed writes recorded: the load did not run", known)
	}
	res := porcupine.CheckOperationsTimeout(lincheck.Model.ToModel(), history, 60*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("history of %d writes is not linearizable (%v); replay with ZOOGATE_SEED=%d", len(history), res, seed)
	}
	t.Logf("%d writes (%d with a known outcome) linearizable across 2 leader failovers", len(history), known)
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
