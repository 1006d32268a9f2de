package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Run executes a load-generator run and returns its report. progress, if
// not nil, receives a status line once a second. Cancelling ctx ends the
// measured phase early; the report then says it was interrupted.
func Run(ctx context.Context, cfg Config, progress io.Writer, log hclog.Logger) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.Mode != ModeMixed {
		cfg.Client = ClientGoZK // the only client of the other modes
	}
	if cfg.Mode == ModeWatch {
		return runWatch(ctx, cfg, progress, log)
	}
	value := makeValue(cfg.ValueSize)
	runID := newRunID()

	// Sessions: long-lived ones for mixed and create-delete; in ephemeral
	// mode one setup session only, the workers churn their own.
	nLive := cfg.Sessions
	if cfg.Mode == ModeEphemeral || cfg.Client == ClientRaw {
		nLive = 1
	}
	live, err := dialSessions(ctx, cfg.Servers, nLive, cfg.SessionTimeout, cfg.ConnectTimeout, log)
	if err != nil {
		return nil, err
	}
	defer closeSessions(live)

	ss := live
	switch cfg.Mode {
	case ModeMixed:
		if err := prepareKeys(ctx, live, cfg, value); err != nil {
			return nil, err
		}
		if cfg.Client == ClientRaw {
			return runRaw(ctx, cfg, value, progress, log)
		}
	case ModeCreateDelete:
		if err := ensurePath(live[0].conn, cfg.Root+"/cd"); err != nil {
			return nil, err
		}
	case ModeEphemeral:
		if err := ensurePath(live[0].conn, cfg.Root+"/eph"); err != nil {
			return nil, err
		}
		ss = make([]*session, cfg.Sessions)
	}
	workers := newWorkers(cfg, ss, value, runID, log)
	log.Debug("workers ready", "mode", cfg.Mode, "workers", len(workers), "run", runID)

	ph := newPhase(cfg.Ops)
	all := make([]*stats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		st := newStats()
		all[i] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.cleanup()
			for {
				ok, measured := ph.admit()
				if !ok {
					return
				}
				op, start, err := w.step(ctx)
				end := time.Now()
				ph.finish(measured, err)
				if !measured {
					continue
				}
				if err != nil {
					st.fail(op, err, end)
				} else {
					st.ok(op, start, end)
				}
			}
		}()
	}

	return measure(ctx, cfg, ph, progress, &wg, all), nil
}

// measure drives the phases of a run whose workers (counted by wg, each
// recording into one of all) are started, waits for them once the phase
// stops, and builds the report.
func measure(ctx context.Context, cfg Config, ph *phase, progress io.Writer, wg *sync.WaitGroup, all []*stats) *Report {
	started, elapsed, interrupted := drivePhases(ctx, cfg, ph, progress)
	ph.stopped.Store(true)
	wg.Wait()

	merged := newStats()
	for _, st := range all {
		merged.merge(st)
	}
	if !merged.lastEnd.IsZero() && merged.lastEnd.After(started.Add(elapsed)) {
		elapsed = merged.lastEnd.Sub(started) // include operations still in flight at the end
	}
	rep := baseReport(cfg, started, elapsed, interrupted)
	rep.Ops, rep.Total, rep.Errors = opStatsFrom(merged, elapsed)
	return rep
}

// drivePhases runs the warm-up, then the measured phase until its bound,
// printing progress. It returns when measuring started and how long it ran.
func drivePhases(ctx context.Context, cfg Config, ph *phase, progress io.Writer) (time.Time, time.Duration, bool) {
	if cfg.Warmup > 0 {
		t := time.NewTimer(cfg.Warmup)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	started := time.Now()
	ph.measuring.Store(true)
	if ctx.Err() != nil {
		return started, 0, true
	}
	var deadline <-chan time.Time
	if cfg.Duration > 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	p := newProgressLine(progress, started)
	defer p.end()
	for {
		select {
		case <-deadline:
			return started, time.Since(started), false
		case <-ph.exhausted:
			return started, time.Since(started), false
		case <-ctx.Done():
			return started, time.Since(started), true
		case <-tick.C:
			p.update(ph.done.Load(), ph.failed.Load())
		}
	}
}

func baseReport(cfg Config, started time.Time, elapsed time.Duration, interrupted bool) *Report {
	return &Report{
		Mode:           cfg.Mode,
		Client:         cfg.Client,
		Servers:        cfg.Servers,
		Sessions:       cfg.Sessions,
		Outstanding:    cfg.Outstanding,
		ReadRatio:      cfg.ReadRatio,
		ValueSize:      cfg.ValueSize,
		Keys:           cfg.Keys,
		Seed:           cfg.Seed,
		Started:        started.UTC(),
		WarmupSeconds:  cfg.Warmup.Seconds(),
		ElapsedSeconds: elapsed.Seconds(),
		Interrupted:    interrupted,
	}
}

// newRunID returns a short random id that keeps concurrent runs' znodes apart.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// progressLine prints "[12s] 34567 ops/s (total 123456, errors 0)".
type progressLine struct {
	w        io.Writer
	start    time.Time
	lastDone int64
	lastAt   time.Time
	tty      bool
	printed  bool
}

func newProgressLine(w io.Writer, start time.Time) *progressLine {
	return &progressLine{w: w, start: start, lastAt: start, tty: isTerminal(w)}
}

func (p *progressLine) update(done, failed int64) {
	if p.w == nil {
		return
	}
	now := time.Now()
	rate := float64(done-p.lastDone) / now.Sub(p.lastAt).Seconds()
	p.lastDone, p.lastAt = done, now
	line := fmt.Sprintf("[%3.0fs] %8.0f ops/s  (total %d, errors %d)", now.Sub(p.start).Seconds(), rate, done, failed)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-70s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.printed = true
}

func (p *progressLine) end() {
	if p.w != nil && p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}
