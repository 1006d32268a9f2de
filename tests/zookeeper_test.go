package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoogate/zoogate/internal/testport"
)

// Where Debian's zookeeper package puts Apache ZooKeeper 3.8.0.
const (
	zkJar      = "/usr/share/java/zookeeper.jar"
	zkLogJar   = "/usr/share/java/slf4j-simple.jar" // slf4j binding: logs to stderr
	zkCliPath  = "/usr/share/zookeeper/bin/zkCli.sh"
	zkMainCls  = "org.apache.zookeeper.server.ZooKeeperServerMain"
	installMsg = "Apache ZooKeeper is not installed: run `apt-get install zookeeper` (Debian's package, 3.8.0)"
)

// superUser and superPassword are the super identity both servers accept;
// superDigest is its stored form, "super:" + base64(sha1("super:admin")).
const (
	superUser     = "super"
	superPassword = "admin"
	superDigest   = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs="
)

// zkOptions tunes a ZooKeeper test server.
type zkOptions struct {
	TickMillis        int
	MaxSessionTimeout time.Duration
	StartTimeout      time.Duration
	ExtendedTypes     bool   // TTL nodes (zookeeper.extendedTypesEnabled)
	SuperDigest       string // "" = no super user
	// Cfg are more zoo.cfg lines (an ensemble's server.N lines), Props
	// more system properties ("readonlymode.enabled=true").
	Cfg, Props []string
	// Main is the class run; "" = ZooKeeperServerMain (standalone).
	Main string
	// Jars are more class path entries (the AdminServer's servlet API,
	// which the zookeeper package's manifest leaves out).
	Jars []string
}

// defaultZKOptions matches startZoogate's server: what the differential
// tests compare against.
func defaultZKOptions() zkOptions {
	return zkOptions{TickMillis: 200, MaxSessionTimeout: 20 * time.Second, StartTimeout: 60 * time.Second,
		ExtendedTypes: true, SuperDigest: superDigest}
}

// binaryZKOptions matches `zoogate serve` with no topology file (tick 2 s,
// no TTL nodes, no super user): what the client scripts run against.
func binaryZKOptions() zkOptions {
	return zkOptions{TickMillis: 2000, MaxSessionTimeout: 40 * time.Second, StartTimeout: 60 * time.Second}
}

// zkServer is a running Apache ZooKeeper standalone server.
type zkServer struct {
	Addr string // 127.0.0.1:port
	Dir  string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// requireZooKeeper fails the test (never skips) when ZooKeeper or Java is
// missing: CI installs the zookeeper package.
func requireZooKeeper(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(zkJar); err != nil {
		t.Fatalf("%s (%v)", installMsg, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("%s: no java on PATH (%v)", installMsg, err)
	}
	return java
}

// startZooKeeper runs ZooKeeper standalone on a free loopback port with a
// generated zoo.cfg in a temporary directory, waits until `ruok` answers
// `imok` (and `srvr` shows it serving), and kills it when the test ends.
// opt says whether TTL nodes and a super digest are on. The container/TTL
// reaper is pushed out to an hour so it never runs during a test: its
// timing would make the differential test nondeterministic.
func startZooKeeper(t testing.TB, opt zkOptions) *zkServer {
	t.Helper()
	requireZooKeeper(t)
	z, err := tryStartZooKeeper(t, opt)
	if err != nil {
		t.Fatalf("zookeeper did not start: %v", err)
	}
	return z
}

// tryStartZooKeeper is startZooKeeper without t.Fatal, for use from a
// helper goroutine; call requireZooKeeper first on the test goroutine.
func tryStartZooKeeper(t testing.TB, opt zkOptions) (*zkServer, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%s: no java on PATH (%w)", installMsg, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken in between
		z, err := launchZooKeeper(t, java, opt)
		if err == nil {
			return z, nil
		}
		lastErr = err
		t.Logf("zookeeper start attempt %d: %v", attempt+1, err)
	}
	return nil, lastErr
}

func launchZooKeeper(t testing.TB, java string, opt zkOptions) (*zkServer, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	z, err := spawnZooKeeper(t, java, opt, dir, port)
	if err != nil {
		return nil, err
	}
	return z, z.waitServing(opt.StartTimeout)
}

// spawnZooKeeper starts a ZooKeeper JVM with a zoo.cfg in dir serving
// clients on port, and kills it when the test ends; it does not wait.
func spawnZooKeeper(t testing.TB, java string, opt zkOptions, dir string, port int) (*zkServer, error) {
	cfg := fmt.Sprintf(`tickTime=%d
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxSessionTimeout=%d
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
`, opt.TickMillis, filepath.Join(dir, "data"), port, opt.MaxSessionTimeout.Milliseconds())
	for _, l := range opt.Cfg {
		cfg += l + "\n"
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cp := zkJar
	if _, err := os.Stat(zkLogJar); err == nil {
		cp += ":" + zkLogJar
	}
	for _, j := range opt.Jars {
		cp += ":" + j
	}
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dznode.container.checkIntervalMs=3600000",
		"-Dzookeeper.admin.enableServer=false",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}
	if opt.ExtendedTypes {
		args = append(args, "-Dzookeeper.extendedTypesEnabled=true")
	}
	if opt.SuperDigest != "" {
		args = append(args, "-Dzookeeper.DigestAuthenticationProvider.superDigest="+opt.SuperDigest)
	}
	for _, p := range opt.Props {
		args = append(args, "-D"+p)
	}
	main := opt.Main
	if main == "" {
		main = zkMainCls
	}
	args = append(args, "-cp", cp, main, cfgPath)
	cmd := exec.Command(java, args...)
	cmd.Dir = dir
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start java: %w", err)
	}
	z := &zkServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(z.done) }()
	t.Cleanup(func() {
		z.Stop()
		if t.Failed() {
			t.Logf("zookeeper output:\n%s", z.out.String())
		}
	})
	return z, nil
}

// waitServing waits until the server serves (see serving), and stops it
// if it exits or does not within timeout.
func (z *zkServer) waitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-z.done:
			return fmt.Errorf("zookeeper exited during start-up:\n%s", z.out.String())
		default:
		}
		if serving(z.Addr) {
			return nil
		}
		if time.Now().After(deadline) {
			z.Stop()
			return fmt.Errorf("no imok from %s after %v:\n%s", z.Addr, timeout, z.out.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of the ruok condition
	}
}

// serving reports whether the server at addr answers `ruok` with `imok`
// and serves requests: ZooKeeper answers ruok while still loading its
// database, so `srvr` must also show a mode.
func serving(addr string) bool {
	if r, err := fourLetterWord(addr, "ruok", time.Second); err != nil || r != "imok" {
		return false
	}
	r, err := fourLetterWord(addr, "srvr", time.Second)
	return err == nil && strings.Contains(r, "Mode: ")
}

// Stop kills the server and waits for it to exit. Safe to call twice.
func (z *zkServer) Stop() {
	select {
	case <-z.done:
		return
	default:
	}
	_ = z.cmd.Process.Kill()
	select {
	case <-z.done:
	case <-time.After(10 * time.Second):
	}
}

// fourLetterWord sends a 4lw on a fresh connection and returns the reply.
func fourLetterWord(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		return string(b), err
	}
	return string(b), nil
}

// freePort asks the kernel for a free loopback port.
// freePort returns a loopback port outside the ephemeral range, so that
// no server of this test binary listening on port 0 can take it before
// ZooKeeper's JVM binds it (see internal/testport).
func freePort() (int, error) {
	addr, err := testport.Pick()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(addr)
	return strconv.Atoi(p)
}

// lockedBuffer collects a child process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// TestZooKeeperHelper checks the reference server itself: it starts, and
// its four-letter words answer as the fact sheet says.
func TestZooKeeperHelper(t *testing.T) {
	z := startZooKeeper(t, defaultZKOptions())
	if got, err := fourLetterWord(z.Addr, "ruok", 5*time.Second); err != nil || got != "imok" {
		t.Fatalf("ruok = %q, %v; want imok", got, err)
	}
	got, err := fourLetterWord(z.Addr, "srvr", 5*time.Second)
	if err != nil || !strings.Contains(got, "Mode: standalone") || !strings.HasPrefix(got, "Zookeeper version: 3.8.0") {
		t.Fatalf("srvr = %q, %v; want a 3.8.0 standalone server", got, err)
	}
	z.Stop()
	if _, err := fourLetterWord(z.Addr, "ruok", time.Second); err == nil {
		t.Fatalf("ruok still answers after Stop")
	}
}
