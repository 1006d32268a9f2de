package lincheck

import (
	"errors"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Workload runs clients that setData, compare-and-set and read a few
// znodes (/lin0, /lin1, ...) and records the writes for porcupine.
type Workload struct {
	t       testing.TB
	mu      sync.Mutex
	history []porcupine.Operation
	start   time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Start creates the znodes and starts the clients, spread over servers.
func Start(t testing.TB, servers []string, clients, keys int, seed int64) *Workload {
	t.Helper()
	setup, _, err := zk.Connect(servers, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < keys; k++ {
		if _, err := setup.Create("/lin"+strconv.Itoa(k), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	w := &Workload{t: t, start: time.Now(), stop: make(chan struct{})}
	rng := rand.New(rand.NewSource(seed))
	for cl := 0; cl < clients; cl++ {
		w.wg.Add(1)
		go w.client(servers, cl, keys, rand.New(rand.NewSource(rng.Int63())))
	}
	return w
}

func (w *Workload) now() int64 { return int64(time.Since(w.start)) }

func (w *Workload) client(servers []string, cl, keys int, r *rand.Rand) {
	defer w.wg.Done()
	c, _, err := zk.Connect(servers, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return
	}
	defer c.Close()
	lastSeen := map[int]int32{}
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		k := r.Intn(keys)
		path := "/lin" + strconv.Itoa(k)
		if r.Intn(3) == 0 { // a read never shows an older version than this session saw
			if _, st, err := c.Get(path); err == nil {
				if st.Version < lastSeen[k] {
					w.t.Errorf("client %d read version %d of %s after seeing %d", cl, st.Version, path, lastSeen[k])
				}
				lastSeen[k] = st.Version
			}
			continue
		}
		in := Input{Key: k, Expect: -1}
		if r.Intn(2) == 0 {
			in.Expect = lastSeen[k]
		}
		call := w.now()
		st, err := c.Set(path, []byte(strconv.Itoa(cl)), in.Expect)
		ret := w.now()
		var out Output
		switch {
		case err == nil:
			out = Output{OK: true, Version: st.Version}
			lastSeen[k] = max(lastSeen[k], st.Version)
		case errors.Is(err, zk.ErrBadVersion):
		default:
			out = Output{Unknown: true}
			ret = 1 << 62 // may take effect any time after the call
		}
		w.mu.Lock()
		w.history = append(w.history, porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: out, Return: ret})
		w.mu.Unlock()
	}
}

// StopAndCheck stops the clients and checks the history: at least minKnown
// writes with a known outcome, and linearizable. It returns a summary.
func (w *Workload) StopAndCheck(minKnown int) string {
	w.t.Helper()
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	known := 0
	for _, op := range w.history {
		if !op.Output.(Output).Unknown {
			known++
		}
	}
	if known < minKnown {
		w.t.Fatalf("only %d completed writes: the load did not run", known)
	}
	if res := porcupine.CheckOperationsTimeout(Model.ToModel(), w.history, 60*time.Second); res != porcupine.Ok {
		w.t.Fatalf("history of %d writes is not linearizable (%v)", len(w.history), res)
	}
	return strconv.Itoa(len(w.history)) + " writes (" + strconv.Itoa(known) + " with a known outcome) linearizable"
}
