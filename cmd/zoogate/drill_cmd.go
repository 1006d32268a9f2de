package main

import (
	"io"

	"github.com/zoogate/zoogate/cmd/zoogate/drill"
)

// cmdDrill rehearses failures on a deployment (see cmd/zoogate/drill).
func cmdDrill(args []string, stdout, stderr io.Writer) int {
	return drill.Main(args, stdout, stderr)
}
