package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/internal/linmodel"
)

// linKeys is the number of znodes the workload's setData calls share:
// every client of every site writes them, so the history porcupine checks
// has concurrent writers across sites.
const linKeys = 4

// clockEvery is how often the primary's clock writer updates the clock
// znode the readers measure staleness against.
const clockEvery = 50 * time.Millisecond

// Kinds of recorded operations.
const (
	opWrite    = iota
	opRead     // by a go-zookeeper reader
	opROReader // by the site's read-only reader (readonly.go)
)

// Outcomes of a recorded operation.
const (
	outOK      = iota // the server answered (BadVersion included: it decided)
	outFail           // known not to have happened or an error answer
	outUnknown        // connection lost with the request in flight
)

// Op is one recorded call of a workload client. Times count from the
// workload's start.
type Op struct {
	Site, Client int
	Kind         int
	Call, Ret    time.Duration
	Outcome      int
	Err          string
	Seen         int64 // reads: the clock counter read (-1: none)
	ReadOnly     bool  // a read-only reader's read answered by a server in read-only mode
}

// Acked is a setData the server acknowledged: the key, the version it
// answered and the value written.
type Acked struct {
	Key     int
	Version int32
	Value   string
}

// ClockAck is an acknowledged update of the clock znode.
type ClockAck struct {
	Counter int64
	At      time.Duration
}

// StateEvent is a session event a client saw: a connection lost after it
// had a session, or its session expired.
type StateEvent struct {
	Site, Client int
	At           time.Duration
	Expired      bool
	Server       string // the server the client was connected to
}

// History is everything the workload recorded in one scenario; the
// checker reads only this (and the final state read back), so tests can
// build one by hand.
type History struct {
	Sites   []string
	Ops     []Op
	Lin     []porcupine.Operation // the setData calls, lincheck's model
	Acked   []Acked
	Ledger  []string // paths of acknowledged creates
	Clock   []ClockAck
	Events  []StateEvent
	Started time.Time
	End     time.Duration // when the workload was told to stop
	// Down holds the client addresses of the nodes the scenario killed
	// or stopped (set by the drill, not the workload): a client of one
	// of them loses its connection whatever the others do.
	Down map[string]bool
}

// workload runs the clients of one scenario.
type workload struct {
	base     string // the scenario's znode, /zoogate-drill/<n>-<name>
	sites    []string
	servers  [][]string // per site: its nodes' client addresses
	opts     *Options
	start    time.Time
	stop     chan struct{}
	stopping atomic.Bool
	wg       sync.WaitGroup

	mu    sync.Mutex
	h     History
	conns []*zk.Conn
}

// quietLogger drops go-zookeeper's log lines (reconnects are recorded as
// events instead).
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// Root is the znode under which the drill writes, one child per scenario.
const Root = "/zoogate-drill"

// prepare creates the scenario's znodes through any node of the primary
// site, within timeout.
func prepare(ctx context.Context, servers []string, base string, timeout time.Duration) error {
	return withConn(ctx, servers, timeout, func(c *zk.Conn) error {
		paths := []string{Root, base, base + "/ledger", base + "/clock"}
		for k := 0; k < linKeys; k++ {
			paths = append(paths, base+"/lin-"+strconv.Itoa(k))
		}
		for _, p := range paths {
			if _, err := c.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("create %s: %w", p, err)
			}
		}
		return nil
	})
}

// withConn runs fn with a session on servers; it gives up (closing the
// session, which fails fn's call in flight) after timeout.
func withConn(ctx context.Context, servers []string, timeout time.Duration, fn func(*zk.Conn) error) error {
	c, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(c) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err = <-done:
	case <-t.C:
		c.Close()
		<-done
		err = fmt.Errorf("%w: no answer from %v within %v", ErrTimeout, servers, timeout)
	case <-ctx.Done():
		c.Close()
		<-done
		err = ctx.Err()
	}
	c.Close()
	return err
}

// startWorkload starts the clients: opts.Clients per site, each connected
// to its site's nodes, plus the clock writer on the primary site (sites[0]).
func startWorkload(base string, sites []string, servers [][]string, o *Options, seed uint64) (*workload, error) {
	w := &workload{base: base, sites: sites, servers: servers, opts: o, start: time.Now(), stop: make(chan struct{})}
	w.h.Sites, w.h.Started = sites, w.start
	rng := rand.New(rand.NewPCG(seed, 0x6472696c6c))
	clock, err := w.connect(0, -1, rng)
	if err != nil {
		return nil, err
	}
	w.wg.Add(1)
	go w.clock(clock)
	for s := range sites {
		w.wg.Add(1)
		go w.roReader(s)
		for c := 0; c < o.Clients; c++ {
			id := s*o.Clients + c
			// Writes and reads on sessions of their own: a session's read
			// waits for its earlier writes (ZooKeeper's per-session
			// order), and the reads must go on while writes hang.
			wc, err := w.connect(s, id, rng)
			if err != nil {
				w.finish()
				return nil, err
			}
			rc, err := w.connect(s, id, rng)
			if err != nil {
				w.finish()
				return nil, err
			}
			w.wg.Add(2)
			go w.writer(wc, s, id, rand.New(rand.NewPCG(rng.Uint64(), uint64(id))))
			go w.reader(rc, s, id)
		}
	}
	return w, nil
}

func (w *workload) now() time.Duration { return time.Since(w.start) }

// connect opens a session on the site's nodes (in a shuffled order, as
// clients of a real deployment spread) that records its connection
// losses and expirations; client -1 is the clock writer (not recorded).
func (w *workload) connect(site, client int, rng *rand.Rand) (*zk.Conn, error) {
	srv := append([]string(nil), w.servers[site]...)
	rng.Shuffle(len(srv), func(i, j int) { srv[i], srv[j] = srv[j], srv[i] })
	var last zk.State
	cb := func(ev zk.Event) {
		if ev.Type != zk.EventSession || client < 0 || w.stopping.Load() {
			return
		}
		switch {
		case ev.State == zk.StateExpired:
			w.event(StateEvent{Site: site, Client: client, At: w.now(), Expired: true, Server: ev.Server})
		case ev.State == zk.StateDisconnected && last == zk.StateHasSession:
			w.event(StateEvent{Site: site, Client: client, At: w.now(), Server: ev.Server})
		}
		last = ev.State
	}
	c, _, err := zk.Connect(srv, w.opts.SessionTimeout, zk.WithLogger(quietLogger{}), zk.WithEventCallback(cb))
	if err != nil { // a server list go-zookeeper cannot use
		return nil, fmt.Errorf("site %s: connect to %v: %w", w.sites[site], srv, err)
	}
	w.mu.Lock()
	w.conns = append(w.conns, c)
	w.mu.Unlock()
	return c, nil
}

func (w *workload) event(e StateEvent) {
	w.mu.Lock()
	w.h.Events = append(w.h.Events, e)
	w.mu.Unlock()
}

func (w *workload) record(o Op) {
	w.mu.Lock()
	w.h.Ops = append(w.h.Ops, o)
	w.mu.Unlock()
}

// pause waits d unless the workload stops; false when it stops.
func (w *workload) pause(d time.Duration) bool {
	select {
	case <-w.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// outcomeOf classifies an error of a write: nil and BadVersion are
// answers; ErrNoServer means the request was never sent; anything else
// may or may not have been applied.
func outcomeOf(err error) int {
	switch {
	case err == nil, errors.Is(err, zk.ErrBadVersion):
		return outOK
	case errors.Is(err, zk.ErrNoServer):
		return outFail
	}
	return outUnknown
}

// writer alternates setData on a shared key (plain or compare-and-set)
// and the create of a unique znode, pausing opts.Interval.
func (w *workload) writer(c *zk.Conn, site, id int, rng *rand.Rand) {
	defer w.wg.Done()
	lastSeen := map[int]int32{}
	for i := 0; ; i++ {
		if !w.pause(w.opts.Interval) {
			return
		}
		value := fmt.Sprintf("%s/%d/%d", w.sites[site], id, i)
		if i%2 == 0 {
			k := rng.IntN(linKeys)
			in := linmodel.Input{Key: k, Expect: -1}
			if rng.IntN(2) == 0 {
				in.Expect = lastSeen[k]
			}
			call := w.now()
			st, err := c.Set(w.base+"/lin-"+strconv.Itoa(k), []byte(value), in.Expect)
			ret := w.now()
			o := Op{Site: site, Client: id, Kind: opWrite, Call: call, Ret: ret, Outcome: outcomeOf(err), Seen: -1}
			var out linmodel.Output
			linRet := int64(ret)
			switch o.Outcome {
			case outOK:
				if err == nil {
					out = linmodel.Output{OK: true, Version: st.Version}
					lastSeen[k] = max(lastSeen[k], st.Version)
				}
			default:
				o.Err = err.Error()
				out = linmodel.Output{Unknown: true}
				linRet = 1 << 62 // it may take effect any time after the call
			}
			w.mu.Lock()
			w.h.Ops = append(w.h.Ops, o)
			if o.Outcome != outFail {
				w.h.Lin = append(w.h.Lin, porcupine.Operation{ClientId: id, Input: in, Call: int64(call), Output: out, Return: linRet})
			}
			if err == nil {
				w.h.Acked = append(w.h.Acked, Acked{Key: k, Version: st.Version, Value: value})
			}
			w.mu.Unlock()
		} else {
			p := fmt.Sprintf("%s/ledger/%s-%d-%d", w.base, w.sites[site], id, i)
			call := w.now()
			_, err := c.Create(p, []byte(value), 0, zk.WorldACL(zk.PermAll))
			o := Op{Site: site, Client: id, Kind: opWrite, Call: call, Ret: w.now(), Outcome: outOK, Seen: -1}
			if err != nil {
				o.Outcome, o.Err = outFail, err.Error()
			}
			w.mu.Lock()
			w.h.Ops = append(w.h.Ops, o)
			if err == nil {
				w.h.Ledger = append(w.h.Ledger, p)
			}
			w.mu.Unlock()
		}
	}
}

// reader reads the clock znode, pausing opts.Interval.
func (w *workload) reader(c *zk.Conn, site, id int) {
	defer w.wg.Done()
	for w.pause(w.opts.Interval) {
		call := w.now()
		data, _, err := c.Get(w.base + "/clock")
		o := Op{Site: site, Client: id, Kind: opRead, Call: call, Ret: w.now(), Outcome: outOK, Seen: -1}
		if err != nil {
			o.Outcome, o.Err = outFail, err.Error()
		} else if n, perr := strconv.ParseInt(string(data), 10, 64); perr == nil {
			o.Seen = n
		}
		w.record(o)
	}
}

// clock updates the clock znode with a counter every clockEvery and
// records when each update was acknowledged.
func (w *workload) clock(c *zk.Conn) {
	defer w.wg.Done()
	for n := int64(1); ; n++ {
		if !w.pause(clockEvery) {
			return
		}
		if _, err := c.Set(w.base+"/clock", []byte(strconv.FormatInt(n, 10)), -1); err == nil {
			at := w.now()
			w.mu.Lock()
			w.h.Clock = append(w.h.Clock, ClockAck{Counter: n, At: at})
			w.mu.Unlock()
		}
	}
}

// progress counts the writes so far: acknowledged and failed.
func (w *workload) progress() (ok, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.h.Ops {
		if o.Kind == opWrite {
			if o.Outcome == outOK {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}

// wroteSince reports whether every site has had a write acknowledged
// after t.
func (w *workload) wroteSince(t time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := make([]bool, len(w.sites))
	for i := len(w.h.Ops) - 1; i >= 0; i-- {
		o := w.h.Ops[i]
		if o.Kind == opWrite && o.Outcome == outOK && o.Call >= t {
			seen[o.Site] = true
		}
	}
	for _, s := range seen {
		if !s {
			return false
		}
	}
	return true
}

// finish stops the clients, closes their sessions and returns the
// history.
func (w *workload) finish() *History {
	w.mu.Lock()
	w.h.End = w.now()
	w.mu.Unlock()
	w.stopping.Store(true)
	close(w.stop)
	w.mu.Lock()
	conns := w.conns
	w.mu.Unlock()
	for _, c := range conns { // fails calls still waiting for a server
		c.Close()
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.h
	return &h
}
