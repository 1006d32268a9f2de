package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// hostList is a zk.HostProvider that keeps the caller's order instead of
// go-zk's shuffle: a session starts on servers[0] and moves on only when
// that server fails, so sessions can be spread round-robin on purpose.
type hostList struct {
	mu         sync.Mutex
	servers    []string
	curr, last int
}

func newHostList(servers []string) *hostList {
	return &hostList{servers: append([]string(nil), servers...), curr: -1, last: -1}
}

// Init ignores go-zk's shuffled copy of the list and keeps our own order.
func (h *hostList) Init([]string) error {
	if len(h.servers) == 0 {
		return errors.New("zk: server list must not be empty")
	}
	return nil
}

func (h *hostList) Len() int { return len(h.servers) }

// Next returns the next server; retryStart is true once every server has
// been tried since the last successful connection.
func (h *hostList) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

func (h *hostList) Connected() {
	h.mu.Lock()
	h.last = h.curr
	h.mu.Unlock()
}

// rotate returns servers starting with servers[i % len(servers)].
func rotate(servers []string, i int) []string {
	n := len(servers)
	out := make([]string, 0, n)
	for k := 0; k < n; k++ {
		out = append(out, servers[(i+k)%n])
	}
	return out
}

// zkLogger feeds go-zk's log lines into hclog at debug level.
type zkLogger struct{ l hclog.Logger }

func (z zkLogger) Printf(format string, args ...any) { z.l.Debug(fmt.Sprintf(format, args...)) }

// newLogger returns the package's hclog logger writing to w.
func newLogger(w interface{ Write([]byte) (int, error) }, level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "bench", Output: w, Level: hclog.LevelFromString(level)})
}

// session is one established client session.
type session struct {
	conn   *zk.Conn
	server string // the server it was first connected to
}

// dialSession opens a session that tries servers in the given order and
// returns once the session is established (or ctx ends).
func dialSession(ctx context.Context, servers []string, timeout time.Duration, log hclog.Logger) (*session, error) {
	ready := make(chan struct{})
	var once sync.Once
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
			once.Do(func() { close(ready) })
		}
	}
	conn, _, err := zk.Connect(servers, timeout,
		zk.WithHostProvider(newHostList(servers)),
		zk.WithDialer(dialClamped),
		zk.WithLogger(zkLogger{log.Named("zk")}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(cb),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	select {
	case <-ready:
		return &session{conn: conn, server: conn.Server()}, nil
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("%w: to %s: %v", ErrConnect, strings.Join(servers, ","), context.Cause(ctx))
	}
}

// dialSessions opens n sessions, session i starting on servers[i % len].
// On failure it closes what it opened.
func dialSessions(ctx context.Context, servers []string, n int, timeout, connectTimeout time.Duration, log hclog.Logger) ([]*session, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	out := make([]*session, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = dialSession(ctx, rotate(servers, i), timeout, log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeSessions(out)
		return nil, err
	}
	return out, nil
}

func closeSessions(ss []*session) {
	var wg sync.WaitGroup
	for _, s := range ss {
		if s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.conn.Close() }()
		}
	}
	wg.Wait()
}

// ensurePath creates every missing znode on the way to p (inclusive).
func ensurePath(conn *zk.Conn, p string) error {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("%w: create %s: %v", ErrPrepare, cur, err)
		}
	}
	return nil
}

// knownErrors names the errors a client can see, for the error tables.
var knownErrors = []struct {
	err  error
	name string
}{
	{zk.ErrConnectionClosed, "connection_closed"},
	{zk.ErrNoServer, "no_server"},
	{zk.ErrSessionExpired, "session_expired"},
	{zk.ErrSessionMoved, "session_moved"},
	{zk.ErrClosing, "closing"},
	{zk.ErrNoNode, "no_node"},
	{zk.ErrNodeExists, "node_exists"},
	{zk.ErrBadVersion, "bad_version"},
	{zk.ErrNotEmpty, "not_empty"},
	{zk.ErrNoAuth, "no_auth"},
	{zk.ErrAPIError, "api_error"},
	{zk.ErrUnknown, "unknown"},
	{zk.ErrInvalidACL, "invalid_acl"},
	{zk.ErrBadArguments, "bad_arguments"},
	{ErrWatchTimeout, "watch_timeout"},
	{errUnexpectedEvent, "unexpected_watch_event"},
	{ErrConnect, "connect_failed"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{context.Canceled, "canceled"},
	{os.ErrDeadlineExceeded, "io_timeout"},
}

// errorName returns a short stable name for err.
func errorName(err error) string {
	for _, k := range knownErrors {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return err.Error()
}

// makeValue returns n bytes of printable filler.
func makeValue(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}

// handshakeTimeout bounds how long a connection may stay silent before the
// server's first byte. go-zk waits up to ten times its receive timeout for
// the connect response; a server that accepts connections while it is
// still starting (or electing) may never answer, which would stall a probe
// for a minute. Once the first byte arrives, go-zk's own deadlines apply.
const handshakeTimeout = 2 * time.Second

// dialClamped is a zk.Dialer whose connections clamp read deadlines to
// handshakeTimeout until the server has sent something.
func dialClamped(network, address string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &clampedConn{Conn: c}, nil
}

type clampedConn struct {
	net.Conn
	heard atomic.Bool
}

func (c *clampedConn) SetReadDeadline(t time.Time) error {
	if !c.heard.Load() {
		if limit := time.Now().Add(handshakeTimeout); t.IsZero() || t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *clampedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.heard.Load() {
		c.heard.Store(true)
		_ = c.Conn.SetReadDeadline(time.Time{}) // go-zk set none for what follows
	}
	return n, err
}
