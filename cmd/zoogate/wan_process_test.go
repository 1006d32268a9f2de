package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zoogate/zoogate/internal/testport"
)

// freeUDPPort: freePort's addresses are free for UDP too, and one set
// serves both (a topology file forbids a TCP and a UDP listener on one
// address).
func freeUDPPort(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// wanSite runs a two-site deployment as processes: voters 1-3 in the
// primary site, and in site "eu" relay 4 (behind an emulated 20 ms WAN) and
// observer 5, which has a WAN link of its own. start (re)starts a node.
type wanSite struct {
	*procCluster
	start func(id int)
	admin map[int]string // admin addresses (wanLayout.admin)
}

// newWANSite starts three voters, a relay (4) and an observer (5) of site
// "eu"; clusterExtra is added to the [cluster] table.
func newWANSite(t *testing.T, clusterExtra ...string) *wanSite {
	return newWANLayout(t, wanLayout{relays: 1, observers: 1}, clusterExtra...)
}

// wanLayout is the remote site "eu" of a WAN deployment: ids 4.. are its
// relays, then its observers; gossip gives every node gossip addresses
// (voters and relays a WAN pool too, with tls init's gossip.key); admin
// gives every node an admin address.
type wanLayout struct {
	relays, observers int
	gossip            bool
	admin             bool
}

// newWANLayout starts three voters and the remote site of l.
func newWANLayout(t *testing.T, l wanLayout, clusterExtra ...string) *wanSite {
	bin := buildBinary(t)
	dir := t.TempDir()
	pc := &procCluster{t: t, bin: bin, dir: dir, client: map[int]string{}, procs: map[int]*exec.Cmd{}}
	admin := map[int]string{}
	var b strings.Builder
	tls := filepath.Join(dir, "tls")
	fmt.Fprintf(&b, "[cluster]\nname = \"wan-test\"\ntick = \"500ms\"\ninit_limit = 10\nsync_limit = 4\nmax_client_cnxns = 0\nfour_letter_words = [\"*\"]\ntls_ca = %q\n",
		filepath.Join(tls, "ca.crt"))
	if l.gossip {
		fmt.Fprintf(&b, "gossip_key_file = %q\n", filepath.Join(tls, "gossip.key"))
	}
	last := 3 + l.relays + l.observers
	for _, l := range clusterExtra {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n[[site]]\nname = \"primary\"\nprimary = true\n\n[[site]]\nname = \"eu\"\n")
	for id := 1; id <= last; id++ {
		pc.client[id] = freePort(t)
		site, role := "primary", "voter"
		switch {
		case id > 3+l.relays:
			site, role = "eu", "observer"
		case id > 3:
			site, role = "eu", "relay"
		}
		// Every node, the observers too (they fall back to the primary
		// over their own WAN link).
		extra := fmt.Sprintf("peer = %q\nwan = %q\ntls_cert = %q\ntls_key = %q\n", freePort(t), freeUDPPort(t),
			filepath.Join(tls, fmt.Sprintf("node-%d.crt", id)), filepath.Join(tls, fmt.Sprintf("node-%d.key", id)))
		if id <= 3 {
			extra += fmt.Sprintf("election = %q\n", freePort(t))
		}
		if l.gossip {
			extra += fmt.Sprintf("gossip = %q\n", freePort(t))
			if role != "observer" {
				extra += fmt.Sprintf("gossip_wan = %q\n", freePort(t))
			}
		}
		if l.admin {
			admin[id] = freePort(t)
			extra += fmt.Sprintf("admin = %q\n", admin[id])
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
		if id > 3 && id <= 3+l.relays {
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
	for id := 1; id <= last; id++ {
		start(id)
	}
	return &wanSite{procCluster: pc, start: start, admin: admin}
}

// mode is what srvr says a node is.
func (ws *wanSite) mode(id int) string {
	for _, l := range strings.Split(fourLetter(ws.client[id], "srvr"), "\n") {
		if strings.HasPrefix(l, "Mode: ") {
			return strings.TrimPrefix(l, "Mode: ")
		}
	}
	return ""
}

// mntr returns one mntr value of a node.
func (ws *wanSite) mntr(id int, key string) string {
	for _, l := range strings.Split(fourLetter(ws.client[id], "mntr"), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok && k == key {
			return v
		}
	}
	return ""
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
	ws := newWANSite(t)
	pc, start := ws.procCluster, ws.start
	mode, mntr := ws.mode, ws.mntr
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

// TestWANRelayFollowsFollower: with relay_upstream = "follower" the relay
// follows a voter that is not the leader (the leader serves no observer
// stream), the remote site still sees every write, and when that voter
// dies the relay moves to another voter and the site keeps up.
func TestWANRelayFollowsFollower(t *testing.T) {
	ws := newWANSite(t, `relay_upstream = "follower"`)
	pc, mode, mntr := ws.procCluster, ws.mode, ws.mntr
	defer func() {
		if t.Failed() {
			pc.dumpLogs()
		}
	}()
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
	// The only relay starts at the second voter.
	if got := mntr(4, "zk_upstream"); got != "2" {
		t.Fatalf("the relay follows %q, want voter 2", got)
	}
	if lead != 2 {
		if got := mntr(lead, "zk_synced_observers"); got != "0" {
			t.Errorf("the leader serves %q observer streams, want 0 (the relay follows voter 2)", got)
		}
		if got := mntr(2, "zk_synced_observers"); got != "1" {
			t.Errorf("voter 2 serves %q observer streams, want 1 (the relay)", got)
		}
	}
	c, _, err := zk.Connect([]string{pc.client[lead]}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obs, _, err := zk.Connect([]string{pc.client[5]}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if _, err := c.Create("/via-follower", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the remote observer to see a write made at the leader", 10*time.Second, func() bool {
		_, st, err := obs.Exists("/via-follower")
		return err == nil && st != nil
	})
	if _, err := obs.Create("/from-eu", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("a write through the remote observer: %v", err)
	}
	if lead == 2 {
		return // the leader is the relay's voter: killing it is a leader change, tested elsewhere
	}
	pc.kill(2)
	for i := 0; i < 10; i++ {
		if _, err := c.Create(fmt.Sprintf("/after-%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("a write with voter 2 down: %v", err)
		}
	}
	waitUntil(t, "the relay to follow another voter and the site to see the writes", 30*time.Second, func() bool {
		if up := mntr(4, "zk_upstream"); up != "1" && up != "3" {
			return false
		}
		_, st, err := obs.Exists("/after-9")
		return err == nil && st != nil
	})
}

// TestWANSiteKill9UnderLoad writes through a remote observer and through
// the primary at once while the leader and then the observer are killed
// with SIGKILL (the observer restarted); afterwards every acknowledged
// write is on every node and all trees are equal.
func TestWANSiteKill9UnderLoad(t *testing.T) {
	ws := newWANSite(t)
	leader := func() int {
		lead := 0
		waitUntil(t, "a leader, the relay and the observer serving", 60*time.Second, func() bool {
			lead = 0
			for id := range ws.procs {
				if id <= 3 && ws.mode(id) == "leader" {
					lead = id
				}
			}
			_, obsUp := ws.procs[5]
			return lead != 0 && ws.mode(4) == "relay" && (!obsUp || ws.mode(5) == "observer")
		})
		return lead
	}
	lead := leader()
	var (
		mu    sync.Mutex
		acked []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Two writers, one on the remote site's observer, one on the primary
	// voters; each reconnects through go-zookeeper as servers die.
	writer := func(name string, servers []string) {
		defer wg.Done()
		c, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for i := 0; i < 400; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := fmt.Sprintf("/%s-%03d", name, i)
			if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err == nil || errors.Is(err, zk.ErrNodeExists) {
				mu.Lock()
				acked = append(acked, p)
				mu.Unlock()
			}
		}
	}
	wg.Add(2)
	go writer("eu", []string{ws.client[5]})
	go writer("primary", []string{ws.client[1], ws.client[2], ws.client[3]})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitUntil(t, "some writes before the first kill", 30*time.Second, func() bool { return count() >= 30 })
	ws.kill(lead)
	waitUntil(t, "writes after the leader's death", 60*time.Second, func() bool { return count() >= 120 })
	ws.start(lead)
	ws.kill(5)
	waitUntil(t, "primary writes while the observer is down", 60*time.Second, func() bool { return count() >= 180 })
	ws.start(5)
	leader()
	close(stop)
	wg.Wait()
	if count() < 180 {
		t.Fatalf("only %d writes acknowledged", count())
	}
	// Every acknowledged write is on every node.
	waitUntil(t, "every node serving", 60*time.Second, func() bool {
		for id := 1; id <= 5; id++ {
			if ws.mode(id) == "" {
				return false
			}
		}
		return true
	})
	for id := 1; id <= 5; id++ {
		c, _, err := zk.Connect([]string{ws.client[id]}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("node %d: sync: %v", id, err)
		}
		mu.Lock()
		for _, p := range acked {
			if ok, _, err := c.Exists(p); err != nil || !ok {
				mu.Unlock()
				ws.dumpLogs()
				t.Fatalf("node %d lacks acknowledged %s (%v)", id, p, err)
			}
		}
		mu.Unlock()
		c.Close()
	}
	ws.converged()
}
