package bench

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// finish parses args, rejects positional arguments and wraps flag errors.
func finish(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

func wasSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// ParseArgs parses the load generator's options (what follows
// `zoogate bench`) over DefaultConfig and validates the result. Usage and
// flag errors are written to out. It returns flag.ErrHelp for -h/--help.
func ParseArgs(args []string, out io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := newFlagSet("zoogate bench", "zoogate bench [--servers h:p,...] [--mode mixed|create-delete|ephemeral|watch] [options]\n"+
		"       zoogate bench failover|populate|wait|fsync [options]   (see --help of each)", out)
	servers := fs.String("servers", strings.Join(c.Servers, ","), "comma-separated `host:port` client addresses; sessions are spread round-robin")
	fs.IntVar(&c.Sessions, "sessions", c.Sessions, "client sessions (watchers in watch mode)")
	fs.IntVar(&c.Outstanding, "outstanding", c.Outstanding, "requests in flight per session (goroutines sharing the session)")
	fs.Float64Var(&c.ReadRatio, "read-ratio", c.ReadRatio, "fraction of reads in mixed mode, 0..1")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes per value written")
	fs.IntVar(&c.Keys, "keys", c.Keys, "znodes read and written in mixed mode")
	mode := fs.String("mode", string(c.Mode), "workload: "+modeList())
	client := fs.String("client", string(c.Client), "client of mixed mode's measured loop: raw (built-in pipelined, one goroutine per session) or go-zk (github.com/go-zookeeper/zk); other modes need go-zk")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured phase length (ignored unless set when --ops is given)")
	fs.Int64Var(&c.Ops, "ops", c.Ops, "measured operations (0: bounded by --duration only)")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured warm-up before the measured phase")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "watch mode: at most this many measured rounds (0: unbounded)")
	fs.DurationVar(&c.WatchTimeout, "watch-timeout", c.WatchTimeout, "watch mode: how long a watcher waits for a notification")
	fs.StringVar(&c.Root, "root", c.Root, "znode under which the run creates everything")
	fs.DurationVar(&c.SessionTimeout, "session-timeout", c.SessionTimeout, "session timeout asked of the servers")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "time allowed to establish all sessions")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed for key and operation choice (0: from the clock, printed in the report)")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the report as JSON")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "print the progress line even when stderr is not a terminal")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "diagnostics level on stderr: trace|debug|info|warn|error|off")
	if err := finish(fs, args); err != nil {
		return c, err
	}
	c.Servers = splitServers(*servers)
	c.Mode = Mode(*mode)
	c.Client = Client(*client)
	if c.Mode != ModeMixed && c.Mode != "" {
		if wasSet(fs, "client") && c.Client == ClientRaw {
			return c, fmt.Errorf("%w: client: the raw client runs mixed mode only; use --client go-zk with --mode %s", ErrInvalidConfig, c.Mode)
		}
		c.Client = ClientGoZK // only mixed mode has a raw loop
	}
	if c.Ops > 0 && !wasSet(fs, "duration") {
		c.Duration = 0 // --ops alone means "exactly this many operations"
	}
	return c, c.Validate()
}

// ParseFailoverArgs parses the options of `zoogate bench failover`.
func ParseFailoverArgs(args []string, out io.Writer) (FailoverConfig, error) {
	c := DefaultFailoverConfig()
	fs := newFlagSet("zoogate bench failover", "zoogate bench failover --servers h:p,... --kill-cmd CMD [--restart-cmd CMD] [--trials N] [options]", out)
	servers := fs.String("servers", strings.Join(c.Servers, ","), "comma-separated `host:port` client addresses of the ensemble")
	fs.IntVar(&c.Writers, "writers", c.Writers, "writer sessions (0: two per server)")
	fs.StringVar(&c.KillCmd, "kill-cmd", c.KillCmd, "shell command that kills a server, run once per trial")
	fs.StringVar(&c.RestartCmd, "restart-cmd", c.RestartCmd, "shell command that brings the killed server back, run between trials")
	fs.IntVar(&c.Trials, "trials", c.Trials, "kill/recover cycles")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "writes must succeed this long before each kill")
	fs.DurationVar(&c.TrialTimeout, "trial-timeout", c.TrialTimeout, "give up on a trial if writes do not resume within this")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", c.ReadyTimeout, "time allowed for every server to serve writes again")
	fs.DurationVar(&c.CommandTimeout, "command-timeout", c.CommandTimeout, "time allowed for each kill or restart command")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes per value written")
	fs.StringVar(&c.Root, "root", c.Root, "znode under which writers write")
	fs.DurationVar(&c.SessionTimeout, "session-timeout", c.SessionTimeout, "session timeout asked of the servers")
	fs.BoolVar(&c.Pinned, "pinned", c.Pinned, "writers are stock go-zookeeper clients, each given one follower only (what a leader kill leaves)")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the report as JSON")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "diagnostics level on stderr: trace|debug|info|warn|error|off")
	if err := finish(fs, args); err != nil {
		return c, err
	}
	c.Servers = splitServers(*servers)
	return c, c.Validate()
}

// ParsePopulateArgs parses the options of `zoogate bench populate`.
func ParsePopulateArgs(args []string, out io.Writer) (PopulateConfig, error) {
	c := DefaultPopulateConfig()
	fs := newFlagSet("zoogate bench populate", "zoogate bench populate --servers h:p,... --count N [options]", out)
	servers := fs.String("servers", strings.Join(c.Servers, ","), "comma-separated `host:port` client addresses")
	fs.IntVar(&c.Count, "count", c.Count, "znodes to create")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes per znode")
	fs.IntVar(&c.Fanout, "fanout", c.Fanout, "children per parent znode")
	fs.StringVar(&c.Root, "root", c.Root, "znode under which to create them")
	fs.IntVar(&c.Sessions, "sessions", c.Sessions, "client sessions")
	fs.IntVar(&c.Outstanding, "outstanding", c.Outstanding, "creates in flight per session")
	fs.DurationVar(&c.SessionTimeout, "session-timeout", c.SessionTimeout, "session timeout asked of the servers")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the report as JSON")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "diagnostics level on stderr")
	if err := finish(fs, args); err != nil {
		return c, err
	}
	c.Servers = splitServers(*servers)
	return c, c.Validate()
}

// ParseWaitArgs parses the options of `zoogate bench wait`.
func ParseWaitArgs(args []string, out io.Writer) (WaitConfig, error) {
	c := DefaultWaitConfig()
	fs := newFlagSet("zoogate bench wait", "zoogate bench wait --servers h:p,... [--write] [--timeout D] [--since-unix-nano N]", out)
	servers := fs.String("servers", strings.Join(c.Servers, ","), "comma-separated `host:port` client addresses; every one must answer")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "give up after this long")
	fs.Int64Var(&c.SinceUnixNano, "since-unix-nano", c.SinceUnixNano, "measure elapsed time from this Unix time in ns (0: from now)")
	fs.BoolVar(&c.Write, "write", c.Write, "also require a successful write through each server")
	fs.StringVar(&c.Root, "root", c.Root, "znode written by --write")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as JSON")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "diagnostics level on stderr")
	if err := finish(fs, args); err != nil {
		return c, err
	}
	c.Servers = splitServers(*servers)
	return c, c.Validate()
}

// ParseFsyncArgs parses the options of `zoogate bench fsync`.
func ParseFsyncArgs(args []string, out io.Writer) (FsyncConfig, error) {
	c := DefaultFsyncConfig()
	fs := newFlagSet("zoogate bench fsync", "zoogate bench fsync --dir DIR [--duration D] [--block-size N]", out)
	fs.StringVar(&c.Dir, "dir", c.Dir, "directory on the disk to measure")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to measure")
	fs.IntVar(&c.BlockSize, "block-size", c.BlockSize, "bytes appended before each fdatasync")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as JSON")
	if err := finish(fs, args); err != nil {
		return c, err
	}
	return c, c.Validate()
}
