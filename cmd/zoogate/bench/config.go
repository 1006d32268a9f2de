package bench

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Mode is the workload the load generator runs.
type Mode string

// The workloads.
const (
	// ModeMixed reads (getData) and overwrites (setData) a fixed set of keys,
	// a fraction ReadRatio of the operations being reads.
	ModeMixed Mode = "mixed"
	// ModeCreateDelete creates a persistent znode and deletes it again.
	ModeCreateDelete Mode = "create-delete"
	// ModeEphemeral churns sessions: open a session, create an ephemeral
	// znode, close the session (which deletes the znode). It measures session
	// establishment and session close, which are transactions in ZooKeeper.
	ModeEphemeral Mode = "ephemeral"
	// ModeWatch has Sessions watcher sessions keep a data watch on one znode
	// that one more writer session sets; it measures write-to-notification
	// latency, once per watcher per round.
	ModeWatch Mode = "watch"
)

// Client is the client implementation of the measured loop.
type Client string

// The clients.
const (
	// ClientRaw is the built-in pipelined raw-protocol client (mixed mode
	// only): one goroutine and one socket per session.
	ClientRaw Client = "raw"
	// ClientGoZK is github.com/go-zookeeper/zk, one goroutine per request in
	// flight.
	ClientGoZK Client = "go-zk"
)

// Modes lists the valid workloads.
var Modes = []Mode{ModeMixed, ModeCreateDelete, ModeEphemeral, ModeWatch}

// MaxValueSize is the largest --value-size accepted: ZooKeeper's default
// jute.maxbuffer (1 MiB - 1) less room for the request's other fields.
const MaxValueSize = 1<<20 - 4096

// Config is a load-generator run.
type Config struct {
	// Servers are host:port client addresses. Session i starts on
	// Servers[i % len(Servers)] and moves to the next one only if that
	// server fails.
	Servers []string
	// Sessions is the number of client sessions (watchers in watch mode).
	Sessions int
	// Outstanding is the number of requests each session keeps in flight
	// (goroutines sharing the session's connection).
	Outstanding int
	// ReadRatio is the fraction of reads in ModeMixed, in [0, 1].
	ReadRatio float64
	// ValueSize is the size in bytes of every value written.
	ValueSize int
	// Keys is the number of znodes ModeMixed reads and writes.
	Keys int
	// Mode is the workload.
	Mode Mode
	// Client runs the measured loop of ModeMixed: ClientRaw or ClientGoZK.
	// Setup (creating the keys) and every other mode always use
	// go-zookeeper, whatever Client says.
	Client Client
	// Duration bounds the measured phase in time (0: unbounded).
	Duration time.Duration
	// Ops bounds the measured phase in operations (0: unbounded). At least
	// one of Duration and Ops must be set; the run stops at the first bound.
	Ops int64
	// Warmup runs the workload unmeasured before the measured phase.
	Warmup time.Duration
	// Rounds bounds the measured rounds of ModeWatch (0: only Duration/Ops).
	Rounds int
	// WatchTimeout is how long a watcher waits for a notification.
	WatchTimeout time.Duration
	// Root is the znode under which the run creates everything.
	Root string
	// SessionTimeout is the session timeout requested from the servers.
	SessionTimeout time.Duration
	// ConnectTimeout bounds the time to establish all sessions.
	ConnectTimeout time.Duration
	// Seed seeds key and operation choice (0: chosen from the clock and
	// printed in the report, so a run can be replayed).
	Seed int64
	// JSON prints the report as JSON instead of text.
	JSON bool
	// Progress forces the once-a-second progress line on stderr even when
	// stderr is not a terminal.
	Progress bool
	// LogLevel is the hclog level of diagnostics on stderr.
	LogLevel string
}

// DefaultConfig returns the defaults of `zoogate bench`.
func DefaultConfig() Config {
	return Config{
		Servers:        []string{"127.0.0.1:2181"},
		Sessions:       16,
		Outstanding:    4,
		ReadRatio:      0.9,
		ValueSize:      100,
		Keys:           1000,
		Mode:           ModeMixed,
		Client:         ClientRaw,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Rounds:         1000,
		WatchTimeout:   10 * time.Second,
		Root:           "/zoogate-bench",
		SessionTimeout: 10 * time.Second,
		ConnectTimeout: 30 * time.Second,
		LogLevel:       "warn",
	}
}

// Validate reports every problem at once, each naming its option.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, validateServers(c.Servers)...)
	if c.Sessions < 1 {
		bad("sessions", "must be at least 1, got %d", c.Sessions)
	}
	if c.Outstanding < 1 {
		bad("outstanding", "must be at least 1, got %d", c.Outstanding)
	}
	if c.ReadRatio < 0 || c.ReadRatio > 1 || c.ReadRatio != c.ReadRatio {
		bad("read-ratio", "must be within [0, 1], got %v", c.ReadRatio)
	}
	if c.ValueSize < 0 || c.ValueSize > MaxValueSize {
		bad("value-size", "must be within [0, %d], got %d", MaxValueSize, c.ValueSize)
	}
	if c.Keys < 1 {
		bad("keys", "must be at least 1, got %d", c.Keys)
	}
	if !validMode(c.Mode) {
		bad("mode", "must be one of %s, got %q", modeList(), c.Mode)
	}
	if c.Client != ClientRaw && c.Client != ClientGoZK {
		bad("client", "must be raw or go-zk, got %q", c.Client)
	}
	if c.Duration < 0 {
		bad("duration", "must not be negative, got %v", c.Duration)
	}
	if c.Ops < 0 {
		bad("ops", "must not be negative, got %d", c.Ops)
	}
	if c.Duration == 0 && c.Ops == 0 && !(c.Mode == ModeWatch && c.Rounds > 0) {
		bad("duration", "set --duration or --ops (or --rounds in watch mode) to bound the run")
	}
	if c.Warmup < 0 {
		bad("warmup", "must not be negative, got %v", c.Warmup)
	}
	if c.Rounds < 0 {
		bad("rounds", "must not be negative, got %d", c.Rounds)
	}
	if c.WatchTimeout <= 0 {
		bad("watch-timeout", "must be positive, got %v", c.WatchTimeout)
	}
	if err := validatePath(c.Root); err != nil {
		bad("root", "%v", err)
	}
	if c.SessionTimeout < time.Second {
		bad("session-timeout", "must be at least 1s, got %v", c.SessionTimeout)
	}
	if c.ConnectTimeout <= 0 {
		bad("connect-timeout", "must be positive, got %v", c.ConnectTimeout)
	}
	if !validLogLevel(c.LogLevel) {
		bad("log-level", "must be one of trace, debug, info, warn, error, off; got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}

func validMode(m Mode) bool {
	for _, x := range Modes {
		if m == x {
			return true
		}
	}
	return false
}

func modeList() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s, "|")
}

func validLogLevel(l string) bool {
	switch strings.ToLower(l) {
	case "trace", "debug", "info", "warn", "error", "off":
		return true
	}
	return false
}

// validateServers checks a list of host:port addresses.
func validateServers(servers []string) []error {
	if len(servers) == 0 {
		return []error{fmt.Errorf("%w: servers: at least one host:port is required", ErrInvalidConfig)}
	}
	var errs []error
	for i, s := range servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: servers[%d]: %q is not host:port: %v", ErrInvalidConfig, i, s, err))
			continue
		}
		if host == "" {
			errs = append(errs, fmt.Errorf("%w: servers[%d]: %q has no host", ErrInvalidConfig, i, s))
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("%w: servers[%d]: %q has an invalid port", ErrInvalidConfig, i, s))
		}
	}
	return errs
}

// validatePath checks a ZooKeeper path the way servers do (absolute, no
// empty, "." or ".." components, no trailing slash, no NUL).
func validatePath(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q must start with /", p)
	}
	if p == "/" {
		return fmt.Errorf("path must not be the root znode")
	}
	if strings.HasSuffix(p, "/") {
		return fmt.Errorf("path %q must not end with /", p)
	}
	for _, part := range strings.Split(p[1:], "/") {
		switch part {
		case "":
			return fmt.Errorf("path %q has an empty component", p)
		case ".", "..":
			return fmt.Errorf("path %q has a relative component", p)
		}
		if strings.ContainsRune(part, 0) {
			return fmt.Errorf("path %q contains NUL", p)
		}
	}
	return nil
}

// splitServers parses a comma-separated server list, dropping blanks.
func splitServers(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
