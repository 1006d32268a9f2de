package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scriptsDir is scripts/bench, whose lib.sh lays out and starts servers and
// whose kill-leader.sh / restart-node.sh bench.sh passes to failover.
func scriptsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../../scripts/bench")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lib.sh")); err != nil {
		t.Fatalf("scripts/bench/lib.sh: %v", err)
	}
	return dir
}

// startEnsemble lays out and starts an n-node Apache ZooKeeper ensemble
// with scripts/bench/lib.sh, and kills it when the test ends.
func startEnsemble(t *testing.T, n int) (sysDir string, servers []string) {
	t.Helper()
	requireZooKeeper(t)
	scripts := scriptsDir(t)
	sysDir = t.TempDir()
	t.Cleanup(func() {
		// Kill whatever node pids the scripts recorded (restarts rewrite them).
		files, _ := filepath.Glob(filepath.Join(sysDir, "nodes", "*", "pid"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	script := fmt.Sprintf(`set -e; . %q/lib.sh; ZK_HEAP=256m; zk_setup %q 2000 %d; start_all %q; servers_of %q`,
		scripts, sysDir, n, sysDir, sysDir)
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("lib.sh could not start the ensemble: %v\n%s", err, out)
	}
	servers = splitServers(strings.TrimSpace(string(out)))
	if len(servers) != n {
		t.Fatalf("servers_of printed %q, want %d addresses", out, n)
	}
	procs := make([]*zkProc, n)
	for i, s := range servers {
		procs[i] = &zkProc{addr: s, log: filepath.Join(sysDir, "nodes", strconv.Itoa(i+1), "server.log")}
	}
	waitServing(t, procs)
	return sysDir, servers
}

func TestFailoverKillsTheLeaderAndMeasuresRecovery(t *testing.T) {
	t.Parallel()
	sysDir, servers := startEnsemble(t, 3)
	scripts := scriptsDir(t)
	cfg := DefaultFailoverConfig()
	cfg.Servers = servers
	cfg.Writers = 3
	cfg.Trials = 2
	cfg.Settle = 300 * time.Millisecond
	cfg.TrialTimeout = 30 * time.Second
	cfg.ReadyTimeout = 60 * time.Second
	cfg.KillCmd = fmt.Sprintf("%q/kill-leader.sh %q", scripts, sysDir)
	cfg.RestartCmd = fmt.Sprintf("%q/restart-node.sh %q", scripts, sysDir)
	rep, err := RunFailover(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("failover: %v (report %+v)", err, rep)
	}
	if len(rep.Trials) != 2 || rep.Recovered != 2 {
		t.Fatalf("trials %d, recovered %d; want 2 and 2: %+v", len(rep.Trials), rep.Recovered, rep.Trials)
	}
	for _, tr := range rep.Trials {
		if !strings.HasPrefix(tr.KillOutput, "killed leader node ") {
			t.Errorf("trial %d: kill output %q", tr.Trial, tr.KillOutput)
		}
		if tr.KillAtFrom != "command output" {
			t.Errorf("trial %d: kill moment from %q, want the script's marker line", tr.Trial, tr.KillAtFrom)
		}
		// Losing the leader stops writes until a new one is elected: the
		// window cannot be zero, and all writers recover after the first.
		if tr.WindowMs <= 0 || tr.AllWritersMs < tr.WindowMs {
			t.Errorf("trial %d: window %.1f ms, all writers %.1f ms", tr.Trial, tr.WindowMs, tr.AllWritersMs)
		}
		restarted := tr.ReadyMs > 0 && strings.HasPrefix(tr.RestartOutput, "restarted node ")
		if last := tr.Trial == cfg.Trials; restarted == last {
			t.Errorf("trial %d of %d: restart %q ready after %.1f ms; want a restart between trials only",
				tr.Trial, cfg.Trials, tr.RestartOutput, tr.ReadyMs)
		}
	}
	if rep.MedianWindowMs <= 0 {
		t.Errorf("median window %.1f", rep.MedianWindowMs)
	}
	// JSON shape of the report.
	var buf bytes.Buffer
	if err := writeJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"servers", "writers", "kill_cmd", "trials", "recovered", "median_window_ms", "median_all_writers_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("failover report has no %q", k)
		}
	}
}

func TestFailoverReportsAFailingKillCommand(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	cfg := DefaultFailoverConfig()
	cfg.Servers = []string{addr}
	cfg.Trials = 1
	cfg.Settle = 100 * time.Millisecond
	cfg.KillCmd = "echo no such server >&2; exit 3"
	rep, err := RunFailover(context.Background(), cfg, testLogger(t))
	if !errors.Is(err, ErrCommand) {
		t.Fatalf("err = %v, want ErrCommand", err)
	}
	if len(rep.Trials) != 1 || rep.Trials[0].Recovered || !strings.Contains(rep.Trials[0].Error, "no such server") {
		t.Fatalf("trial = %+v, want a failed, unrecovered trial naming the command's output", rep.Trials)
	}
}

// A kill command that kills nothing: writes never stop, so the first write
// issued after the "kill" succeeds almost at once.
func TestFailoverWithAHarmlessKillRecoversAtOnce(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	cfg := DefaultFailoverConfig()
	cfg.Servers = []string{addr}
	cfg.Writers = 2
	cfg.Trials = 1
	cfg.Settle = 100 * time.Millisecond
	cfg.KillCmd = "echo killed-at-unix-ns: $(date +%s%N); echo pretend"
	rep, err := RunFailover(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Trials[0]
	if !tr.Recovered || tr.FailedWrites != 0 || tr.KillOutput != "pretend" || tr.KillAtFrom != "command output" {
		t.Fatalf("trial = %+v", tr)
	}
	if tr.WindowMs > 5000 {
		t.Fatalf("window %.1f ms although nothing was killed", tr.WindowMs)
	}
}

// --pinned against Apache ZooKeeper: stock clients given one follower each
// recover after the kill, and see their connections dropped (ZooKeeper's
// followers close every client when the leader goes).
func TestFailoverPinnedCountsConnectionLosses(t *testing.T) {
	// Not parallel: two ZooKeeper ensembles (six JVMs) at once on two
	// cores slowed an election past the other test's trial timeout.
	sysDir, servers := startEnsemble(t, 3)
	scripts := scriptsDir(t)
	cfg := DefaultFailoverConfig()
	cfg.Servers = servers
	cfg.Writers = 2
	cfg.Trials = 1
	cfg.Pinned = true
	cfg.Settle = 300 * time.Millisecond
	cfg.TrialTimeout = 30 * time.Second
	cfg.ReadyTimeout = 60 * time.Second
	cfg.KillCmd = fmt.Sprintf("%q/kill-leader.sh %q", scripts, sysDir)
	rep, err := RunFailover(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("failover: %v (report %+v)", err, rep)
	}
	if !rep.Pinned || rep.Recovered != 1 || rep.Trials[0].WindowMs <= 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.ConnectionLosses == 0 {
		t.Errorf("pinned clients of ZooKeeper followers saw no connection loss across a leader kill: %+v", rep.Trials)
	}
}

// serverMode reads srvr's Mode line, and says what is wrong otherwise.
func TestServerMode(t *testing.T) {
	serve := func(answer string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 4)
				io.ReadFull(c, buf)
				c.Write([]byte(answer))
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	if m, err := serverMode(serve("Zookeeper version: 3.8.0\nMode: follower\nNode count: 5\n")); err != nil || m != "follower" {
		t.Fatalf("mode %q, %v", m, err)
	}
	if _, err := serverMode(serve("This ZooKeeper instance is not currently serving requests\n")); err == nil {
		t.Fatal("an answer without a Mode line was taken")
	}
	if _, err := currentFollowers([]string{serve("Mode: leader\n")}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("no follower: %v", err)
	}
}
