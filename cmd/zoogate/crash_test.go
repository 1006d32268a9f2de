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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zoogate/zoogate/internal/testport"
)

// buildBinary compiles zoogate once for the process-level tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zoogate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// freePort returns a loopback address free for TCP and UDP that no other
// test in this binary got (see internal/testport): two nodes of one
// topology file must never share one.
func freePort(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// startProcess runs `zoogate serve` and waits until it answers ruok.
func startProcess(t *testing.T, bin, addr, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--client-addr", addr, "--data-dir", dir, "--log-level", "warn")
	logf, _ := os.OpenFile(filepath.Join(dir, "..", "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Write([]byte("ruok"))
			c.SetReadDeadline(time.Now().Add(time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			if string(b) == "imok" {
				return cmd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "..", "server.log"))
	t.Fatalf("server did not come up on %s:\n%s", addr, b)
	return nil
}

// TestKill9UnderLoad kill -9s a real server process under concurrent write
// load at random moments, restarts it on the same data directory, and
// checks that every acknowledged write survived and that zxids and
// sequence numbers never went backwards.
func TestKill9UnderLoad(t *testing.T) {
	rounds := 20
	if os.Getenv("ZOOGATE_LONG") != "" {
		rounds = 100
	}
	rng := rand.New(rand.NewSource(testSeed(t)))
	bin := buildBinary(t)
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	addr := freePort(t)
	acked := map[string]bool{}     // created paths
	versions := map[string]int32{} // node -> highest acknowledged version
	var maxZxid int64              // highest acknowledged zxid
	var lastSeq int64 = -1         // highest acknowledged sequence suffix
	for round := 0; round < rounds; round++ {
		cmd := startProcess(t, bin, addr, dir)
		verify(t, addr, acked, versions, maxZxid, lastSeq)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithMaxConnBufferSize(1<<20))
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				defer c.Close()
				node := fmt.Sprintf("/k%d", w)
				c.Create(node, nil, 0, zk.WorldACL(zk.PermAll))
				for i := 0; i < 10000; i++ {
					p, err := c.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
					if err == zk.ErrNoNode {
						c.Create("/seq", nil, 0, zk.WorldACL(zk.PermAll))
						continue
					}
					if err != nil {
						return // the server was killed
					}
					st, err := c.Set(node, []byte(strconv.Itoa(i)), -1)
					mu.Lock()
					acked[p] = true
					n, _ := strconv.ParseInt(p[len("/seq/s-"):], 10, 64)
					lastSeq = max(lastSeq, n)
					if err == nil {
						versions[node] = max(versions[node], st.Version)
						maxZxid = max(maxZxid, st.Mzxid)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}(w)
		}
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond) // the random kill moment
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		wg.Wait()
	}
	startProcess(t, bin, addr, dir)
	verify(t, addr, acked, versions, maxZxid, lastSeq)
	if len(acked) < rounds {
		t.Fatalf("only %d writes acknowledged in %d rounds: the load did not run", len(acked), rounds)
	}
	t.Logf("%d rounds, %d acknowledged creates, all present after kill -9", rounds, len(acked))
}

func verify(t *testing.T, addr string, acked map[string]bool, versions map[string]int32, maxZxid, lastSeq int64) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	children, _, err := c.Children("/seq")
	if err != nil && err != zk.ErrNoNode {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, ch := range children {
		have["/seq/"+ch] = true
	}
	for p := range acked {
		if !have[p] {
			t.Fatalf("acknowledged create %s lost after kill -9", p)
		}
	}
	for node, v := range versions {
		_, st, err := c.Get(node)
		if err != nil || st.Version < v {
			t.Fatalf("acknowledged setData on %s (version %d) lost: %+v %v", node, v, st, err)
		}
	}
	if len(acked) == 0 {
		return
	}
	p, err := c.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(p[len("/seq/s-"):], 10, 64)
	_, st, _ := c.Get(p)
	if n <= lastSeq || st.Czxid <= maxZxid {
		t.Fatalf("went backwards after restart: sequence %d <= %d or zxid %#x <= %#x", n, lastSeq, st.Czxid, maxZxid)
	}
	acked[p] = true
}
