// Command zoogate is the one zoogate binary: serve, config check, bench and
// the storage tools.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `zoogate: a ZooKeeper-compatible coordination service

Usage:
  zoogate serve [--config FILE [--id N]] [--client-addr ADDR] [--admin-addr ADDR] [--data-dir DIR] [--log-dir DIR] [--log-level LEVEL] [--recover]
  zoogate config check FILE...
  zoogate log dump PATH [--json]          (PATH: data dir, log dir or segment file)
  zoogate snapshot inspect PATH [--json]  (PATH: snapshot file)
  zoogate tls init --config FILE --out DIR [--force]  (session secret, CA, node certificates)
  zoogate members --config FILE [--wan] [--json]  (the live view of the gossip pools)
  zoogate status --config FILE [--json]  (per site: nodes, the leader, state, lag, last contact)
  zoogate bench [flags]            (zoogate bench -h for the flags)
  zoogate drill --config FILE [--local] [SCENARIO...] [--json] [--html FILE]  (failover drills; zoogate drill -h)
  zoogate version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "drill":
		return cmdDrill(args[1:], stdout, stderr)
	case "log":
		return cmdLog(args[1:], stdout, stderr)
	case "snapshot":
		return cmdSnapshot(args[1:], stdout, stderr)
	case "tls":
		return cmdTLS(args[1:], stdout, stderr)
	case "members":
		return cmdMembers(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, serverVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "zoogate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
