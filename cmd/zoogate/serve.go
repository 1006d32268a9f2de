package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan"
)

func serverVersion() string {
	return "zoogate " + server.Version + ", built on " + server.BuildDate
}

// cmdServe runs one server until SIGINT or SIGTERM.
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "topology file (TOML); see topology/CONFIG.md")
	id := fs.Uint64("id", 0, "this server's node id in the topology file (optional when it has one node)")
	clientAddr := fs.String("client-addr", "", "client address host:port (overrides the file; default 127.0.0.1:2181)")
	adminAddr := fs.String("admin-addr", "", "admin HTTP server host:port: ZooKeeper's AdminServer commands and Prometheus /metrics (overrides the file's admin; default none)")
	clientTLSAddr := fs.String("client-tls-addr", "", "TLS client address host:port (overrides the file's client_tls; needs the file's tls_cert, tls_key and [cluster] tls_ca)")
	dataDir := fs.String("data-dir", "", "data directory (overrides the file; default ./data)")
	logDir := fs.String("log-dir", "", "directory for the transaction log, kept in its log/ subdirectory (overrides the file; default: the data directory)")
	logLevel := fs.String("log-level", "", "trace, debug, info, warn or error (default info)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the server stops (diagnostics)")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file when the server stops (diagnostics)")
	wanEmulate := fs.String("wan-emulate", "", `run this node's WAN packets through an emulated WAN, e.g. "delay=40ms,jitter=2ms,loss=0.01" (demos and drills only)`)
	joinPath := fs.String("join", "", "join a running deployment as an observer not in its topology file, from this small join file (docs/topology.md, \"Observers that join at run time\")")
	recover := fs.Bool("recover", false, "if the newest snapshot is corrupt, start from an older one plus the log (when the log still covers it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath != "" && *joinPath != "" {
		fmt.Fprintln(stderr, "zoogate serve: --config and --join exclude each other (a joining observer learns the deployment's file from its seeds)")
		return 2
	}
	cfg := server.DefaultConfig()
	level := "info"
	var f *topology.File
	var n *topology.Node
	if *configPath != "" {
		var err error
		if f, err = topology.Load(*configPath); err == nil {
			n, err = f.SelectNode(*id)
		}
		if err != nil {
			printErrors(stderr, "zoogate serve: ", err)
			return 1
		}
	}
	if *joinPath != "" {
		var err error
		if f, n, err = joinDeployment(*joinPath, *id, stderr); err != nil {
			printErrors(stderr, "zoogate serve: --join: ", err)
			return 1
		}
	}
	if f != nil {
		c, lvl := nodeServerConfig(f, n)
		cfg = c
		if lvl != "" {
			level = lvl
		}
	}
	if *clientAddr != "" {
		cfg.ClientAddr = *clientAddr
	}
	if *adminAddr != "" {
		cfg.AdminAddr = *adminAddr
	}
	if *clientTLSAddr != "" {
		cfg.ClientTLSAddr = *clientTLSAddr
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *logDir != "" {
		cfg.LogDir = *logDir
	}
	if *logLevel != "" {
		level = *logLevel
	}
	cfg.Recover = *recover
	log := hclog.New(&hclog.LoggerOptions{Name: "zoogate", Level: hclog.LevelFromString(level), Output: stderr})
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "zoogate serve: data dir: %v\n", err)
		return 1
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "zoogate serve: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *memProfile != "" {
		defer writeAllocProfile(*memProfile, log)
	}
	var ident *wan.TLS
	if f != nil {
		var err error
		if ident, err = loadIdentity(f, n); err == nil {
			err = attachIdentity(&cfg, f, n, ident, *joinPath != "")
		}
		if err != nil {
			fmt.Fprintf(stderr, "zoogate serve: %v\n", err)
			return 1
		}
		pc, spec, err := attachWAN(&cfg, f, n, log, *wanEmulate)
		if err != nil {
			fmt.Fprintf(stderr, "zoogate serve: %v\n", err)
			return 1
		}
		mountDrillFaults(&cfg, f, n, pc, spec)
	} else if *wanEmulate != "" {
		fmt.Fprintln(stderr, "zoogate serve: --wan-emulate needs --config with a WAN topology")
		return 1
	}
	var gn *gossipNode
	if f != nil {
		var err error
		if gn, err = startGossip(&cfg, f, n, ident, log); err != nil {
			fmt.Fprintf(stderr, "zoogate serve: gossip: %v\n", err)
			return 1
		}
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		printErrors(stderr, "zoogate serve: ", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "zoogate serve: %v\n", err)
		return 1
	}
	if gn != nil {
		gn.run(srv)
	}
	// SIGUSR1 takes a snapshot now; SIGINT and SIGTERM stop the server.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	got := <-sig
	for got == syscall.SIGUSR1 {
		if err := srv.Snapshot(); err != nil {
			log.Error("on-demand snapshot failed", "error", err)
		}
		got = <-sig
	}
	log.Info("shutting down", "signal", got.String())
	if gn != nil {
		gn.close() // others route away from this node first
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown did not finish in time", "error", err)
	}
	return 0
}

// writeAllocProfile writes the allocations made since the start (pprof's
// allocs profile: use -sample_index=alloc_space).
func writeAllocProfile(path string, log hclog.Logger) {
	f, err := os.Create(path)
	if err != nil {
		log.Error("allocation profile not written", "error", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Error("allocation profile not written", "error", err)
	}
}
