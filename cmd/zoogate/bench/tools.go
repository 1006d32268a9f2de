package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// PopulateReport is the result of `zoogate bench populate`.
type PopulateReport struct {
	Servers        []string         `json:"servers"`
	Count          int              `json:"count"`
	ValueSize      int              `json:"value_size"`
	Created        int64            `json:"created"`
	Existing       int64            `json:"existing"`
	Errors         map[string]int64 `json:"errors"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	PerSecond      float64          `json:"per_second"`
}

// Populate creates cfg.Count znodes (Root/b-NNNN/n-NNNNNN), pipelined.
// Existing znodes are counted, not failed, so a populate can be resumed.
func Populate(ctx context.Context, cfg PopulateConfig, log hclog.Logger) (*PopulateReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ss, err := dialSessions(ctx, cfg.Servers, cfg.Sessions, cfg.SessionTimeout, 30*time.Second, log)
	if err != nil {
		return nil, err
	}
	defer closeSessions(ss)
	rep := &PopulateReport{Servers: cfg.Servers, Count: cfg.Count, ValueSize: cfg.ValueSize, Errors: map[string]int64{}}
	start := time.Now()
	if err := ensurePath(ss[0].conn, cfg.Root); err != nil {
		return nil, err
	}
	buckets := (cfg.Count + cfg.Fanout - 1) / cfg.Fanout
	value := makeValue(cfg.ValueSize)
	acl := zk.WorldACL(zk.PermAll)
	var created, existing atomic.Int64
	var mu sync.Mutex
	var firstErr error
	run := func(n int, path func(int) string, data []byte) {
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < cfg.Sessions*cfg.Outstanding; w++ {
			conn := ss[w%len(ss)].conn
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					_, err := conn.Create(path(i), data, 0, acl)
					switch {
					case err == nil:
						created.Add(1)
					case errors.Is(err, zk.ErrNodeExists):
						existing.Add(1)
					default:
						mu.Lock()
						rep.Errors[errorName(err)]++
						if firstErr == nil {
							firstErr = fmt.Errorf("%w: %s: %v", ErrPrepare, path(i), err)
						}
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < n && ctx.Err() == nil; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	bucket := func(i int) string { return fmt.Sprintf("%s/b-%04d", cfg.Root, i) }
	run(buckets, bucket, nil)
	created.Store(0)
	existing.Store(0)
	run(cfg.Count, func(i int) string {
		return fmt.Sprintf("%s/n-%06d", bucket(i/cfg.Fanout), i%cfg.Fanout)
	}, value)
	elapsed := time.Since(start)
	rep.Created, rep.Existing = created.Load(), existing.Load()
	rep.ElapsedSeconds = elapsed.Seconds()
	rep.PerSecond = float64(rep.Created+rep.Existing) / elapsed.Seconds()
	if ctx.Err() != nil {
		return rep, context.Cause(ctx)
	}
	return rep, firstErr
}

// WaitReport is the result of `zoogate bench wait`.
type WaitReport struct {
	Servers []ProbeResult `json:"servers"`
	// ReadyMs is when the last server answered, since the start (or
	// --since-unix-nano).
	ReadyMs float64 `json:"ready_ms"`
	Write   bool    `json:"write"`
}

// Wait polls until every server answers (see WaitConfig).
func Wait(ctx context.Context, cfg WaitConfig, log hclog.Logger) (*WaitReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	since := time.Now()
	if cfg.SinceUnixNano > 0 {
		since = time.Unix(0, cfg.SinceUnixNano)
	}
	// The timeout counts from now: --since may lie in the past.
	res, err := waitReady(ctx, cfg.Servers, cfg.Write, cfg.Root, cfg.Timeout, since, log)
	rep := &WaitReport{Servers: res, Write: cfg.Write}
	for _, r := range res {
		rep.ReadyMs = max(rep.ReadyMs, r.Ms)
	}
	return rep, err
}

// FsyncReport is the result of `zoogate bench fsync`.
type FsyncReport struct {
	Dir       string    `json:"dir"`
	BlockSize int       `json:"block_size"`
	Syncs     int64     `json:"syncs"`
	PerSecond float64   `json:"per_second"`
	Latency   LatencyMs `json:"latency"`
	Method    string    `json:"method"`
}

// fsyncFileSize is the preallocated size of the probe file: writes stay
// inside it, so each sync flushes data, not a growing file's size.
const fsyncFileSize = 64 << 20

// Fsync measures the raw sync-write rate of the disk holding cfg.Dir.
func Fsync(ctx context.Context, cfg FsyncConfig) (*FsyncReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(cfg.Dir, "zoogate-fsync-*.probe")
	if err != nil {
		return nil, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	if err := preallocate(f, fsyncFileSize); err != nil {
		return nil, err
	}
	block := makeValue(cfg.BlockSize)
	h := NewHistogram()
	var off int64
	start := time.Now()
	for time.Since(start) < cfg.Duration && ctx.Err() == nil {
		t0 := time.Now()
		if _, err := f.WriteAt(block, off); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		h.RecordDuration(time.Since(t0))
		off = (off + int64(cfg.BlockSize)) % (fsyncFileSize - int64(cfg.BlockSize))
	}
	elapsed := time.Since(start)
	abs, _ := filepath.Abs(cfg.Dir)
	return &FsyncReport{
		Dir: abs, BlockSize: cfg.BlockSize, Syncs: int64(h.Count()),
		PerSecond: float64(h.Count()) / elapsed.Seconds(),
		Latency:   makeOpStats("fsync", h, 0, elapsed.Seconds()).Latency,
		Method:    fmt.Sprintf("Go helper: pwrite %d B into a preallocated 64 MiB file + fsync, repeated for %v", cfg.BlockSize, cfg.Duration),
	}, nil
}

func preallocate(f *os.File, size int64) error {
	zero := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero, off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// runShell runs cmd with /bin/sh -c and returns its trimmed output.
func runShell(ctx context.Context, cmd string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	// A command that leaves a server running in the background may keep
	// our pipe open; do not wait for it after the shell exits.
	c.WaitDelay = 2 * time.Second
	out, err := c.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return text, fmt.Errorf("%w: %q: %v: %s", ErrCommand, cmd, err, text)
	}
	return text, nil
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
