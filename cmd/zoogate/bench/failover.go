package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// FailoverTrial is one kill/recover cycle.
type FailoverTrial struct {
	Trial int `json:"trial"`
	// KillOutput is what the kill command printed (trimmed).
	KillOutput string `json:"kill_output"`
	// KillCmdMs is how long the kill command ran.
	KillCmdMs float64 `json:"kill_cmd_ms"`
	// KillAtFrom says where the kill moment comes from: "command output"
	// (a `killed-at-unix-ns: N` line the command printed, see
	// ParseKilledAt) or "command exit" (when the command returned).
	KillAtFrom string `json:"kill_at_from"`
	// Recovered is false when no write issued after the kill succeeded
	// within the trial timeout.
	Recovered bool `json:"recovered"`
	// WindowMs is from the kill to the completion of the first successful
	// write issued after it, by any writer.
	WindowMs float64 `json:"window_ms"`
	// AllWritersMs is from the kill until every writer had completed a
	// successful write issued after it (0 if some never did).
	AllWritersMs float64 `json:"all_writers_ms"`
	// FailedWrites and Errors count the writes that failed between the kill
	// and the end of the trial, by error.
	FailedWrites int64            `json:"failed_writes"`
	Errors       map[string]int64 `json:"errors"`
	// ConnectionLosses counts the connections pinned writers lost from the
	// kill to the end of the trial (--pinned only).
	ConnectionLosses int64 `json:"connection_losses"`
	// RestartOutput and ReadyMs describe the restart: ReadyMs is from the
	// start of the restart command until every server served a write.
	RestartOutput string  `json:"restart_output,omitempty"`
	ReadyMs       float64 `json:"ready_ms,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// FailoverReport is the result of `zoogate bench failover`.
type FailoverReport struct {
	Servers            []string        `json:"servers"`
	Writers            int             `json:"writers"`
	KillCmd            string          `json:"kill_cmd"`
	RestartCmd         string          `json:"restart_cmd,omitempty"`
	Started            time.Time       `json:"started"`
	Trials             []FailoverTrial `json:"trials"`
	Recovered          int             `json:"recovered"`
	MedianWindowMs     float64         `json:"median_window_ms"`
	MedianAllWritersMs float64         `json:"median_all_writers_ms"`
	// Pinned: the writers were stock clients, each given one follower.
	Pinned bool `json:"pinned"`
	// ConnectionLosses is the trials' total (--pinned only).
	ConnectionLosses int64 `json:"connection_losses"`
}

// trialState collects writer outcomes around one kill.
type trialState struct {
	mu        sync.Mutex
	killAt    time.Time // zero until the kill command returned
	firstOK   time.Time
	seen      []bool
	firstAt   []time.Time // per writer: first success issued after the kill
	remaining int
	allOK     time.Time
	errs      map[string]int64
	failed    int64
	losses    int64       // connections pinned writers lost since the kill started
	killing   bool        // the kill command is running
	held      []outcome   // outcomes recorded while killing
	lastErr   time.Time   // for settling: last failure before the kill
	okSince   []time.Time // for settling: last success per writer
	allDone   chan struct{}
}

func newTrialState(writers int) *trialState {
	return &trialState{seen: make([]bool, writers), firstAt: make([]time.Time, writers), remaining: writers, errs: map[string]int64{},
		okSince: make([]time.Time, writers), allDone: make(chan struct{})}
}

// outcome is one finished write.
type outcome struct {
	w            int
	issued, done time.Time
	err          error
}

// record accounts one finished write. While the kill command runs the kill
// moment is not known yet, so outcomes are held back and replayed by kill.
func (t *trialState) record(w int, issued, done time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := outcome{w, issued, done, err}
	if t.killing && t.killAt.IsZero() {
		t.held = append(t.held, o)
		return
	}
	t.apply(o)
}

// startKill marks the start of the kill command.
func (t *trialState) startKill() {
	t.mu.Lock()
	t.killing = true
	t.mu.Unlock()
}

// kill sets the kill moment and replays the outcomes held meanwhile.
func (t *trialState) kill(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.killAt = at
	for _, o := range t.held {
		t.apply(o)
	}
	t.held = nil
}

func (t *trialState) apply(o outcome) {
	if t.killAt.IsZero() {
		if o.err != nil {
			t.lastErr = o.done
		} else {
			t.okSince[o.w] = o.done
		}
		return
	}
	if o.err != nil {
		if !o.done.Before(t.killAt) && (t.allOK.IsZero() || !o.done.After(t.allOK)) {
			t.errs[errorName(o.err)]++
			t.failed++
		}
		return
	}
	if o.issued.Before(t.killAt) {
		return
	}
	if t.firstOK.IsZero() || o.done.Before(t.firstOK) {
		t.firstOK = o.done
	}
	if !t.seen[o.w] {
		// A writer's outcomes arrive in order, so this is its first.
		t.seen[o.w] = true
		t.firstAt[o.w] = o.done
		t.remaining--
		if t.remaining == 0 {
			for _, at := range t.firstAt {
				if at.After(t.allOK) {
					t.allOK = at
				}
			}
			close(t.allDone)
		}
	}
}

// settled reports whether, since `since`, no write failed and every writer
// completed a write.
func (t *trialState) settled(since time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastErr.After(since) {
		return false
	}
	for _, ok := range t.okSince {
		if !ok.After(since) {
			return false
		}
	}
	return true
}

// RunFailover runs the failover trials.
func RunFailover(ctx context.Context, cfg FailoverConfig, log hclog.Logger) (*FailoverReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	rep := &FailoverReport{Servers: cfg.Servers, Writers: cfg.writers(), KillCmd: cfg.KillCmd,
		RestartCmd: cfg.RestartCmd, Started: time.Now().UTC(), Pinned: cfg.Pinned}
	if _, err := waitReady(ctx, cfg.Servers, true, cfg.Root+"/ready", cfg.ReadyTimeout, time.Now(), log); err != nil {
		return rep, err
	}
	for i := 1; i <= cfg.Trials; i++ {
		tr, err := runTrial(ctx, cfg, i, log)
		rep.Trials = append(rep.Trials, tr)
		if err != nil {
			return summarize(rep), err
		}
	}
	return summarize(rep), nil
}

func summarize(rep *FailoverReport) *FailoverReport {
	var windows, all []float64
	rep.Recovered = 0
	for _, t := range rep.Trials {
		if t.Recovered {
			rep.Recovered++
			windows = append(windows, t.WindowMs)
			if t.AllWritersMs > 0 {
				all = append(all, t.AllWritersMs)
			}
		}
	}
	rep.ConnectionLosses = 0
	for _, t := range rep.Trials {
		rep.ConnectionLosses += t.ConnectionLosses
	}
	rep.MedianWindowMs = median(windows)
	rep.MedianAllWritersMs = median(all)
	return rep
}

// runTrial: fresh writers, settle, kill, wait for writes to resume,
// restart, wait until every server serves writes.
func runTrial(ctx context.Context, cfg FailoverConfig, n int, log hclog.Logger) (FailoverTrial, error) {
	tr := FailoverTrial{Trial: n, Errors: map[string]int64{}}
	log = log.Named("failover").With("trial", n)
	nw := cfg.writers()
	st := newTrialState(nw)
	value := makeValue(cfg.ValueSize)

	var followers []string
	if cfg.Pinned {
		var err error
		if followers, err = currentFollowers(cfg.Servers); err != nil {
			tr.Error = err.Error()
			return tr, err
		}
	}
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	startErr := make(chan error, nw)
	for w := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cfg.Pinned {
				startErr <- runPinnedWriter(wctx, cfg, w, followers[w%len(followers)], value, st)
				return
			}
			startErr <- runWriter(wctx, cfg, w, value, st, log)
		}()
	}
	finish := func() {
		stopWriters()
		wg.Wait()
	}

	// Settle: writes must keep succeeding for cfg.Settle.
	deadline := time.Now().Add(cfg.ReadyTimeout)
	since := time.Now()
	for !st.settled(since) || time.Since(since) < cfg.Settle {
		if st.lastErrAfter(since) {
			since = time.Now()
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			finish()
			return tr, err
		}
		if time.Now().After(deadline) {
			finish()
			tr.Error = "writes never settled before the kill"
			return tr, fmt.Errorf("%w: trial %d: %s", ErrNotReady, n, tr.Error)
		}
		select {
		case err := <-startErr:
			if err != nil {
				finish()
				tr.Error = err.Error()
				return tr, err
			}
		default:
		}
	}

	// Kill.
	st.startKill()
	t0 := time.Now()
	out, err := runShell(ctx, cfg.KillCmd, cfg.CommandTimeout)
	killAt := time.Now()
	tr.KillCmdMs = float64(killAt.Sub(t0)) / 1e6
	tr.KillOutput, tr.KillAtFrom = out, "command exit"
	if at, rest, ok := ParseKilledAt(out); ok && !at.Before(t0.Add(-time.Second)) && !at.After(killAt) {
		killAt, tr.KillOutput, tr.KillAtFrom = at, rest, "command output"
	}
	if err != nil {
		finish()
		tr.Error = err.Error()
		return tr, err
	}
	st.kill(killAt)
	log.Info("killed", "output", out)

	timer := time.NewTimer(cfg.TrialTimeout)
	select {
	case <-st.allDone:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	finish()
	st.mu.Lock()
	if !st.firstOK.IsZero() {
		tr.Recovered = true
		tr.WindowMs = float64(st.firstOK.Sub(killAt)) / 1e6
	}
	if !st.allOK.IsZero() {
		tr.AllWritersMs = float64(st.allOK.Sub(killAt)) / 1e6
	}
	tr.FailedWrites = st.failed
	tr.ConnectionLosses = st.losses
	for k, v := range st.errs {
		tr.Errors[k] = v
	}
	st.mu.Unlock()
	if ctx.Err() != nil {
		return tr, context.Cause(ctx)
	}
	if !tr.Recovered {
		tr.Error = fmt.Sprintf("no write succeeded within %v of the kill", cfg.TrialTimeout)
		log.Warn(tr.Error)
	}

	// Between trials: restart and wait until every server serves writes.
	if cfg.RestartCmd != "" && n < cfg.Trials {
		r0 := time.Now()
		out, err := runShell(ctx, cfg.RestartCmd, cfg.CommandTimeout)
		tr.RestartOutput = out
		if err != nil {
			tr.Error = err.Error()
			return tr, err
		}
		if _, err := waitReady(ctx, cfg.Servers, true, cfg.Root+"/ready", cfg.ReadyTimeout, r0, log); err != nil {
			tr.Error = err.Error()
			return tr, err
		}
		tr.ReadyMs = float64(time.Since(r0)) / 1e6
	}
	if !tr.Recovered {
		return tr, fmt.Errorf("%w: trial %d", ErrNoRecovery, n)
	}
	return tr, nil
}

func (t *trialState) lastErrAfter(since time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr.After(since)
}

// runWriter keeps setting its own znode until ctx ends, reporting every
// outcome. It connects through pollingHosts, starting on its own server.
func runWriter(ctx context.Context, cfg FailoverConfig, w int, value []byte, st *trialState, log hclog.Logger) error {
	dctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	conn, stop, err := dialPolling(dctx, rotate(cfg.Servers, w), cfg.SessionTimeout, log)
	cancel()
	if err != nil {
		return err
	}
	defer func() { stop() }() // stop is replaced when the session is renewed
	path := fmt.Sprintf("%s/w-%d", cfg.Root, w)
	if err := ensurePath(conn, path); err != nil {
		return err
	}
	for ctx.Err() == nil {
		over, err := setOnce(ctx, conn, path, value, w, st)
		if over {
			return nil
		}
		if errors.Is(err, zk.ErrSessionExpired) {
			stop()
			dctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
			c, s, derr := dialPolling(dctx, rotate(cfg.Servers, w), cfg.SessionTimeout, log)
			cancel()
			if derr != nil {
				stop = func() {}
				return nil
			}
			conn, stop = c, s
		} else if err != nil {
			// Errors that return at once (no server yet) must not spin.
			_ = sleepCtx(ctx, time.Millisecond)
		}
	}
	return nil
}

// setOnce writes a writer's znode once and records the outcome; over is
// true when the trial ended meanwhile (a write cut short by the end of the
// trial is no outcome).
func setOnce(ctx context.Context, conn *zk.Conn, path string, value []byte, w int, st *trialState) (over bool, err error) {
	issued := time.Now()
	_, err = conn.Set(path, value, -1)
	done := time.Now()
	if ctx.Err() != nil {
		return true, nil
	}
	st.record(w, issued, done, err)
	return false, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// KilledAtPrefix starts the line a kill command may print, just before it
// kills, to give the kill moment precisely: "killed-at-unix-ns: <ns>".
const KilledAtPrefix = "killed-at-unix-ns:"

// ParseKilledAt finds the last KilledAtPrefix line in a kill command's
// output. It returns the moment, the output without those lines, and
// whether a valid line was found.
func ParseKilledAt(out string) (time.Time, string, bool) {
	var at time.Time
	found := false
	var rest []string
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(t, KilledAtPrefix); ok {
			ns, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && ns > 0 {
				at, found = time.Unix(0, ns), true
				continue
			}
		}
		if t != "" {
			rest = append(rest, t)
		}
	}
	return at, strings.Join(rest, "\n"), found
}
