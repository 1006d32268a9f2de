package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// errUnexpectedEvent is a watch that fired for another reason than the write
// (for example EventNotWatching after a disconnect).
var errUnexpectedEvent = errors.New("unexpected_watch_event")

// runWatch is watch mode. Each round, every watcher session arms a data
// watch on one znode (getData with watch), then the writer session sets the
// znode, and every watcher measures the time from just before the write was
// issued until its notification arrived. Rounds run one after another until
// Rounds measured rounds, Duration, Ops notifications or ctx end the run.
func runWatch(ctx context.Context, cfg Config, progress io.Writer, log hclog.Logger) (*Report, error) {
	// Watchers are sessions 0..W-1, the writer is session W: all spread
	// round-robin over the servers.
	ss, err := dialSessions(ctx, cfg.Servers, cfg.Sessions+1, cfg.SessionTimeout, cfg.ConnectTimeout, log)
	if err != nil {
		return nil, err
	}
	defer closeSessions(ss)
	watchers, writer := ss[:cfg.Sessions], ss[cfg.Sessions]
	value := makeValue(cfg.ValueSize)
	path := fmt.Sprintf("%s/watch/%s", cfg.Root, newRunID())
	if err := ensurePath(writer.conn, path); err != nil {
		return nil, err
	}
	defer func() { _ = writer.conn.Delete(path, -1) }()

	wstats := make([]*stats, len(watchers))
	for i := range wstats {
		wstats[i] = newStats()
	}
	writerStats := newStats()
	var done, failed atomic.Int64

	warmEnd := time.Now().Add(cfg.Warmup)
	var started time.Time
	measuring := false
	rounds := 0
	var deadline time.Time
	p := (*progressLine)(nil)
	lastTick := time.Now()
	interrupted := false

	for {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		if !measuring && !time.Now().Before(warmEnd) {
			measuring = true
			started = time.Now()
			if cfg.Duration > 0 {
				deadline = started.Add(cfg.Duration)
			}
			p = newProgressLine(progress, started)
			lastTick = started
		}
		if measuring {
			if (cfg.Rounds > 0 && rounds >= cfg.Rounds) ||
				(!deadline.IsZero() && !time.Now().Before(deadline)) ||
				(cfg.Ops > 0 && done.Load() >= cfg.Ops) {
				break
			}
		}
		watchRound(ctx, cfg, watchers, writer, path, value, measuring, wstats, writerStats, &done, &failed)
		if measuring {
			rounds++
			if time.Since(lastTick) >= time.Second {
				p.update(done.Load(), failed.Load())
				lastTick = time.Now()
			}
		}
	}
	if p != nil {
		p.end()
	}
	if started.IsZero() {
		started = time.Now()
	}
	elapsed := time.Since(started)
	merged := newStats()
	merged.merge(writerStats)
	for _, st := range wstats {
		merged.merge(st)
	}
	rep := baseReport(cfg, started, elapsed, interrupted)
	rep.Rounds = rounds
	rep.Ops, rep.Total, rep.Errors = opStatsFrom(merged, elapsed)
	log.Debug("watch run done", "rounds", rounds, "path", path)
	return rep, nil
}

// watchRound arms every watcher, writes once, and collects the notifications.
func watchRound(ctx context.Context, cfg Config, watchers []*session, writer *session, path string, value []byte,
	measured bool, wstats []*stats, writerStats *stats, done, failed *atomic.Int64) {
	account := func(err error) {
		if measured {
			done.Add(1)
			if err != nil {
				failed.Add(1)
			}
		}
	}
	chans := make([]<-chan zk.Event, len(watchers))
	var wg sync.WaitGroup
	for i, w := range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, _, ch, err := w.conn.GetW(path)
			end := time.Now()
			if measured {
				if err != nil {
					wstats[i].fail(opArm, err, end)
				} else {
					wstats[i].ok(opArm, start, end)
				}
			}
			chans[i] = ch
		}()
	}
	wg.Wait()

	wrote := time.Now()
	_, err := writer.conn.Set(path, value, -1)
	end := time.Now()
	if measured {
		if err != nil {
			writerStats.fail(opSet, err, end)
		} else {
			writerStats.ok(opSet, wrote, end)
		}
	}
	if err != nil {
		return // no notification to wait for; armed watches fire next round
	}

	for i := range watchers {
		if chans[i] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(cfg.WatchTimeout)
			defer t.Stop()
			var err error
			var at time.Time
			select {
			case ev := <-chans[i]:
				at = time.Now()
				if ev.Type != zk.EventNodeDataChanged {
					err = fmt.Errorf("%w: %v %v", errUnexpectedEvent, ev.Type, ev.Err)
				}
			case <-t.C:
				at, err = time.Now(), ErrWatchTimeout
			case <-ctx.Done():
				return
			}
			account(err)
			if !measured {
				return
			}
			if err != nil {
				wstats[i].fail(opNotify, err, at)
			} else {
				wstats[i].ok(opNotify, wrote, at)
			}
		}()
	}
	wg.Wait()
}
