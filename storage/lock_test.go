package storage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func TestLockDirRefusesSecondHolder(t *testing.T) {
	for name, tc := range map[string]struct {
		fs  vfs.FS
		dir string
	}{"mem": {vfs.NewMem(), "/data"}, "os": {vfs.OS{}, t.TempDir()}} {
		t.Run(name, func(t *testing.T) {
			tc.fs.MkdirAll(tc.dir)
			first, err := LockDir(tc.fs, tc.dir, "server 1, clients on 127.0.0.1:2181")
			if err != nil {
				t.Fatal(err)
			}
			_, err = LockDir(tc.fs, tc.dir, "server 2")
			var le *DirLockedError
			if !errors.Is(err, ErrDirLocked) || !errors.As(err, &le) {
				t.Fatalf("second LockDir = %v, want a *DirLockedError", err)
			}
			if le.Dir != tc.dir || le.PID != os.Getpid() || le.Owner != "server 1, clients on 127.0.0.1:2181" || le.Cmdline == "" {
				t.Fatalf("holder = %+v, want dir %s, pid %d, its owner and command line", le, tc.dir, os.Getpid())
			}
			for _, want := range []string{tc.dir, fmt.Sprintf("pid %d", os.Getpid()), "server 1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			first.Close() // idempotent
			second, err := LockDir(tc.fs, tc.dir, "server 2")
			if err != nil {
				t.Fatalf("LockDir after the holder closed: %v", err)
			}
			defer second.Close()
			f, _ := tc.fs.Open(filepath.Join(tc.dir, LockFile))
			b := make([]byte, 4096)
			n, _ := readFull(f, b)
			f.Close()
			if !strings.Contains(string(b[:n]), "owner server 2\n") || strings.Contains(string(b[:n]), "server 1") {
				t.Fatalf("lock file not rewritten by the new holder:\n%s", b[:n])
			}
		})
	}
}

// TestLockDirHelperProcess is not a test: TestLockDirAcrossProcesses runs
// the test binary as a child that takes the lock and waits to be killed.
func TestLockDirHelperProcess(t *testing.T) {
	dir := os.Getenv("ZOOGATE_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := LockDir(vfs.OS{}, dir, "helper"); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {}
}

// TestLockDirAcrossProcesses: a live process's lock refuses us and names
// its pid and command line; once it is killed (kill -9, no cleanup), its
// LOCK file is still there but no longer blocks.
func TestLockDirAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDirHelperProcess$")
	cmd.Env = append(os.Environ(), "ZOOGATE_LOCK_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper: %q", line)
	}
	_, err = LockDir(vfs.OS{}, dir, "me")
	var le *DirLockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || le.Owner != "helper" {
		t.Fatalf("LockDir while the helper holds it = %v, want pid %d", err, cmd.Process.Pid)
	}
	if _, err := os.Stat("/proc/self/cmdline"); err == nil && !strings.Contains(le.Cmdline, "TestLockDirHelperProcess") {
		t.Errorf("command line %q is not the helper's", le.Cmdline)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatalf("the dead holder's lock file: %v", err)
	}
	l, err := LockDir(vfs.OS{}, dir, "me")
	if err != nil {
		t.Fatalf("a dead process's lock file blocks: %v", err)
	}
	l.Close()
}
