// Command loadgen is `zoogate bench` as a standalone binary. scripts/bench.sh
// builds it when bin/zoogate does not (yet) offer the bench subcommand, so
// the benchmark can run before or without the full zoogate binary.
package main

import (
	"os"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
