//go:build linux

package storage

import (
	"os"
	"strconv"
	"strings"
)

// procCmdline returns the command line of process pid from
// /proc/<pid>/cmdline, its arguments separated by spaces; "" when it cannot
// be read (the process is gone, or /proc is hidden).
func procCmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
