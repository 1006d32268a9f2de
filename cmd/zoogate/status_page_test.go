package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// chromiumPath finds Debian's chromium. Without it the status page test
// cannot run, and it fails (never skips) saying how to install it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the status page is tested in a real browser; install it with `apt-get install -y chromium` (as root; .ci/run does)")
	return ""
}

// chromium runs headless chromium on url with args, bounded in time, and
// returns its standard output. --virtual-time-budget lets the page's
// script poll a few times before the DOM is dumped or the screenshot
// taken, without waiting that long in real time.
func chromium(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=4000"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, errb.String())
	}
	return out.Bytes()
}

// pageRow is one node's row of the rendered status page: its data-*
// attributes and its text.
type pageRow struct {
	attrs map[string]string
	text  string
}

var (
	rowRE  = regexp.MustCompile(`(?s)<tr ([^>]*data-node="[^"]*"[^>]*)>(.*?)</tr>`)
	attrRE = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	tagRE  = regexp.MustCompile(`<[^>]*>`)
)

// renderedPage is the status page of a node as chromium renders it.
type renderedPage struct {
	dom  string
	rows map[string]pageRow // by node id
}

func (p renderedPage) state(id int) string { return p.rows[fmt.Sprint(id)].attrs["data-state"] }

// leaders lists the ids of the rows marked as the leader.
func (p renderedPage) leaders() []string {
	var out []string
	for id, r := range p.rows {
		if r.attrs["data-leader"] == "true" && strings.Contains(r.text, "leader") {
			out = append(out, id)
		}
	}
	return out
}

// loadStatusPage dumps the DOM of the status page at a node's admin
// address after its script has run.
func loadStatusPage(t *testing.T, bin, admin string) renderedPage {
	t.Helper()
	dom := string(chromium(t, bin, "http://"+admin+"/", "--dump-dom"))
	p := renderedPage{dom: dom, rows: map[string]pageRow{}}
	for _, m := range rowRE.FindAllStringSubmatch(dom, -1) {
		r := pageRow{attrs: map[string]string{}, text: tagRE.ReplaceAllString(m[2], " ")}
		for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
			r.attrs[a[1]] = a[2]
		}
		p.rows[r.attrs["data-node"]] = r
	}
	return p
}

// statusJSON runs `zoogate status --json` against the deployment.
func statusJSON(t *testing.T, config string) (*statusReport, bool) {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run([]string{"status", "--config", config, "--json"}, &out, &errb); rc != 0 {
		t.Logf("zoogate status: rc %d: %s", rc, errb.String())
		return nil, false
	}
	var rep statusReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("zoogate status --json: %v\n%s", err, out.String())
	}
	return &rep, true
}

func statusNodeByID(rep *statusReport, id int) (statusNode, string) {
	for _, s := range rep.Sites {
		for _, n := range s.Nodes {
			if n.ID == uint64(id) {
				return n, s.Name
			}
		}
	}
	return statusNode{}, ""
}

// TestStatusPageAndCommand runs a two-site deployment with gossip and admin
// addresses as processes (voters 1-3; in site "eu" relays 4 and 5 and
// observer 6) and checks the status page in headless chromium and
// `zoogate status`: healthy, the voter's page lists every node of both
// sites and marks the leader, and zoogate status shows each node in its
// site with the leader; then both relays are killed (SIGKILL) and the
// observer's page and zoogate status show them dead, the observer still
// listed with its state and lag, and the voter's page still marks the
// leader. With
// ZOOGATE_STATUS_SCREENSHOT=FILE the healthy voter page's screenshot
// (1280x800) is written to FILE (docs/status-page.png was made so).
func TestStatusPageAndCommand(t *testing.T) {
	browser := chromiumPath(t)
	ws := newWANLayout(t, wanLayout{relays: 2, observers: 1, gossip: true, admin: true})
	var last renderedPage
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last page rendered:\n%s", last.dom)
			ws.dumpLogs()
		}
	})
	lead := 0
	waitUntil(t, "a leader, both relays and the observer serving", 45*time.Second, func() bool {
		lead = 0
		for id := 1; id <= 3; id++ {
			if ws.mode(id) == "leader" {
				lead = id
			}
		}
		return lead != 0 && ws.mode(4) == "relay" && ws.mode(5) == "relay" && ws.mode(6) == "observer"
	})

	// zoogate status: both sites, every node serving in its site, the
	// leader marked.
	var rep *statusReport
	waitUntil(t, "zoogate status to show six serving nodes and the leader", 20*time.Second, func() bool {
		var ok bool
		if rep, ok = statusJSON(t, ws.config); !ok || rep.Leader != uint64(lead) {
			return false
		}
		for id := 1; id <= 6; id++ {
			if n, _ := statusNodeByID(rep, id); !n.InView || n.State != "serving" {
				return false
			}
		}
		return true
	})
	if len(rep.Sites) != 2 || rep.Sites[0].Name != "primary" || !rep.Sites[0].Primary || rep.Sites[1].Name != "eu" || rep.Sites[1].Primary {
		t.Errorf("zoogate status sites: %+v", rep.Sites)
	}
	for id, want := range map[int][2]string{1: {"primary", "voter"}, 3: {"primary", "voter"}, 4: {"eu", "relay"}, 5: {"eu", "relay"}, 6: {"eu", "observer"}} {
		if n, site := statusNodeByID(rep, id); site != want[0] || n.Role != want[1] || n.Client != ws.client[id] || n.Leader != (id == lead) {
			t.Errorf("zoogate status: node %d in %q: %+v, want %v", id, site, n, want)
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"status", "--config", ws.config}, &out, &errb); rc != 0 {
		t.Fatalf("zoogate status: rc %d: %s", rc, errb.String())
	}
	table := out.String()
	t.Logf("zoogate status:\n%s", table)
	for _, re := range []string{`(?m)^site primary \(primary\): 3 of 3 serving$`, `(?m)^site eu: 3 of 3 serving$`,
		fmt.Sprintf(`(?m)^\s+%d\s+voter\s+\*\s+serving\s+0 txns / 0 ms\s+\S+ ago\s+-\s+%s$`, lead, regexp.QuoteMeta(ws.client[lead])),
		fmt.Sprintf(`(?m)^\s+6\s+observer\s+serving\s+-?\d+ txns / -?\d+ ms\s+\S+ ago\s+[45]\s+%s$`, regexp.QuoteMeta(ws.client[6]))} {
		if !regexp.MustCompile(re).MatchString(table) {
			t.Errorf("zoogate status lacks %s:\n%s", re, table)
		}
	}

	// Some load on voter 1, so that its page shows a request rate.
	c, _, err := zk.Connect([]string{ws.client[1]}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Create(fmt.Sprintf("/load-%04d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Voter 1's page: served by 1, every node of both sites listed, the
	// leader (only it) marked, the primary and the relays serving (the
	// observer is only in its site's pool: listed, state unknown here).
	waitUntil(t, "voter 1's page to list all six nodes with the leader marked", 30*time.Second, func() bool {
		last = loadStatusPage(t, browser, ws.admin[1])
		if len(last.rows) != 6 || !strings.Contains(last.dom, `data-self="1"`) || !strings.Contains(last.dom, "served by node 1") {
			return false
		}
		for id := 1; id <= 5; id++ {
			if last.state(id) != "serving" {
				return false
			}
		}
		l := last.leaders()
		return len(l) == 1 && l[0] == fmt.Sprint(lead) && last.rows["6"].attrs["data-role"] == "observer"
	})
	if !strings.Contains(last.dom, `data-site="primary"`) || !strings.Contains(last.dom, `data-site="eu"`) {
		t.Errorf("voter 1's page lacks a site section")
	}
	if !regexp.MustCompile(`id="rate">\d+\.\d req/s<`).MatchString(last.dom) || !regexp.MustCompile(`id="latency">[\d.]+ / \d+ ms<`).MatchString(last.dom) {
		t.Errorf("voter 1's page shows no request rate or latency")
	}
	shot := filepath.Join(t.TempDir(), "status.png")
	if p := os.Getenv("ZOOGATE_STATUS_SCREENSHOT"); p != "" {
		shot = p
	}
	chromium(t, browser, "http://"+ws.admin[1]+"/", "--screenshot="+shot, "--window-size=1280,800", "--hide-scrollbars")
	if b, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
		t.Errorf("screenshot %s: %d bytes, %v", shot, len(b), err)
	}

	// The observer's page, healthy: its site's relays and itself serving.
	waitUntil(t, "observer 6's page to show its site serving", 20*time.Second, func() bool {
		last = loadStatusPage(t, browser, ws.admin[6])
		return len(last.rows) == 6 && last.state(4) == "serving" && last.state(5) == "serving" && last.state(6) == "serving"
	})

	// Site eu loses both relays (SIGKILL).
	ws.kill(4)
	ws.kill(5)
	waitUntil(t, "observer 6's page to show both relays dead and itself with its lag", 40*time.Second, func() bool {
		last = loadStatusPage(t, browser, ws.admin[6])
		obs := last.rows["6"].attrs
		_, hasLag := obs["data-lag-txns"]
		return last.state(4) == "dead" && last.state(5) == "dead" && hasLag &&
			(obs["data-state"] == "serving" || obs["data-state"] == "read-only" || obs["data-state"] == "syncing")
	})
	if !strings.Contains(last.rows["6"].text, "txns") {
		t.Errorf("the observer's row shows no lag: %q", last.rows["6"].text)
	}
	// Voter 1 knows the relays from the WAN pool only, whose slower
	// probes conclude about half a minute after the kill: its page keeps
	// the leader marked and every node listed meanwhile.
	last = loadStatusPage(t, browser, ws.admin[1])
	if l := last.leaders(); len(last.rows) != 6 || len(l) != 1 || l[0] != fmt.Sprint(lead) {
		t.Errorf("voter 1's page after the cut: %d rows, leader rows %v, want 6 and [%d]", len(last.rows), l, lead)
	}
	// zoogate status merges the observer's view (the site's pool): both
	// relays dead, the leader known.
	waitUntil(t, "zoogate status to show both relays dead", 20*time.Second, func() bool {
		rep, ok := statusJSON(t, ws.config)
		if !ok {
			return false
		}
		r4, _ := statusNodeByID(rep, 4)
		r5, _ := statusNodeByID(rep, 5)
		return r4.State == "dead" && r5.State == "dead" && rep.Leader == uint64(lead)
	})
}

// TestStatusCommandBadInput: zoogate status without --config, with a stray
// argument or an unknown flag is a usage error (2); a file that does not
// load, or a deployment no node of which answers, exits 1 saying why.
func TestStatusCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	down := filepath.Join(dir, "down.toml")
	src := fmt.Sprintf("[cluster]\nname = \"down\"\n\n[[node]]\nid = 1\nclient = %q\ngossip = %q\ndata_dir = %q\n",
		freePort(t), freePort(t), filepath.Join(dir, "n1"))
	if err := os.WriteFile(down, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		rc   int
		want string
	}{
		{nil, 2, "--config FILE"},
		{[]string{"--config", down, "extra"}, 2, "--config FILE"},
		{[]string{"--nosuch"}, 2, "nosuch"},
		{[]string{"--config", filepath.Join(dir, "missing.toml")}, 1, "missing.toml"},
		{[]string{"--config", down, "--timeout", "300ms"}, 1, "no node answered gsip"},
	} {
		for _, cmd := range []string{"status", "members"} { // one way of asking the nodes
			var out, errb bytes.Buffer
			rc := run(append([]string{cmd}, c.args...), &out, &errb)
			if rc != c.rc || !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
				t.Errorf("zoogate %s %q: rc %d, stderr %q, stdout %q; want rc %d and %q", cmd, c.args, rc, errb.String(), out.String(), c.rc, c.want)
			}
		}
	}
}
