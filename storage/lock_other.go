//go:build !linux

package storage

// procCmdline has no /proc to read outside Linux: the lock file's own
// cmdline line is used instead.
func procCmdline(int) string { return "" }
