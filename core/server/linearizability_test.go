package server

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Register model for porcupine: a znode's data version. Writes are setData
// with version -1 (the reply tells the new version) and version-checked
// setData (compare-and-set); an outcome that is unknown (connection lost
// mid-request) may or may not have happened.
type regInput struct {
	key    int
	expect int32 // -1: unconditional
}

type regOutput struct {
	ok      bool  // applied (false: BadVersion)
	version int32 // the new version when ok
	unknown bool
}

var registerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{int32(0)} },
	Step: func(state, input, output interface{}) []interface{} {
		v := state.(int32)
		in, out := input.(regInput), output.(regOutput)
		applies := in.expect == -1 || in.expect == v
		switch {
		case out.unknown:
			if applies {
				return []interface{}{v, v + 1}
			}
			return []interface{}{v}
		case out.ok:
			if applies && out.version == v+1 {
				return []interface{}{v + 1}
			}
			return nil
		default: // BadVersion
			if !applies {
				return []interface{}{v}
			}
			return nil
		}
	},
	DescribeOperation: func(input, output interface{}) string {
		return fmt.Sprintf("%+v -> %+v", input, output)
	},
}

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
				in := regInput{key: k, expect: -1}
				if r.Intn(2) == 0 {
					in.expect = lastSeen[k]
				}
				call := now()
				st, err := c.Set(path, []byte(strconv.Itoa(cl)), in.expect)
				ret := now()
				var out regOutput
				switch {
				case err == nil:
					out = regOutput{ok: true, version: st.Version}
					lastSeen[k] = max(lastSeen[k], st.Version)
				case errors.Is(err, zk.ErrBadVersion):
					out = regOutput{}
				default:
					out = regOutput{unknown: true}
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
		if !op.Output.(regOutput).unknown {
			known++
		}
	}
	if known < 50 {
		t.Fatalf("only %d completed writes recorded: the load did not run", known)
	}
	res := porcupine.CheckOperationsTimeout(registerModel.ToModel(), history, 60*time.Second)
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
	m := registerModel.ToModel()
	op := func(call, ret int64, expect int32, out regOutput) porcupine.Operation {
		return porcupine.Operation{Input: regInput{expect: expect}, Call: call, Return: ret, Output: out}
	}
	bad := [][]porcupine.Operation{
		{op(0, 1, -1, regOutput{ok: true, version: 1}), op(2, 3, -1, regOutput{ok: true, version: 1})},
		{op(0, 1, -1, regOutput{ok: true, version: 1}), op(2, 3, 0, regOutput{ok: true, version: 1})},
		{op(0, 1, 0, regOutput{})}, // BadVersion although version 0 is current
	}
	for i, h := range bad {
		if porcupine.CheckOperations(m, h) {
			t.Errorf("history %d accepted", i)
		}
	}
	good := []porcupine.Operation{op(0, 1, -1, regOutput{unknown: true}), op(2, 3, 0, regOutput{}), op(4, 5, 1, regOutput{ok: true, version: 2})}
	if !porcupine.CheckOperations(m, good) {
		t.Error("a history where the unknown write happened was rejected")
	}
}
