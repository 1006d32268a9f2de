package tests

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/server"
)

// TestKazooReadOnlyMode runs Kazoo with read_only=True against one voter
// of three (tests/kazoo/kazoo_readonly.py): the voter is cut from the
// other two and Kazoo goes CONNECTED_RO, reads, and gets
// NotReadOnlyCallError for a write, and sets a watch; a change is made on
// the majority side; after the heal Kazoo is read-write again by itself
// and the watch set in read-only mode fires for that change.
func TestKazooReadOnlyMode(t *testing.T) {
	nw, servers := startReadOnlyCluster(t)
	survivor := servers[0]
	script, _ := filepath.Abs("kazoo/kazoo_readonly.py")
	cmd := exec.Command(debianPython, script, survivor.Addr().String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	expect := func(want string, within time.Duration) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok || l != want {
				t.Fatalf("kazoo_readonly.py said %q, want %q\n%s", l, want, stderr.String())
			}
		case <-time.After(within):
			t.Fatalf("kazoo_readonly.py did not say %s within %v\n%s", want, within, stderr.String())
		}
	}
	tell := func(s string) { _, _ = io.WriteString(stdin, s+"\n") }
	expect("READY", 30*time.Second)
	nw.Partition([]uint64{1}, []uint64{2, 3})
	tell("CUT")
	expect("RO-OK", 45*time.Second)
	if got, err := fourLetterWord(survivor.Addr().String(), "isro", 5*time.Second); err != nil || got != "ro" {
		t.Errorf("isro on the cut-off voter: %q %v", got, err)
	}
	// A change on the majority side during the cut: the watch Kazoo set
	// in read-only mode must fire for it once it is back.
	c, _, err := zk.Connect([]string{servers[1].Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Set("/kazoo-ro", []byte("during the cut"), -1); err != nil {
		t.Fatalf("a write on the majority side during the cut: %v", err)
	}
	nw.Heal()
	tell("HEALED")
	expect("RW-OK", 75*time.Second)
}

// startReadOnlyCluster starts three in-process voters with read-only mode
// on, on a MemNetwork the test can partition.
func startReadOnlyCluster(t *testing.T) (*peer.MemNetwork, []*server.Server) {
	return startVoters(t, func(cc *server.ClusterConfig) { cc.ReadOnly = true })
}

// TestZkCliReadOnly: zkCli.sh -r (the Java client's canBeReadOnly) reads
// from a voter cut from its quorum and is told NotReadOnly for a write;
// go-zookeeper, which never asks for read-only mode, gets no session there.
func TestZkCliReadOnly(t *testing.T) {
	nw, servers := startReadOnlyCluster(t)
	survivor := servers[0]
	addr := survivor.Addr().String()
	out, err := runScript(t, 2*time.Minute, nil, zkCliPath, "-server", addr, "create", "/cli-ro", "frozen")
	if err != nil || !strings.Contains(out, "Created /cli-ro") {
		t.Fatalf("create before the cut: %v\n%s", err, out)
	}
	nw.Partition([]uint64{1}, []uint64{2, 3})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _ := fourLetterWord(addr, "isro", time.Second); got == "ro" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cut-off voter did not enter read-only mode within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling isro
	}
	out, err = runScript(t, 2*time.Minute, nil, zkCliPath, "-r", "-server", addr, "get", "/cli-ro")
	if err != nil || !strings.Contains(out, "frozen") {
		t.Fatalf("zkCli.sh -r get in read-only mode: %v\n%s", err, out)
	}
	out, _ = runScript(t, 2*time.Minute, nil, zkCliPath, "-r", "-server", addr, "create", "/cli-ro/child", "x")
	if !strings.Contains(out, "NotReadOnly") && !strings.Contains(out, "Not a read-only call") {
		t.Fatalf("zkCli.sh -r create in read-only mode did not report NotReadOnly:\n%s", out)
	}
	// go-zookeeper never sets the readOnly flag: refused, as by ZooKeeper.
	c, events, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	timeout := time.After(3 * time.Second) // well past the server's answer
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				t.Fatal("go-zookeeper (no readOnly flag) got a session from a read-only server")
			}
			continue
		case <-timeout:
		}
		break
	}
}
