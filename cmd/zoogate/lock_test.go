package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/internal/testport"
)

// buildLockTestBinary compiles zoogate for TestServeTwiceOnOneDataDir.
func buildLockTestBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zoogate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// answersRuok reports whether a server on addr answers ruok.
func answersRuok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.Write([]byte("ruok"))
	c.SetReadDeadline(time.Now().Add(time.Second))
	b, _ := io.ReadAll(c)
	return string(b) == "imok"
}

// serveUntilUp starts `zoogate serve` on dir and waits for ruok.
func serveUntilUp(t *testing.T, bin, dir string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	addr := testport.Addr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", "--client-addr", addr, "--data-dir", dir, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); !answersRuok(addr); {
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, &out
}

// TestServeTwiceOnOneDataDir: a second `zoogate serve` on the data
// directory of a running one exits non-zero at once, naming the directory
// and the first process (pid and command line); once the first is killed
// with SIGKILL (its LOCK file stays behind), a new one starts.
func TestServeTwiceOnOneDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLockTestBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	first, _ := serveUntilUp(t, bin, dir)

	var out bytes.Buffer
	second := exec.Command(bin, "serve", "--client-addr", "127.0.0.1:0", "--data-dir", dir)
	second.Stdout, second.Stderr = &out, &out
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("second serve exited 0:\n%s", out.String())
		}
	case <-time.After(20 * time.Second):
		second.Process.Kill()
		t.Fatalf("second serve on a locked data dir kept running:\n%s", out.String())
	}
	for _, want := range []string{dir, fmt.Sprintf("pid %d", first.Process.Pid), "serve --client-addr"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("second serve's message does not name %q:\n%s", want, out.String())
		}
	}

	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatalf("LOCK file of the killed server: %v", err)
	}
	serveUntilUp(t, bin, dir) // the stale LOCK file does not block
}

// TestLogDumpLogDir: `zoogate log dump` reads a log kept in a separate log
// directory when given that directory, and given only the data directory
// says where to look.
func TestLogDumpLogDir(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	cfg := server.DefaultConfig()
	cfg.ClientAddr, cfg.DataDir, cfg.LogDir = "127.0.0.1:0", dataDir, logDir
	s, c := startToolServer(t, cfg)
	if _, err := c.Create("/in-log-dir", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()

	var out, errb bytes.Buffer
	if rc := run([]string{"log", "dump", logDir}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "path=/in-log-dir") {
		t.Fatalf("log dump %s: rc %d\n%s%s", logDir, rc, out.String(), errb.String())
	}
	errb.Reset()
	if rc := run([]string{"log", "dump", dataDir}, &out, &errb); rc == 0 || !strings.Contains(errb.String(), "log_dir") {
		t.Fatalf("log dump of a data dir without its log: rc %d, %q", rc, errb.String())
	}
}
