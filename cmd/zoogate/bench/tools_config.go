package bench

import (
	"errors"
	"fmt"
	"time"
)

// FailoverConfig is a `zoogate bench failover` run.
type FailoverConfig struct {
	// Servers are the client addresses of the ensemble.
	Servers []string
	// Writers is the number of writer sessions (0: two per server). Writer
	// i starts on Servers[i % len(Servers)] and fails over to the others.
	Writers int
	// KillCmd is run with /bin/sh -c once per trial; it must kill a server.
	KillCmd string
	// RestartCmd is run with /bin/sh -c between trials (optional); it must
	// bring the killed server back. The run then waits until every server
	// serves writes again before the next trial.
	RestartCmd string
	// Trials is the number of kill/recover cycles.
	Trials int
	// Settle is how long writes must keep succeeding before a kill.
	Settle time.Duration
	// TrialTimeout bounds the wait for writes to resume after a kill.
	TrialTimeout time.Duration
	// ReadyTimeout bounds the wait for every server to serve writes.
	ReadyTimeout time.Duration
	// CommandTimeout bounds each run of KillCmd and RestartCmd.
	CommandTimeout time.Duration
	// ValueSize is the size of every value written.
	ValueSize int
	// Root is the znode under which writers write.
	Root string
	// SessionTimeout is the session timeout requested from the servers.
	SessionTimeout time.Duration
	// Pinned makes every writer a stock go-zookeeper client (zk.Connect
	// with its defaults, no host provider) given one server only: a
	// follower at the start of the trial (srvr), the servers a leader
	// kill leaves. Its connection losses are counted.
	Pinned bool
	// JSON prints the report as JSON.
	JSON bool
	// LogLevel is the hclog level of diagnostics on stderr.
	LogLevel string
}

// DefaultFailoverConfig returns the defaults of `zoogate bench failover`.
func DefaultFailoverConfig() FailoverConfig {
	return FailoverConfig{
		Servers:        []string{"127.0.0.1:2181", "127.0.0.1:2182", "127.0.0.1:2183"},
		Trials:         3,
		Settle:         2 * time.Second,
		TrialTimeout:   60 * time.Second,
		ReadyTimeout:   120 * time.Second,
		CommandTimeout: 60 * time.Second,
		ValueSize:      100,
		Root:           "/zoogate-bench-failover",
		SessionTimeout: 10 * time.Second,
		LogLevel:       "warn",
	}
}

// Validate reports every problem at once, each naming its option.
func (c FailoverConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, validateServers(c.Servers)...)
	if c.Writers < 0 {
		bad("writers", "must not be negative, got %d", c.Writers)
	}
	if c.KillCmd == "" {
		bad("kill-cmd", "is required")
	}
	if c.Trials < 1 {
		bad("trials", "must be at least 1, got %d", c.Trials)
	}
	if c.Settle < 0 {
		bad("settle", "must not be negative, got %v", c.Settle)
	}
	if c.TrialTimeout <= 0 {
		bad("trial-timeout", "must be positive, got %v", c.TrialTimeout)
	}
	if c.ReadyTimeout <= 0 {
		bad("ready-timeout", "must be positive, got %v", c.ReadyTimeout)
	}
	if c.CommandTimeout <= 0 {
		bad("command-timeout", "must be positive, got %v", c.CommandTimeout)
	}
	if c.ValueSize < 0 || c.ValueSize > MaxValueSize {
		bad("value-size", "must be within [0, %d], got %d", MaxValueSize, c.ValueSize)
	}
	if err := validatePath(c.Root); err != nil {
		bad("root", "%v", err)
	}
	if c.SessionTimeout < time.Second {
		bad("session-timeout", "must be at least 1s, got %v", c.SessionTimeout)
	}
	if !validLogLevel(c.LogLevel) {
		bad("log-level", "must be one of trace, debug, info, warn, error, off; got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}

// writers is the effective number of writer sessions.
func (c FailoverConfig) writers() int {
	if c.Writers > 0 {
		return c.Writers
	}
	return 2 * len(c.Servers)
}

// PopulateConfig is a `zoogate bench populate` run: it creates Count
// persistent znodes of ValueSize bytes under Root, Fanout children per
// parent znode (Root/b-NNNN/n-NNNN), so no znode gets a huge child list.
type PopulateConfig struct {
	Servers        []string
	Count          int
	ValueSize      int
	Fanout         int
	Root           string
	Sessions       int
	Outstanding    int
	SessionTimeout time.Duration
	JSON           bool
	LogLevel       string
}

// DefaultPopulateConfig returns the defaults of `zoogate bench populate`.
func DefaultPopulateConfig() PopulateConfig {
	return PopulateConfig{
		Servers:        []string{"127.0.0.1:2181"},
		Count:          100000,
		ValueSize:      100,
		Fanout:         1000,
		Root:           "/zoogate-bench-populate",
		Sessions:       4,
		Outstanding:    64,
		SessionTimeout: 30 * time.Second,
		LogLevel:       "warn",
	}
}

// Validate reports every problem at once, each naming its option.
func (c PopulateConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, validateServers(c.Servers)...)
	if c.Count < 1 {
		bad("count", "must be at least 1, got %d", c.Count)
	}
	if c.ValueSize < 0 || c.ValueSize > MaxValueSize {
		bad("value-size", "must be within [0, %d], got %d", MaxValueSize, c.ValueSize)
	}
	if c.Fanout < 1 || c.Fanout > 100000 {
		bad("fanout", "must be within [1, 100000], got %d", c.Fanout)
	}
	if err := validatePath(c.Root); err != nil {
		bad("root", "%v", err)
	}
	if c.Sessions < 1 {
		bad("sessions", "must be at least 1, got %d", c.Sessions)
	}
	if c.Outstanding < 1 {
		bad("outstanding", "must be at least 1, got %d", c.Outstanding)
	}
	if c.SessionTimeout < time.Second {
		bad("session-timeout", "must be at least 1s, got %v", c.SessionTimeout)
	}
	if !validLogLevel(c.LogLevel) {
		bad("log-level", "must be one of trace, debug, info, warn, error, off; got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}

// WaitConfig is a `zoogate bench wait` run: poll every server until it
// answers a read (and, with Write, a write) or Timeout passes.
type WaitConfig struct {
	Servers []string
	Timeout time.Duration
	// SinceUnixNano is the moment elapsed time is measured from (0: the
	// start of the wait), e.g. when a script started a server process.
	SinceUnixNano int64
	// Write also requires a successful write (setData on Root, created if
	// needed) through each server.
	Write    bool
	Root     string
	JSON     bool
	LogLevel string
}

// DefaultWaitConfig returns the defaults of `zoogate bench wait`.
func DefaultWaitConfig() WaitConfig {
	return WaitConfig{
		Servers:  []string{"127.0.0.1:2181"},
		Timeout:  60 * time.Second,
		Root:     "/zoogate-bench-wait",
		LogLevel: "warn",
	}
}

// Validate reports every problem at once, each naming its option.
func (c WaitConfig) Validate() error {
	var errs []error
	errs = append(errs, validateServers(c.Servers)...)
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: timeout: must be positive, got %v", ErrInvalidConfig, c.Timeout))
	}
	if c.SinceUnixNano < 0 {
		errs = append(errs, fmt.Errorf("%w: since-unix-nano: must not be negative", ErrInvalidConfig))
	}
	if err := validatePath(c.Root); err != nil {
		errs = append(errs, fmt.Errorf("%w: root: %v", ErrInvalidConfig, err))
	}
	if !validLogLevel(c.LogLevel) {
		errs = append(errs, fmt.Errorf("%w: log-level: unknown level %q", ErrInvalidConfig, c.LogLevel))
	}
	return errors.Join(errs...)
}

// FsyncConfig is a `zoogate bench fsync` run: append BlockSize bytes to a
// file in Dir and fdatasync it, over and over, for Duration.
type FsyncConfig struct {
	Dir       string
	Duration  time.Duration
	BlockSize int
	JSON      bool
}

// DefaultFsyncConfig returns the defaults of `zoogate bench fsync`.
func DefaultFsyncConfig() FsyncConfig {
	return FsyncConfig{Dir: ".", Duration: 2 * time.Second, BlockSize: 4096}
}

// Validate reports every problem at once, each naming its option.
func (c FsyncConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, fmt.Errorf("%w: dir: is required", ErrInvalidConfig))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("%w: duration: must be positive, got %v", ErrInvalidConfig, c.Duration))
	}
	if c.BlockSize < 1 || c.BlockSize > 1<<20 {
		errs = append(errs, fmt.Errorf("%w: block-size: must be within [1, 1048576], got %d", ErrInvalidConfig, c.BlockSize))
	}
	return errors.Join(errs...)
}
