package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// pollInterval is how often a probe or failover writer retries servers.
const pollInterval = 20 * time.Millisecond

// pollingHosts is a zk.HostProvider for probes and failover writers: it
// tries the servers in order and, after a full cycle without a connection,
// waits pollInterval instead of go-zk's fixed one-second pause. It never
// reports retryStart, so requests queued while disconnected wait for the
// next connection instead of failing with ErrNoServer (until quit is
// closed, which must happen before the connection is closed). Timings measured
// through it are therefore bounded by the servers, not by client back-off.
type pollingHosts struct {
	mu      sync.Mutex
	servers []string
	curr    int
	tried   int // servers tried since the last connection
	quit    <-chan struct{}
}

func newPollingHosts(servers []string, quit <-chan struct{}) *pollingHosts {
	return &pollingHosts{servers: append([]string(nil), servers...), curr: -1, quit: quit}
}

func (h *pollingHosts) Init([]string) error {
	if len(h.servers) == 0 {
		return errors.New("zk: server list must not be empty")
	}
	return nil
}

func (h *pollingHosts) Len() int { return len(h.servers) }

func (h *pollingHosts) Next() (string, bool) {
	select {
	case <-h.quit:
		// Closing: let go-zk's retry branch see its quit signal and stop.
		return h.servers[0], true
	default:
	}
	h.mu.Lock()
	pause := h.tried >= len(h.servers)
	if pause {
		h.tried = 0
	}
	h.tried++
	h.curr = (h.curr + 1) % len(h.servers)
	s := h.servers[h.curr]
	h.mu.Unlock()
	if pause {
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
		case <-h.quit:
			t.Stop()
		}
	}
	return s, false
}

func (h *pollingHosts) Connected() {
	h.mu.Lock()
	h.tried = 0
	h.mu.Unlock()
}

// dialPolling opens a session through pollingHosts. The returned stop
// function closes it; it must be called.
func dialPolling(ctx context.Context, servers []string, timeout time.Duration, log hclog.Logger) (*zk.Conn, func(), error) {
	quit := make(chan struct{})
	ready := make(chan struct{})
	var once sync.Once
	conn, _, err := zk.Connect(servers, timeout,
		zk.WithHostProvider(newPollingHosts(servers, quit)),
		zk.WithDialer(dialClamped),
		zk.WithLogger(zkLogger{log.Named("zk")}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
				once.Do(func() { close(ready) })
			}
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			close(quit)
			conn.Close()
		})
	}
	select {
	case <-ready:
		return conn, stop, nil
	case <-ctx.Done():
		stop()
		return nil, nil, fmt.Errorf("%w: %v", ErrConnect, context.Cause(ctx))
	}
}

// ProbeResult is when one server first answered.
type ProbeResult struct {
	Server string  `json:"server"`
	Ms     float64 `json:"ms"` // since the start of the wait (or SinceUnixNano)
	Err    string  `json:"error,omitempty"`
}

// waitReady polls every server, each through a session pinned to it, until
// it answers a read of "/" (and with write, a setData of root). since is the
// moment elapsed times are measured from.
func waitReady(ctx context.Context, servers []string, write bool, root string, timeout time.Duration, since time.Time, log hclog.Logger) ([]ProbeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := make([]ProbeResult, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = ProbeResult{Server: srv}
			if err := probeServer(ctx, srv, write, root, log); err != nil {
				res[i].Err = err.Error()
				return
			}
			res[i].Ms = float64(time.Since(since)) / 1e6
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range res {
		if r.Err != "" {
			errs = append(errs, fmt.Errorf("%w: %s: %s", ErrNotReady, r.Server, r.Err))
		}
	}
	return res, errors.Join(errs...)
}

// probeServer returns once srv answers (or ctx ends).
func probeServer(ctx context.Context, srv string, write bool, root string, log hclog.Logger) error {
	conn, stop, err := dialPolling(ctx, []string{srv}, 10*time.Second, log)
	if err != nil {
		return err
	}
	defer stop()
	var last error
	for {
		if last = probeOnce(conn, write, root); last == nil {
			return nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%v (last error: %v)", context.Cause(ctx), last)
		}
	}
}

func probeOnce(conn *zk.Conn, write bool, root string) error {
	if _, _, err := conn.Get("/"); err != nil {
		return err
	}
	if !write {
		return nil
	}
	_, err := conn.Set(root, []byte("ready"), -1)
	if errors.Is(err, zk.ErrNoNode) {
		if err = ensurePath(conn, root); err == nil {
			_, err = conn.Set(root, []byte("ready"), -1)
		}
	}
	return err
}
