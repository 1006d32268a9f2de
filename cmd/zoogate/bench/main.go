package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailure = 1 // the run failed (servers unreachable, no recovery, ...)
	ExitUsage   = 2 // bad options
)

// Main runs `zoogate bench` with args (what follows "bench") and returns
// the process exit code. Reports go to stdout, diagnostics and the progress
// line to stderr. SIGINT/SIGTERM end a run early with a partial report.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "failover":
		return runFailoverCmd(ctx, args[1:], stdout, stderr)
	case "populate":
		return runPopulateCmd(ctx, args[1:], stdout, stderr)
	case "wait":
		return runWaitCmd(ctx, args[1:], stdout, stderr)
	case "fsync":
		return runFsyncCmd(ctx, args[1:], stdout, stderr)
	case "wanproxy":
		return runWANProxyCmd(ctx, args[1:], stdout, stderr)
	case "wan":
		return runWANCmd(ctx, args[1:], stdout, stderr)
	case "gossip":
		return runGossipCmd(ctx, args[1:], stdout, stderr)
	case "help":
		_, _ = ParseArgs([]string{"-h"}, stderr)
		return ExitOK
	}
	cfg, err := ParseArgs(args, stderr)
	if code, done := parseOutcome(err, stderr); done {
		return code
	}
	var progress io.Writer
	if cfg.Progress || isTerminal(stderr) {
		progress = stderr
	}
	rep, err := Run(ctx, cfg, progress, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		fmt.Fprintf(stderr, "zoogate bench: %v\n", err)
		return ExitFailure
	}
	if cfg.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "zoogate bench: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// parseOutcome turns a parse error into an exit code; done is false when
// parsing succeeded.
func parseOutcome(err error, stderr io.Writer) (code int, done bool) {
	switch {
	case err == nil:
		return ExitOK, false
	case errors.Is(err, flag.ErrHelp):
		return ExitOK, true
	default:
		fmt.Fprintf(stderr, "zoogate bench: %v\n", err)
		return ExitUsage, true
	}
}

func runFailoverCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseFailoverArgs(args, stderr)
	if code, done := parseOutcome(err, stderr); done {
		return code
	}
	rep, runErr := RunFailover(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if rep != nil {
		if cfg.JSON {
			_ = writeJSON(stdout, rep)
		} else {
			writeFailoverText(stdout, rep)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "zoogate bench failover: %v\n", runErr)
		return ExitFailure
	}
	return ExitOK
}

func writeFailoverText(w io.Writer, r *FailoverReport) {
	fmt.Fprintf(w, "zoogate bench failover: servers=%v writers=%d\nkill: %s\n", r.Servers, r.Writers, r.KillCmd)
	for _, t := range r.Trials {
		fmt.Fprintf(w, "trial %d: ", t.Trial)
		if t.Recovered {
			fmt.Fprintf(w, "first write after kill %.0f ms, all writers %.0f ms", t.WindowMs, t.AllWritersMs)
		} else {
			fmt.Fprint(w, "NOT RECOVERED")
		}
		fmt.Fprintf(w, ", %d failed writes %v", t.FailedWrites, t.Errors)
		if t.ReadyMs > 0 {
			fmt.Fprintf(w, ", restart to all-ready %.0f ms", t.ReadyMs)
		}
		if t.KillOutput != "" {
			fmt.Fprintf(w, " [%s]", t.KillOutput)
		}
		if t.Error != "" {
			fmt.Fprintf(w, " error: %s", t.Error)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "recovered %d/%d; median first write %.0f ms, median all writers %.0f ms\n",
		r.Recovered, len(r.Trials), r.MedianWindowMs, r.MedianAllWritersMs)
}

func runPopulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParsePopulateArgs(args, stderr)
	if code, done := parseOutcome(err, stderr); done {
		return code
	}
	rep, runErr := Populate(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if rep != nil {
		if cfg.JSON {
			_ = writeJSON(stdout, rep)
		} else {
			fmt.Fprintf(stdout, "populate: %d created, %d existed, in %.1fs (%.0f/s), errors %v\n",
				rep.Created, rep.Existing, rep.ElapsedSeconds, rep.PerSecond, rep.Errors)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "zoogate bench populate: %v\n", runErr)
		return ExitFailure
	}
	return ExitOK
}

func runWaitCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseWaitArgs(args, stderr)
	if code, done := parseOutcome(err, stderr); done {
		return code
	}
	rep, runErr := Wait(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if rep != nil && runErr == nil {
		if cfg.JSON {
			_ = writeJSON(stdout, rep)
		} else {
			fmt.Fprintf(stdout, "ready after %.0f ms\n", rep.ReadyMs)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "zoogate bench wait: %v\n", runErr)
		return ExitFailure
	}
	return ExitOK
}

func runFsyncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseFsyncArgs(args, stderr)
	if code, done := parseOutcome(err, stderr); done {
		return code
	}
	rep, err := Fsync(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "zoogate bench fsync: %v\n", err)
		return ExitFailure
	}
	if cfg.JSON {
		_ = writeJSON(stdout, rep)
	} else {
		fmt.Fprintf(stdout, "fsync: %.0f/s (p50 %.3f ms, p99 %.3f ms) on %s\n", rep.PerSecond, rep.Latency.P50, rep.Latency.P99, rep.Dir)
	}
	return ExitOK
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
