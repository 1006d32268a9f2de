package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/topology"
)

// joinFile writes a join file for observer id of site eu of ws's
// deployment, joining through the relays' gossip addresses, with the
// certificate of node certID; it returns its path and the observer's
// client address.
func joinFile(t *testing.T, ws *wanSite, id, certID int) (string, string) {
	t.Helper()
	f, err := topology.Load(ws.config)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, n := range f.Relays() {
		seeds = append(seeds, fmt.Sprintf("%q", n.Gossip))
	}
	dir := t.TempDir()
	tls := filepath.Join(ws.dir, "tls")
	client := freePort(t)
	text := fmt.Sprintf(`[cluster]
name = %q
tls_ca = %q
gossip_key_file = %q

[join]
seeds = [%s]
wait = "20s"

[node]
id = %d
site = "eu"
client = %q
gossip = %q
tls_cert = %q
tls_key = %q
data_dir = %q
`, f.Cluster.Name, f.Cluster.TLSCA, f.Cluster.GossipKeyFile, strings.Join(seeds, ", "), id, client, freePort(t),
		filepath.Join(tls, fmt.Sprintf("node-%d.crt", certID)), filepath.Join(tls, fmt.Sprintf("node-%d.key", certID)), filepath.Join(dir, "data"))
	path := filepath.Join(dir, "join.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, client
}

// TestObserverJoinsAtRunTime: with dynamic_observers, an observer that is
// not in the topology file joins site eu with `zoogate serve --join` and
// its own small file, after `zoogate tls issue` certified it: it learns the
// deployment from the seeds, follows a relay of eu (over TLS), serves reads
// of what the primary writes, forwards its clients' writes, and every node's
// pools list it. No other server is touched. A joiner whose certificate
// names another id does not start.
func TestObserverJoinsAtRunTime(t *testing.T) {
	ws, lead := newGossipSite(t, "dynamic_observers = true")
	t.Cleanup(func() {
		if t.Failed() {
			ws.dumpLogs()
		}
	})
	path, client := joinFile(t, ws, 9, 9)
	var out, errb bytes.Buffer
	if rc := run([]string{"tls", "issue", "--join", path, "--ca-dir", filepath.Join(ws.dir, "tls")}, &out, &errb); rc != 0 {
		t.Fatalf("tls issue: rc %d: %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), "node-9.crt") {
		t.Fatalf("tls issue wrote: %s", out.String())
	}
	ws.client[9] = client
	logf, err := os.Create(filepath.Join(ws.dir, "n9.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ws.bin, "serve", "--join", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ws.procs[9] = cmd
	waitUntil(t, "the joined observer serving", 45*time.Second, func() bool { return ws.mode(9) == "observer" })
	if up := ws.mntr(9, "zk_upstream"); up != "4" && up != "5" {
		t.Errorf("the joined observer follows %q, want a relay of eu (4 or 5)", up)
	}
	if site := ws.mntr(9, "zk_site"); site != "eu" {
		t.Errorf("zk_site %q, want eu", site)
	}

	connect := func(addr string) *zk.Conn {
		c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	joined, leader := connect(client), connect(ws.client[lead])
	if _, err := leader.Create("/from-primary", []byte("p"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := joined.Sync("/from-primary"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := joined.Get("/from-primary"); err != nil || string(data) != "p" {
		t.Fatalf("read on the joined observer: %q, %v", data, err)
	}
	if _, err := joined.Create("/from-joined", []byte("j"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write through the joined observer: %v", err)
	}
	if _, err := leader.Sync("/from-joined"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := leader.Get("/from-joined"); err != nil || string(data) != "j" {
		t.Fatalf("the leader reads %q, %v", data, err)
	}
	waitUntil(t, "zoogate members to list the joined observer", 20*time.Second, func() bool {
		m, ok := memberByID(ws.members(t), 9)
		return ok && m.Site == "eu" && m.Role == "observer" && m.State == "alive" && m.Client == client
	})

	// A joiner whose certificate names node 9 but whose join file says 10.
	bad, _ := joinFile(t, ws, 10, 9)
	out.Reset()
	errb.Reset()
	if rc := run([]string{"serve", "--join", bad}, &out, &errb); rc == 0 || !strings.Contains(errb.String(), "node/9, not node 10") {
		t.Fatalf("a joiner with another node's certificate: rc %d, %s", rc, errb.String())
	}
}
