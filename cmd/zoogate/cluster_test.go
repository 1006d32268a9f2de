package main

import (
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// procCluster runs voters as real processes from a generated topology file.
type procCluster struct {
	t      *testing.T
	bin    string
	dir    string
	config string
	client map[int]string
	procs  map[int]*exec.Cmd
}

func newProcCluster(t *testing.T, bin string, n int) *procCluster {
	pc := &procCluster{t: t, bin: bin, dir: t.TempDir(), client: map[int]string{}, procs: map[int]*exec.Cmd{}}
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"proc-test\"\ntick = \"500ms\"\ninit_limit = 10\nsync_limit = 4\nmax_client_cnxns = 0\nfour_letter_words = [\"*\"]\n")
	for id := 1; id <= n; id++ {
		pc.client[id] = freePort(t)
		fmt.Fprintf(&b, "\n[[node]]\nid = %d\nclient = %q\npeer = %q\nelection = %q\ndata_dir = %q\n",
			id, pc.client[id], freePort(t), freePort(t), filepath.Join(pc.dir, fmt.Sprintf("n%d", id)))
	}
	pc.config = filepath.Join(pc.dir, "cluster.toml")
	if err := os.WriteFile(pc.config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= n; id++ {
		pc.start(id)
	}
	t.Cleanup(func() {
		for id := range pc.procs {
			pc.kill(id)
		}
	})
	return pc
}

func (pc *procCluster) start(id int) {
	logf, _ := os.OpenFile(filepath.Join(pc.dir, fmt.Sprintf("n%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	cmd := exec.Command(pc.bin, "serve", "--config", pc.config, "--id", strconv.Itoa(id))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		pc.t.Fatal(err)
	}
	pc.procs[id] = cmd
}

func (pc *procCluster) kill(id int) {
	if cmd := pc.procs[id]; cmd != nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		delete(pc.procs, id)
	}
}

func fourLetter(addr, word string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte(word))
	b, _ := io.ReadAll(c)
	return string(b)
}

// leader waits until every running voter serves and exactly one leads.
func (pc *procCluster) leader() int {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		lead, ok := 0, true
		for id := range pc.procs {
			out := fourLetter(pc.client[id], "srvr")
			switch {
			case strings.Contains(out, "Mode: leader"):
				if lead != 0 {
					ok = false
				}
				lead = id
			case strings.Contains(out, "Mode: follower"):
			default:
				ok = false
			}
		}
		if ok && lead != 0 {
			return lead
		}
		time.Sleep(20 * time.Millisecond)
	}
	pc.dumpLogs()
	pc.t.Fatal("no single serving leader within 30s")
	return 0
}

// converged waits until every running voter reports the same zxid and tree
// digest (the `hash` four-letter word).
func (pc *procCluster) converged() {
	deadline := time.Now().Add(30 * time.Second)
	var outs []string
	for time.Now().Before(deadline) {
		outs = outs[:0]
		same := true
		for id := range pc.procs {
			h := strings.TrimSpace(fourLetter(pc.client[id], "hash"))
			if h == "" || (len(outs) > 0 && h != outs[0]) {
				same = false
			}
			outs = append(outs, h)
		}
		if same {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	pc.dumpLogs()
	pc.t.Fatalf("voters did not converge: %q", outs)
}

func (pc *procCluster) dumpLogs() {
	for id := range pc.client {
		b, _ := os.ReadFile(filepath.Join(pc.dir, fmt.Sprintf("n%d.log", id)))
		lines := strings.Split(string(b), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		pc.t.Logf("--- n%d.log (tail)\n%s", id, strings.Join(lines, "\n"))
	}
}

func (pc *procCluster) servers() []string {
	var out []string
	for id := 1; id <= len(pc.client); id++ {
		out = append(out, pc.client[id])
	}
	return out
}

// TestClusterKill9 runs 3 and 5 voters as processes under concurrent
// writes, kill -9s the leader and followers and restarts them; afterwards
// every acknowledged write is on every voter and all trees are equal.
func TestClusterKill9(t *testing.T) {
	bin := buildBinary(t)
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d voters", n), func(t *testing.T) { clusterKillRound(t, bin, n) })
	}
}

func clusterKillRound(t *testing.T, bin string, n int) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	pc := newProcCluster(t, bin, n)
	pc.leader()
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, _, err := zk.Connect(pc.servers(), 8*time.Second, zk.WithLogInfo(false))
			if err != nil {
				return
			}
			defer c.Close()
			c.Create("/k", nil, 0, zk.WorldACL(zk.PermAll))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/k/w%d-%d", w, i)
				if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
					mu.Lock()
					acked[p] = true
					mu.Unlock()
				} else if err == zk.ErrNodeExists {
					mu.Lock()
					acked[p] = true // an earlier try of it committed
					mu.Unlock()
				} else {
					i-- // unknown outcome: try the same path again
				}
			}
		}(w)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	for round := 0; round < 3; round++ {
		target := count() + 20 + rng.Intn(40) // the load runs a random while between kills
		waitUntil(t, "writes between kills", 30*time.Second, func() bool { return count() >= target })
		victim := pc.leader()
		if round == 1 { // a follower this time
			for id := range pc.procs {
				if id != victim {
					victim = id
					break
				}
			}
		}
		pc.kill(victim)
		pc.leader()
		pc.start(victim)
	}
	target := count() + 20
	waitUntil(t, "writes after the last kill", 30*time.Second, func() bool { return count() >= target })
	close(stop)
	wg.Wait()
	pc.leader()
	pc.converged()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged: the load did not run", len(acked))
	}
	for id := range pc.procs {
		c, _, err := zk.Connect([]string{pc.client[id]}, 8*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		kids, _, err := c.Children("/k")
		c.Close()
		if err != nil {
			t.Fatalf("voter %d: %v", id, err)
		}
		have := map[string]bool{}
		for _, k := range kids {
			have["/k/"+k] = true
		}
		for p := range acked {
			if !have[p] {
				t.Fatalf("voter %d lost acknowledged write %s", id, p)
			}
		}
	}
	t.Logf("%d voters: %d acknowledged writes survived 3 kill -9 rounds on every voter", n, len(acked))
}
