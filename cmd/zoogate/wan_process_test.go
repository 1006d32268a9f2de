package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestWANSiteProcesses runs a two-site deployment as real processes: three
// voters in the primary site, and in site "eu" a relay that follows them
// across an emulated WAN (QUIC, mutual TLS from `zoogate tls init`, 20 ms
// one way) and an observer that follows the relay on its LAN. A write
// through the remote observer reaches the leader; a write on the leader
// reaches the observer; the leader serves one stream for the whole site and
// reports its lag; with the relay killed (SIGKILL) the observer follows the
// primary over its own WAN link; the relay comes back, and every node ends
// with the same tree.
func TestWANSiteProcesses(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	pc := &procCluster{t: t, bin: bin, dir: dir, client: map[int]string{}, procs: map[int]*exec.Cmd{}}
	var b strings.Builder
	tls := filepath.Join(dir, "tls")
	fmt.Fprintf(&b, "[cluster]\nname = \"wan-test\"\ntick = \"500ms\"\ninit_limit = 10\nsync_limit = 4\nmax_client_cnxns = 0\nfour_letter_words = [\"*\"]\ntls_ca = %q\n",
		filepath.Join(tls, "ca.crt"))
	b.WriteString("\n[[site]]\nname = \"primary\"\nprimary = true\n\n[[site]]\nname = \"eu\"\n")
	for id := 1; id <= 5; id++ {
		pc.client[id] = freePort(t)
		site, role, extra := "primary", "voter", ""
		switch id {
		case 4:
			site, role = "eu", "relay"
		case 5:
			site, role = "eu", "observer"
		}
		if id <= 5 { // the observer too: it falls back to the primary over its own WAN link
			extra = fmt.Sprintf("peer = %q\nwan = %q\ntls_cert = %q\ntls_key = %q\n", freePort(t), freeUDPPort(t),
				filepath.Join(tls, fmt.Sprintf("node-%d.crt", id)), filepath.Join(tls, fmt.Sprintf("node-%d.key", id)))
		}
		if id <= 3 {
			extra += fmt.Sprintf("election = %q\n", freePort(t))
		}
		fmt.Fprintf(&b, "\n[[node]]\nid = %d\nsite = %q\nrole = %q\nclient = %q\n%sdata_dir = %q\n",
			id, site, role, pc.client[id], extra, filepath.Join(dir, fmt.Sprintf("n%d", id)))
	}
	pc.config = filepath.Join(dir, "wan.toml")
	if err := os.WriteFile(pc.config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"tls", "init", "--config", pc.config, "--out", tls}, &out, &errb); rc != 0 {
		t.Fatalf("tls init: %s", errb.String())
	}
	start := func(id int) {
		args := []string{"serve", "--config", pc.config, "--id", fmt.Sprint(id)}
		if id == 4 {
			args = append(args, "--wan-emulate", "delay=20ms")
		}
		logf, _ := os.OpenFile(filepath.Join(dir, fmt.Sprintf("n%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pc.procs[id] = cmd
	}
	t.Cleanup(func() {
		for id := range pc.procs {
			pc.kill(id)
		}
	})
	for id := 1; id <= 5; id++ {
		start(id)
	}
	mode := func(id int) string {
		for _, l := range strings.Split(fourLetter(pc.client[id], "srvr"), "\n") {
			if strings.HasPrefix(l, "Mode: ") {
				return strings.TrimPrefix(l, "Mode: ")
			}
		}
		return ""
	}
	lead := 0
	waitUntil(t, "a leader, the relay and the observer serving", 30*time.Second, func() bool {
		lead = 0
		for id := 1; id <= 3; id++ {
			if mode(id) == "leader" {
				lead = id
			}
		}
		return lead != 0 && mode(4) == "relay" && mode(5) == "observer"
	})
	mntr := func(id int, key string) string {
		for _, l := range strings.Split(fourLetter(pc.client[id], "mntr"), "\n") {
			if k, v, ok := strings.Cut(l, "\t"); ok && k == key {
				return v
			}
		}
		return ""
	}
	if got := mntr(lead, "zk_synced_observers"); got != "1" {
		t.Errorf("the leader serves %q observer streams, want 1 (the site's relay)", got)
	}
	if got := mntr(5, "zk_upstream"); got != "4" {
		t.Errorf("the remote observer follows %q, want the relay 4", got)
	}
	if got := mntr(5, "zk_site"); got != "eu" {
		t.Errorf("the remote observer's zk_site is %q, want eu", got)
	}
	waitUntil(t, "the leader to report site eu caught up and heard from", 10*time.Second, func() bool {
		heard := mntr(lead, "zk_site_eu_last_heard_ms")
		return mntr(lead, "zk_site_eu_lag_txns") == "0" && heard != "" && heard != "-1"
	})
	connect := func(id int) *zk.Conn {
		c, _, err := zk.Connect([]string{pc.client[id]}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	obs, leader := connect(5), connect(lead)
	if _, err := obs.Create("/from-eu", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		pc.dumpLogs()
		t.Fatalf("write through the remote observer: %v", err)
	}
	if _, err := leader.Sync("/from-eu"); err != nil {
		t.Fatal(err)
	}
	if d, _, err := leader.Get("/from-eu"); err != nil || string(d) != "1" {
		t.Fatalf("the leader reads %q %v", d, err)
	}
	if _, err := leader.Create("/from-primary", []byte("2"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Sync("/from-primary"); err != nil {
		t.Fatal(err)
	}
	if d, _, err := obs.Get("/from-primary"); err != nil || string(d) != "2" {
		t.Fatalf("the remote observer reads %q %v after sync", d, err)
	}
	// The relay dies; writes go on in the primary; the observer follows
	// the primary directly; the relay comes back and catches up.
	pc.kill(4)
	for i := 0; i < 20; i++ {
		if _, err := leader.Create(fmt.Sprintf("/during-%02d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("write in the primary with the relay down: %v", err)
		}
	}
	// The leader sees the site fall behind (or its relay gone: -1).
	if got := mntr(lead, "zk_site_eu_lag_txns"); got == "0" || got == "" {
		t.Errorf("with the relay down and 20 writes made, the leader reports site eu lagging %q", got)
	}
	// With no relay of its site serving it, the observer follows the
	// primary directly over its own WAN link.
	waitUntil(t, "the observer to follow a voter directly and see the writes", 30*time.Second, func() bool {
		if up := mntr(5, "zk_upstream"); up != "1" && up != "2" && up != "3" {
			return false
		}
		_, st, err := obs.Exists("/during-19")
		return err == nil && st != nil
	})
	start(4)
	pc.converged()
}
