package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// `zoogate bench wan` measures a deployment whose remote site reaches the
// primary through `zoogate bench wanproxy`, the same way for zoogate and
// for Apache ZooKeeper:
//
// Every value written is --value-size random bytes, fresh for each write,
// so that WAN compression gains nothing from the values themselves.
//
//   - staleness: one writer on a primary server writes one znode at --rate;
//     a watcher session on every remote server follows it with data
//     watches. A version is visible at a remote server when a watch event
//     or a read there first shows it; its staleness is that moment minus the
//     moment the writer had its acknowledgement. The proxy's byte counters
//     before and after give the WAN bytes per write.
//   - remote-writes: one session per remote server writes in a loop; the
//     latency of each write.
//   - sessions: on each remote server in turn, new sessions one after the
//     other for --duration: the time from dialing to the ConnectResponse
//     (a local session is made on the spot; a global one is logged through
//     the leader, across the WAN).
//   - ro-reads: a client that asks for read-only mode (the readOnly flag)
//     on each remote server reads "/" every 10 ms, reconnecting at once
//     when it loses its connection, for 5 s, then through a cut of --cut,
//     then 5 s after the heal; a read counts as answered when the server
//     replied without error. What fraction of the reads tried during the
//     cut were answered.
//   - catchup: the writer runs at --rate; the proxy is cut for --cut, then
//     healed; a reader polling each remote server every 10 ms measures the
//     time from the heal until it shows the last write acknowledged before
//     the heal. The writer's latency before and during the cut shows
//     whether a cut site slows commits in the primary.
//
// Sessions are pinned to one server each and reconnect every 20 ms while
// disconnected (dialPolling), so the times are the servers', not a client
// library's reconnect back-off.

// WANConfig is a `zoogate bench wan` run.
type WANConfig struct {
	Mode      string
	Primary   string   // client address of a primary server (the writer's)
	Remote    []string // client addresses of the remote servers
	Proxy     string   // control address of the wanproxy
	Rate      float64  // writes per second (staleness, catchup)
	Writes    int      // writes (staleness)
	Duration  time.Duration
	Cut       time.Duration
	ValueSize int
	Timeout   time.Duration // bound on waiting for a remote server
	JSON      bool
	LogLevel  string
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarizeDurations(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) float64 {
		i := int(p*float64(len(s)-1) + 0.5)
		return float64(s[i]) / 1e6
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{Count: len(s), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: float64(s[len(s)-1]) / 1e6,
		Mean: float64(sum) / float64(len(s)) / 1e6}
}

// WANReport is the result of one mode.
type WANReport struct {
	Mode    string   `json:"mode"`
	Primary string   `json:"primary,omitempty"`
	Remote  []string `json:"remote"`
	Rate    float64  `json:"rate,omitempty"`
	Writes  int      `json:"writes,omitempty"`

	Staleness        *Summary `json:"staleness,omitempty"`
	StalenessMissing int      `json:"staleness_missing,omitempty"` // versions never seen
	PrimaryWrites    *Summary `json:"primary_writes,omitempty"`
	BytesUp          uint64   `json:"wan_bytes_up,omitempty"`
	BytesDown        uint64   `json:"wan_bytes_down,omitempty"`
	BytesPerWrite    float64  `json:"wan_bytes_per_write,omitempty"`
	RemoteWrites     *Summary `json:"remote_writes,omitempty"`
	SessionCreates   *Summary `json:"session_creates,omitempty"`
	// ro-reads: reads tried and answered during the cut, and before it.
	ROReadsDuringCut, ROReadsOKDuringCut int       `json:",omitempty"`
	ROReadsBefore, ROReadsOKBefore       int       `json:",omitempty"`
	RemoteErrors                         int       `json:"remote_errors,omitempty"`
	PrimaryBeforeCut                     *Summary  `json:"primary_before_cut,omitempty"`
	PrimaryDuringCut                     *Summary  `json:"primary_during_cut,omitempty"`
	CatchUpMs                            []float64 `json:"catch_up_ms,omitempty"` // per remote server
	CatchUpMaxMs                         float64   `json:"catch_up_max_ms,omitempty"`
	WriterErrors                         int       `json:"writer_errors,omitempty"`
}

func runWANCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := WANConfig{Rate: 200, Writes: 2000, Duration: 10 * time.Second, Cut: 30 * time.Second,
		ValueSize: 100, Timeout: 120 * time.Second, LogLevel: "warn"}
	fs := flag.NewFlagSet("zoogate bench wan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Mode, "mode", "", "staleness, remote-writes, catchup, sessions or ro-reads")
	fs.StringVar(&cfg.Primary, "primary", "", "client address of the primary server the writer uses")
	remote := fs.String("remote", "", "comma-separated client addresses of the remote servers")
	fs.StringVar(&cfg.Proxy, "proxy", "", "control address of `zoogate bench wanproxy`")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "writes per second (staleness, catchup)")
	fs.IntVar(&cfg.Writes, "writes", cfg.Writes, "writes (staleness)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long remote-writes runs")
	fs.DurationVar(&cfg.Cut, "cut", cfg.Cut, "how long the WAN is cut (catchup)")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes per value")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on waiting for a remote server")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "diagnostics level on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if *remote != "" {
		cfg.Remote = strings.Split(*remote, ",")
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "zoogate bench wan: %v\n", err)
		return ExitUsage
	}
	rep, err := RunWAN(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if rep != nil {
		if cfg.JSON {
			_ = writeJSON(stdout, rep)
		} else {
			fmt.Fprintf(stdout, "%+v\n", *rep)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "zoogate bench wan: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// Validate reports every problem at once, each naming its option.
func (c WANConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	switch c.Mode {
	case "staleness", "catchup":
		if c.Primary == "" {
			bad("primary", "is required in mode %s", c.Mode)
		}
		if c.Proxy == "" {
			bad("proxy", "is required in mode %s", c.Mode)
		}
		if c.Rate <= 0 {
			bad("rate", "must be positive, got %v", c.Rate)
		}
	case "remote-writes", "sessions":
	case "ro-reads":
		if c.Proxy == "" {
			bad("proxy", "is required in mode %s", c.Mode)
		}
	default:
		bad("mode", "want staleness, remote-writes, catchup, sessions or ro-reads, got %q", c.Mode)
	}
	if len(c.Remote) == 0 {
		bad("remote", "is required")
	}
	errs = append(errs, validateServers(c.Remote)...)
	if c.Mode == "staleness" && c.Writes < 1 {
		bad("writes", "must be at least 1, got %d", c.Writes)
	}
	if c.Cut <= 0 {
		bad("cut", "must be positive, got %v", c.Cut)
	}
	if c.ValueSize < 0 {
		bad("value-size", "must not be negative, got %d", c.ValueSize)
	}
	return errors.Join(errs...)
}

// RunWAN runs one mode.
func RunWAN(ctx context.Context, cfg WANConfig, log hclog.Logger) (*WANReport, error) {
	rep := &WANReport{Mode: cfg.Mode, Primary: cfg.Primary, Remote: cfg.Remote}
	switch cfg.Mode {
	case "staleness":
		return rep, runStaleness(ctx, cfg, rep, log)
	case "remote-writes":
		return rep, runRemoteWrites(ctx, cfg, rep, log)
	case "sessions":
		return rep, runSessions(ctx, cfg, rep)
	case "ro-reads":
		return rep, runROReads(ctx, cfg, rep)
	default:
		return rep, runCatchUp(ctx, cfg, rep, log)
	}
}

// pinned is a session on one server.
type pinned struct {
	conn *zk.Conn
	stop func()
}

func dialPinned(ctx context.Context, srv string, timeout time.Duration, log hclog.Logger) (*pinned, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, stop, err := dialPolling(dctx, []string{srv}, 10*time.Second, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", srv, err)
	}
	return &pinned{c, stop}, nil
}

// dialWriterAndRemotes opens the writer's session on the primary server
// and one session per remote server, and creates the run's znode; stop
// closes them all.
func dialWriterAndRemotes(ctx context.Context, cfg WANConfig, value []byte, log hclog.Logger) (w *pinned, remotes []*pinned, path string, stop func(), err error) {
	stop = func() {
		for _, r := range remotes {
			r.stop()
		}
		if w != nil {
			w.stop()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if w, err = dialPinned(ctx, cfg.Primary, cfg.Timeout, log); err != nil {
		return
	}
	for _, srv := range cfg.Remote {
		var r *pinned
		if r, err = dialPinned(ctx, srv, cfg.Timeout, log); err != nil {
			return
		}
		remotes = append(remotes, r)
	}
	path, err = wanPath(ctx, w, remotes, value, cfg.Timeout)
	return
}

// wanPath creates a fresh znode for the run through the writer and waits
// until every remote server shows it.
func wanPath(ctx context.Context, w *pinned, remotes []*pinned, value []byte, timeout time.Duration) (string, error) {
	if err := ensurePath(w.conn, "/zoogate-bench-wan"); err != nil {
		return "", err
	}
	p := "/zoogate-bench-wan/" + newRunID()
	if _, err := w.conn.Create(p, value, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	deadline := time.Now().Add(timeout)
	for _, r := range remotes {
		for {
			if ok, _, err := r.conn.Exists(p); err == nil && ok {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return "", fmt.Errorf("%s did not show %s within %v", r.conn.Server(), p, timeout)
			}
			time.Sleep(10 * time.Millisecond) // polling a remote server for a condition
		}
	}
	return p, nil
}

// fillRandom overwrites v with random bytes.
func fillRandom(v []byte) {
	for i := range v {
		v[i] = byte(rand.Uint32())
	}
}

// pacedWriter writes path at rate until stop is closed or n writes
// (n > 0) are done, recording when each version was acknowledged and how
// long each write took.
type pacedWriter struct {
	mu     sync.Mutex
	acks   map[int32]time.Time
	lat    []timedLatency
	last   int32
	errors int
}

type timedLatency struct {
	at time.Time
	d  time.Duration
}

func (pw *pacedWriter) run(ctx context.Context, conn *zk.Conn, path string, value []byte, rate float64, n int, stop <-chan struct{}) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; n <= 0 || i < n; i++ {
		select {
		case <-tick.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		fillRandom(value) // incompressible, and never the same twice
		t0 := time.Now()
		st, err := conn.Set(path, value, -1)
		t1 := time.Now()
		pw.mu.Lock()
		if err != nil {
			pw.errors++
		} else {
			pw.acks[st.Version] = t1
			pw.lat = append(pw.lat, timedLatency{t0, t1.Sub(t0)})
			pw.last = max(pw.last, st.Version)
		}
		pw.mu.Unlock()
	}
}

func (pw *pacedWriter) lastAcked() int32 {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.last
}

func (pw *pacedWriter) latencies(from, to time.Time) []time.Duration {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var out []time.Duration
	for _, l := range pw.lat {
		if !l.at.Before(from) && l.at.Before(to) {
			out = append(out, l.d)
		}
	}
	return out
}

// follow records when each version of path first became visible through
// s, until it has seen version until (read from the channel once known)
// or ctx ends.
func follow(ctx context.Context, s *pinned, path string, vis map[int32]time.Time, untilC <-chan int32, seen *atomic.Int32) {
	until := int32(-1)
	known := int32(-1)
	defer func() { seen.Store(known) }()
	first := true
	for ctx.Err() == nil {
		_, st, ch, err := s.conn.GetW(path)
		t := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // disconnected: the session reconnects
			continue
		}
		if first {
			known, first = st.Version, false
		}
		for v := known + 1; v <= st.Version; v++ {
			vis[v] = t
		}
		known = max(known, st.Version)
		for {
			if until >= 0 && known >= until {
				return
			}
			select {
			case ev := <-ch:
				if ev.Type == zk.EventNodeDataChanged {
					if _, ok := vis[known+1]; !ok {
						vis[known+1] = time.Now()
					}
					known++
				}
			case u := <-untilC:
				until, untilC = u, nil
				continue
			case <-ctx.Done():
				return
			}
			break
		}
	}
}

func runStaleness(ctx context.Context, cfg WANConfig, rep *WANReport, log hclog.Logger) error {
	value := makeValue(cfg.ValueSize)
	w, remotes, path, stop, err := dialWriterAndRemotes(ctx, cfg, value, log)
	if err != nil {
		return err
	}
	defer stop()
	fctx, cancel := context.WithTimeout(ctx, cfg.Timeout+time.Duration(float64(cfg.Writes)/cfg.Rate*float64(time.Second)))
	defer cancel()
	vis := make([]map[int32]time.Time, len(remotes))
	untils := make([]chan int32, len(remotes))
	seen := make([]atomic.Int32, len(remotes))
	var wg sync.WaitGroup
	for i, r := range remotes {
		vis[i], untils[i] = map[int32]time.Time{}, make(chan int32, 1)
		wg.Add(1)
		go func() { defer wg.Done(); follow(fctx, r, path, vis[i], untils[i], &seen[i]) }()
	}
	before, err := proxyStats(cfg.Proxy)
	if err != nil {
		return err
	}
	pw := &pacedWriter{acks: map[int32]time.Time{}}
	pw.run(ctx, w.conn, path, value, cfg.Rate, cfg.Writes, nil)
	last := pw.lastAcked()
	for _, u := range untils {
		u <- last
	}
	wg.Wait()
	after, err := proxyStats(cfg.Proxy)
	if err != nil {
		return err
	}
	rep.Rate, rep.Writes, rep.WriterErrors = cfg.Rate, len(pw.acks), pw.errors
	var st []time.Duration
	for v, ack := range pw.acks {
		for i := range remotes {
			if t, ok := vis[i][v]; ok {
				st = append(st, t.Sub(ack))
			} else {
				rep.StalenessMissing++
			}
		}
	}
	s := summarizeDurations(st)
	rep.Staleness = &s
	ps := summarizeDurations(pw.latencies(time.Time{}, time.Now()))
	rep.PrimaryWrites = &ps
	rep.BytesUp, rep.BytesDown = after.Up-before.Up, after.Down-before.Down
	if rep.Writes > 0 {
		rep.BytesPerWrite = float64(rep.BytesUp+rep.BytesDown) / float64(rep.Writes)
	}
	if fctx.Err() != nil {
		var behind []string
		for i := range remotes {
			if v := seen[i].Load(); v < last {
				behind = append(behind, fmt.Sprintf("%s saw version %d", cfg.Remote[i], v))
			}
		}
		return fmt.Errorf("remote servers did not show every write (version %d) within %v: %s", last, cfg.Timeout, strings.Join(behind, ", "))
	}
	return nil
}

func runRemoteWrites(ctx context.Context, cfg WANConfig, rep *WANReport, log hclog.Logger) error {
	var mu sync.Mutex
	var lat []time.Duration
	errs := make([]error, len(cfg.Remote))
	var wg sync.WaitGroup
	for i, srv := range cfg.Remote {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := dialPinned(ctx, srv, cfg.Timeout, log)
			if err != nil {
				errs[i] = err
				return
			}
			defer r.stop()
			value := makeValue(cfg.ValueSize)
			p := fmt.Sprintf("/zoogate-bench-wan-w%d-%s", i, newRunID())
			if _, err := r.conn.Create(p, value, 0, zk.WorldACL(zk.PermAll)); err != nil {
				errs[i] = fmt.Errorf("%s: create %s: %w", srv, p, err)
				return
			}
			defer func() { _ = r.conn.Delete(p, -1) }()
			end := time.Now().Add(cfg.Duration)
			for time.Now().Before(end) && ctx.Err() == nil {
				fillRandom(value)
				t0 := time.Now()
				_, err := r.conn.Set(p, value, -1)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					rep.RemoteErrors++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s := summarizeDurations(lat)
	rep.RemoteWrites = &s
	return errors.Join(errs...)
}

func runCatchUp(ctx context.Context, cfg WANConfig, rep *WANReport, log hclog.Logger) error {
	value := makeValue(cfg.ValueSize)
	w, remotes, path, stop, err := dialWriterAndRemotes(ctx, cfg, value, log)
	if err != nil {
		return err
	}
	defer stop()
	pw := &pacedWriter{acks: map[int32]time.Time{}}
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); pw.run(ctx, w.conn, path, value, cfg.Rate, 0, stopWriter) }()
	defer func() { close(stopWriter); <-writerDone }()
	// Ten seconds of writes with the site connected, then the cut.
	t0 := time.Now()
	if !sleepUntil(ctx, t0.Add(10*time.Second)) {
		return ctx.Err()
	}
	tCut := time.Now()
	if _, err := ProxyCommand(cfg.Proxy, "cut"); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			_, _ = ProxyCommand(cfg.Proxy, "heal")
		}
	}()
	if !sleepUntil(ctx, tCut.Add(cfg.Cut)) {
		return ctx.Err()
	}
	target := pw.lastAcked()
	tHeal := time.Now()
	if _, err := ProxyCommand(cfg.Proxy, "heal"); err != nil {
		return err
	}
	healed = true
	b := summarizeDurations(pw.latencies(t0, tCut))
	d := summarizeDurations(pw.latencies(tCut, tHeal))
	rep.PrimaryBeforeCut, rep.PrimaryDuringCut = &b, &d
	rep.Rate = cfg.Rate
	ms := make([]float64, len(remotes))
	errs := make([]error, len(remotes))
	var wg sync.WaitGroup
	for i, r := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := tHeal.Add(cfg.Timeout)
			for {
				_, st, err := r.conn.Get(path)
				now := time.Now()
				if err == nil && st.Version >= target {
					ms[i] = float64(now.Sub(tHeal)) / 1e6
					return
				}
				if now.After(deadline) || ctx.Err() != nil {
					errs[i] = fmt.Errorf("%s: version %d not visible within %v of the heal", cfg.Remote[i], target, cfg.Timeout)
					return
				}
				time.Sleep(10 * time.Millisecond) // polling a remote server for a condition
			}
		}()
	}
	wg.Wait()
	rep.CatchUpMs = ms
	for _, m := range ms {
		rep.CatchUpMaxMs = max(rep.CatchUpMaxMs, m)
	}
	pw.mu.Lock()
	rep.Writes, rep.WriterErrors = len(pw.acks), pw.errors
	pw.mu.Unlock()
	return errors.Join(errs...)
}

func runSessions(ctx context.Context, cfg WANConfig, rep *WANReport) error {
	var lat []time.Duration
	var errs []error
	for _, srv := range cfg.Remote {
		end := time.Now().Add(cfg.Duration)
		for time.Now().Before(end) && ctx.Err() == nil {
			t0 := time.Now()
			rc, err := dialRaw(srv, 10*time.Second, 5*time.Second)
			if err != nil {
				errs = append(errs, err)
				if len(errs) > 10 {
					return errors.Join(errs...)
				}
				continue
			}
			lat = append(lat, time.Since(t0))
			rc.close() // closeSession, not timed
		}
	}
	s := summarizeDurations(lat)
	rep.SessionCreates = &s
	rep.RemoteErrors = len(errs)
	return nil
}

func runROReads(ctx context.Context, cfg WANConfig, rep *WANReport) error {
	type counts struct{ tried, ok int }
	var mu sync.Mutex
	var phase atomic.Int32 // 0 before the cut, 1 during, 2 after
	byPhase := [3]counts{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, srv := range cfg.Remote {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rc *rawConn
			defer func() {
				if rc != nil {
					rc.c.Close()
				}
			}()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				ok := false
				if rc == nil {
					rc, _ = dialRawMode(srv, 10*time.Second, time.Second, true)
				}
				if rc != nil {
					_ = rc.c.SetDeadline(time.Now().Add(time.Second))
					if _, err := rc.queueGet("/"); err == nil && rc.flush() == nil {
						_, err, fatal := rc.readReply()
						ok = err == nil
						if fatal {
							rc.c.Close()
							rc = nil
						}
					} else {
						rc.c.Close()
						rc = nil
					}
				}
				p := phase.Load()
				mu.Lock()
				byPhase[p].tried++
				if ok {
					byPhase[p].ok++
				}
				mu.Unlock()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	if !sleepUntil(ctx, time.Now().Add(5*time.Second)) {
		return ctx.Err()
	}
	if _, err := ProxyCommand(cfg.Proxy, "cut"); err != nil {
		return err
	}
	phase.Store(1)
	cutEnd := time.Now().Add(cfg.Cut)
	healed := false
	defer func() {
		if !healed {
			_, _ = ProxyCommand(cfg.Proxy, "heal")
		}
	}()
	if !sleepUntil(ctx, cutEnd) {
		return ctx.Err()
	}
	phase.Store(2)
	if _, err := ProxyCommand(cfg.Proxy, "heal"); err != nil {
		return err
	}
	healed = true
	if !sleepUntil(ctx, time.Now().Add(5*time.Second)) {
		return ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	rep.ROReadsBefore, rep.ROReadsOKBefore = byPhase[0].tried, byPhase[0].ok
	rep.ROReadsDuringCut, rep.ROReadsOKDuringCut = byPhase[1].tried, byPhase[1].ok
	return nil
}
