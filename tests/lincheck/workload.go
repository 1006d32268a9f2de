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
	// disconnects counts, per server address, the times a client pinned
	// to that server lost its connection (StartPinned).
	disconnects map[string]int
}

// Start creates the znodes and starts the clients, each given every
// server (go-zookeeper picks one and moves on when it fails).
func Start(t testing.TB, servers []string, clients, keys int, seed int64) *Workload {
	t.Helper()
	w := setup(t, servers, keys)
	rng := rand.New(rand.NewSource(seed))
	for cl := 0; cl < clients; cl++ {
		w.wg.Add(1)
		go w.client(servers, cl, keys, rand.New(rand.NewSource(rng.Int63())))
	}
	return w
}

// StartPinned is Start with perServer clients on each server, each given
// only that server, as a stock client configured with one address is: it
// never moves to another server, and every connection loss it sees is
// counted (Disconnects).
func StartPinned(t testing.TB, servers []string, perServer, keys int, seed int64) *Workload {
	t.Helper()
	w := setup(t, servers, keys)
	rng := rand.New(rand.NewSource(seed))
	cl := 0
	for _, addr := range servers {
		for i := 0; i < perServer; i++ {
			w.wg.Add(1)
			go w.client([]string{addr}, cl, keys, rand.New(rand.NewSource(rng.Int63())))
			cl++
		}
	}
	return w
}

// Disconnects returns, per server address, how many times clients pinned
// to it lost their connection so far.
func (w *Workload) Disconnects() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.disconnects))
	for k, v := range w.disconnects {
		out[k] = v
	}
	return out
}

// setup creates the znodes.
func setup(t testing.TB, servers []string, keys int) *Workload {
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
	return &Workload{t: t, start: time.Now(), stop: make(chan struct{}), disconnects: map[string]int{}}
}

func (w *Workload) now() int64 { return int64(time.Since(w.start)) }

func (w *Workload) client(servers []string, cl, keys int, r *rand.Rand) {
	defer w.wg.Done()
	c, events, err := zk.Connect(servers, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return
	}
	defer c.Close()
	if len(servers) == 1 {
		go w.countDisconnects(servers[0], events)
	}
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

// countDisconnects counts a pinned client's connection losses: a session
// event leaving the connected state.
func (w *Workload) countDisconnects(addr string, events <-chan zk.Event) {
	connected := false
	for ev := range events {
		if ev.Type != zk.EventSession {
			continue
		}
		switch ev.State {
		case zk.StateHasSession:
			connected = true
		case zk.StateDisconnected, zk.StateExpired:
			select {
			case <-w.stop:
				return // the client closing at the end
			default:
			}
			if connected {
				w.mu.Lock()
				w.disconnects[addr]++
				w.mu.Unlock()
			}
			connected = false
		}
	}
}

// Completed returns the number of writes with a known outcome so far.
func (w *Workload) Completed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.knownLocked()
}

// knownLocked counts the writes with a known outcome (w.mu held).
func (w *Workload) knownLocked() int {
	n := 0
	for _, op := range w.history {
		if !op.Output.(Output).Unknown {
			n++
		}
	}
	return n
}

// StopAndCheck stops the clients and checks the history: at least minKnown
// writes with a known outcome, and linearizable. It returns a summary.
func (w *Workload) StopAndCheck(minKnown int) string {
	w.t.Helper()
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	known := w.knownLocked()
	if known < minKnown {
		w.t.Fatalf("only %d completed writes: the load did not run", known)
	}
	if res := porcupine.CheckOperationsTimeout(Model.ToModel(), w.history, 60*time.Second); res != porcupine.Ok {
		w.t.Fatalf("history of %d writes is not linearizable (%v)", len(w.history), res)
	}
	return strconv.Itoa(len(w.history)) + " writes (" + strconv.Itoa(known) + " with a known outcome) linearizable"
}
