package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zoogate/zoogate/internal/testport"
)

// Tests run against a real Apache ZooKeeper. CI installs it (Debian package
// "zookeeper"); a missing jar is a test failure, never a skip.
const zkJar = "/usr/share/java/zookeeper.jar"

// requireZooKeeper fails the test when Apache ZooKeeper is not installed.
func requireZooKeeper(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(zkJar); err != nil {
		t.Fatalf("Apache ZooKeeper is required for this test and is not installed (%v); install it with `apt-get install zookeeper`", err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is required to run Apache ZooKeeper: %v", err)
	}
}

// freePort returns a loopback port nothing listens on, outside the
// ephemeral range (see internal/testport).
func freePort(t testing.TB) int {
	t.Helper()
	return testport.Port(t)
}

// zkProc is one Apache ZooKeeper server started by a test.
type zkProc struct {
	addr string
	cmd  *exec.Cmd
	log  string
}

func (p *zkProc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// startZK starts one server with cfg (zoo.cfg lines besides dataDir and
// the client port) in dir.
func startZK(t testing.TB, dir string, port int, extra string) *zkProc {
	t.Helper()
	requireZooKeeper(t)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n%s",
		filepath.Join(dir, "data"), port, extra)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("java", "-Xmx256m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", zkJar+":/usr/share/java/slf4j-simple.jar",
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	return &zkProc{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, log: logPath}
}

// waitServing polls until every address serves a write, failing the test
// (with the servers' logs) after a deadline.
func waitServing(t testing.TB, procs []*zkProc) {
	t.Helper()
	addrs := make([]string, len(procs))
	for i, p := range procs {
		addrs[i] = p.addr
	}
	if _, err := waitReady(context.Background(), addrs, true, "/bench-test-ready", 60*time.Second, time.Now(), testLogger(t)); err != nil {
		for _, p := range procs {
			b, _ := os.ReadFile(p.log)
			t.Logf("log of %s:\n%s", p.addr, b)
		}
		t.Fatalf("ZooKeeper did not come up: %v", err)
	}
}

var (
	sharedOnce sync.Once
	sharedZK   *zkProc
	sharedDir  string
	sharedErr  string
)

// sharedServer returns a standalone Apache ZooKeeper shared by the tests of
// this package (started on first use, stopped by TestMain).
func sharedServer(t *testing.T) string {
	t.Helper()
	requireZooKeeper(t)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-zk-*")
		if err != nil {
			sharedErr = err.Error()
			return
		}
		sharedDir = dir
		ft := &onceT{TB: t}
		sharedZK = startZK(ft, dir, freePort(t), "")
		waitServing(ft, []*zkProc{sharedZK})
		if ft.failed != "" {
			sharedErr = ft.failed
		}
	})
	if sharedErr != "" {
		t.Fatalf("shared ZooKeeper: %s", sharedErr)
	}
	return sharedZK.addr
}

// onceT records a failure of the shared setup so later tests report it too.
type onceT struct {
	testing.TB
	failed string
}

func (o *onceT) Fatalf(format string, args ...any) {
	o.failed = fmt.Sprintf(format, args...)
	o.TB.Fatalf(format, args...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedZK != nil {
		sharedZK.stop()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// testLogger routes hclog output to t.Log until the test ends (go-zk's
// goroutines may still log while connections wind down).
func testLogger(t testing.TB) hclog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Info, Output: w})
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
