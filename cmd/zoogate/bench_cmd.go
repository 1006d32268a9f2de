package main

import (
	"io"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
)

// cmdBench runs the load generator (see cmd/zoogate/bench).
func cmdBench(args []string, stdout, stderr io.Writer) int {
	return bench.Main(args, stdout, stderr)
}
