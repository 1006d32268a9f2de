package main

import (
	"fmt"
	"io"

	"github.com/zoogate/zoogate/core/server"
)

// loadServerConfig reads a topology file and returns the server config of
// node id (0: the file's only node), plus that node's log level.
func loadServerConfig(path string, id int) (server.Config, string, error) {
	return server.Config{}, "", fmt.Errorf("--config is not wired yet")
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "zoogate config: not wired yet")
	return 2
}

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "zoogate bench: not wired yet")
	return 2
}
