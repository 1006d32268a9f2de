package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPopulateCreatesEveryZnodeUnderBuckets(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	cfg := DefaultPopulateConfig()
	cfg.Servers = []string{addr}
	cfg.Count = 2500
	cfg.Fanout = 1000
	cfg.Sessions = 2
	cfg.Outstanding = 16
	cfg.Root = "/bench-test-populate"
	rep, err := Populate(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 2500 || rep.Existing != 0 || len(rep.Errors) != 0 {
		t.Fatalf("report %+v, want 2500 created", rep)
	}
	s, err := dialSession(context.Background(), []string{addr}, 10*time.Second, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	buckets, _, err := s.conn.Children(cfg.Root)
	if err != nil || len(buckets) != 3 {
		t.Fatalf("buckets %v (%v), want 3", buckets, err)
	}
	total := 0
	for _, b := range buckets {
		kids, _, err := s.conn.Children(cfg.Root + "/" + b)
		if err != nil {
			t.Fatal(err)
		}
		total += len(kids)
	}
	if total != 2500 {
		t.Fatalf("%d znodes under the buckets, want 2500", total)
	}
	data, _, err := s.conn.Get(cfg.Root + "/b-0002/n-000499")
	if err != nil || len(data) != cfg.ValueSize {
		t.Fatalf("last znode: %d bytes (%v)", len(data), err)
	}
	// Populating again finds everything there.
	rep, err = Populate(context.Background(), cfg, testLogger(t))
	if err != nil || rep.Existing != 2500 || rep.Created != 0 {
		t.Fatalf("second populate: %+v (%v), want 2500 existing", rep, err)
	}
}

func TestWaitSucceedsOnALiveServerAndTimesOutOnADeadOne(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	cfg := DefaultWaitConfig()
	cfg.Servers = []string{addr}
	cfg.Write = true
	cfg.Root = "/bench-test-wait"
	since := time.Now().Add(-time.Second)
	cfg.SinceUnixNano = since.UnixNano()
	rep, err := Wait(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.ReadyMs < 1000 {
		t.Fatalf("ready %.1f ms after a moment 1 s ago", rep.ReadyMs)
	}

	dead := DefaultWaitConfig()
	dead.Servers = []string{fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	dead.Timeout = 300 * time.Millisecond
	_, err = Wait(context.Background(), dead, testLogger(t))
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("dead server: err = %v, want ErrNotReady", err)
	}
}

// A server that starts late is found by polling, even though it accepts
// connections before it can answer them (see handshakeTimeout).
func TestWaitFindsAServerThatStartsLate(t *testing.T) {
	t.Parallel()
	requireZooKeeper(t)
	port := freePort(t)
	cfg := DefaultWaitConfig()
	cfg.Servers = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	cfg.Timeout = 60 * time.Second
	type result struct {
		rep *WaitReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Wait(context.Background(), cfg, nil)
		done <- result{rep, err}
	}()
	p := startZK(t, t.TempDir(), port, "")
	defer p.stop()
	r := <-done
	if r.err != nil {
		b, _ := os.ReadFile(p.log)
		t.Fatalf("wait: %v\n%s", r.err, b)
	}
	if r.rep.Servers[0].Err != "" || r.rep.ReadyMs <= 0 {
		t.Fatalf("report %+v", r.rep)
	}
}

func TestFsyncMeasuresSyncs(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultFsyncConfig()
	cfg.Dir = dir
	cfg.Duration = 200 * time.Millisecond
	rep, err := Fsync(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Syncs == 0 || rep.PerSecond <= 0 || rep.Latency.P50 <= 0 {
		t.Fatalf("report %+v", rep)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 0 {
		t.Fatalf("probe file left behind: %v", left)
	}
}
