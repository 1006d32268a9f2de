package main

import (
	"fmt"
	"io"
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

// linkProxy forwards one voter's connections to another's peer port and
// can cut them, which is how the test partitions real processes.
type linkProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.accept()
	return p
}

func (p *linkProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *linkProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestClusterPartitionProcesses cuts the leader's peer links between real
// processes: the leader must stop serving, the majority elects a new one
// and takes writes, and after healing the old leader catches up.
func TestClusterPartitionProcesses(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	const n = 3
	client, listen := map[int]string{}, map[int]string{}
	for id := 1; id <= n; id++ {
		client[id], listen[id] = freePort(t), freePort(t)
	}
	// Node i dials every higher id through a proxy of its own.
	proxies := map[[2]int]*linkProxy{}
	for i := 1; i <= n; i++ {
		for k := i + 1; k <= n; k++ {
			proxies[[2]int{i, k}] = newLinkProxy(t, listen[k])
		}
	}
	procs := map[int]*exec.Cmd{}
	for id := 1; id <= n; id++ {
		var b strings.Builder
		b.WriteString("[cluster]\nname = \"partition-test\"\ntick = \"200ms\"\ninit_limit = 10\nsync_limit = 5\nmax_client_cnxns = 0\nfour_letter_words = [\"*\"]\n")
		for k := 1; k <= n; k++ {
			peer := listen[k]
			if id < k {
				peer = proxies[[2]int{id, k}].ln.Addr().String()
			}
			fmt.Fprintf(&b, "\n[[node]]\nid = %d\nclient = %q\npeer = %q\nelection = %q\ndata_dir = %q\n",
				k, client[k], peer, freePort(t), filepath.Join(dir, fmt.Sprintf("n%d", k)))
		}
		cfgPath := filepath.Join(dir, fmt.Sprintf("node%d.toml", id))
		os.WriteFile(cfgPath, []byte(b.String()), 0o644)
		logf, _ := os.Create(filepath.Join(dir, fmt.Sprintf("n%d.log", id)))
		cmd := exec.Command(bin, "serve", "--config", cfgPath, "--id", strconv.Itoa(id))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[id] = cmd
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() })
	}
	pc := &procCluster{t: t, dir: dir, client: client, procs: procs}
	lead := pc.leader()
	c, _, err := zk.Connect([]string{client[lead]}, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/part", []byte("before"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for key, p := range proxies {
		if key[0] == lead || key[1] == lead {
			p.setCut(true)
		}
	}
	waitUntil(t, "the cut-off leader to stop serving", 15*time.Second, func() bool {
		return strings.Contains(fourLetter(client[lead], "srvr"), "not currently serving")
	})
	var newLead int
	waitUntil(t, "a new leader in the majority", 15*time.Second, func() bool {
		for id := 1; id <= n; id++ {
			if id != lead && strings.Contains(fourLetter(client[id], "srvr"), "Mode: leader") {
				newLead = id
				return true
			}
		}
		return false
	})
	c2, _, err := zk.Connect([]string{client[newLead]}, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Set("/part", []byte("during"), -1); err != nil {
		t.Fatalf("write in the majority: %v", err)
	}
	for _, p := range proxies {
		p.setCut(false)
	}
	pc.leader()
	pc.converged()
	c3, _, err := zk.Connect([]string{client[lead]}, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if data, _, err := c3.Get("/part"); err != nil || string(data) != "during" {
		t.Fatalf("old leader after healing: %q %v", data, err)
	}
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
