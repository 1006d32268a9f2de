package drill

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoogate/zoogate/internal/testport"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// zoogateBinary builds cmd/zoogate once for the tests of this package.
func zoogateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drill-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "zoogate")
		out, err := exec.Command("go", "build", "-o", builtBin, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// smallDeployment writes a topology file: three voters in "primary", and
// site "eu" with relay 4 and observer 5, gossip and admin addresses on
// every node, ports free on this machine. It returns the file and the
// nodes' client addresses.
func smallDeployment(t *testing.T, extra string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"drill-test\"\ntick = \"500ms\"\ninit_limit = 10\nsync_limit = 4\ntls_ca = \"x/ca.crt\"\ngossip_key_file = \"x/gossip.key\"\n%s\n", extra)
	b.WriteString("[[site]]\nname = \"primary\"\nprimary = true\n\n[[site]]\nname = \"eu\"\n")
	var clients []string
	for id := 1; id <= 5; id++ {
		site, role := "primary", "voter"
		switch id {
		case 4:
			site, role = "eu", "relay"
		case 5:
			site, role = "eu", "observer"
		}
		c := testport.Addr(t)
		clients = append(clients, c)
		fmt.Fprintf(&b, "\n[[node]]\nid = %d\nsite = %q\nrole = %q\nclient = %q\nadmin = %q\ngossip = %q\ndata_dir = \"x/n%d\"\ntls_cert = \"x/n%d.crt\"\ntls_key = \"x/n%d.key\"\n",
			id, site, role, c, testport.Addr(t), testport.Addr(t), id, id, id)
		if role != "observer" {
			fmt.Fprintf(&b, "peer = %q\nwan = %q\ngossip_wan = %q\n", testport.Addr(t), testport.Addr(t), testport.Addr(t))
		}
		if role == "voter" {
			fmt.Fprintf(&b, "election = %q\n", testport.Addr(t))
		}
	}
	p := filepath.Join(dir, "small.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, clients
}

// free reports whether nothing listens on addr any more.
func free(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

var dirInControl = regexp.MustCompile(`\((/[^)]*zoogate-drill-[^)]*)\)`)

// TestLocalDrillEveryScenario runs every scenario with --local on a small
// two-site deployment, with short faults, and checks the JSON report
// against what each fault must do to clients, the HTML page, and that the
// drill left no process and no directory behind.
func TestLocalDrillEveryScenario(t *testing.T) {
	bin := zoogateBinary(t)
	file, clients := smallDeployment(t, "")
	html := filepath.Join(t.TempDir(), "report.html")
	var out, errb bytes.Buffer
	start := time.Now()
	rc := Main([]string{"--config", file, "--local", "--bin", bin, "--json", "--html", html,
		"--duration", "2s", "--settle", "1s", "--timeout", "45s", "--seed", "7"}, &out, &errb)
	t.Logf("drill took %v, rc %d\n%s", time.Since(start).Round(time.Second), rc, errb.String())
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	var sum bytes.Buffer
	writeSummary(&rep, &sum)
	t.Log(sum.String())
	if rc != 0 || !rep.Passed {
		t.Errorf("rc %d, passed %v", rc, rep.Passed)
	}
	if len(rep.Scenarios) != len(AllScenarios) {
		t.Fatalf("%d scenarios, want %d", len(rep.Scenarios), len(AllScenarios))
	}
	by := map[string]ScenarioResult{}
	for i, s := range rep.Scenarios {
		by[s.Name] = s
		if s.Name != AllScenarios[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.Name, AllScenarios[i])
		}
		if !s.Passed || s.LostAckedWrites != 0 || !s.Linearizable || s.LinCheck != LinOK || s.RecoveredMs <= 0 || s.AckedWrites < 20 {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if !strings.HasPrefix(s.Trees, "agree (5 nodes") {
			t.Errorf("%s: trees %s", s.Name, s.Trees)
		}
		if len(s.Sites) != 2 || s.Sites[0].Site != "primary" || s.Sites[1].Site != "eu" {
			t.Fatalf("%s: sites %+v", s.Name, s.Sites)
		}
		for _, r := range s.Sites {
			if r.Counts.Writes-r.Counts.WritesFailed < 5 || r.Counts.Reads-r.Counts.ReadsFailed < 5 {
				t.Errorf("%s: site %s barely ran: %+v", s.Name, r.Site, r.Counts)
			}
		}
	}
	site := func(name string, i int) SiteResult { return by[name].Sites[i] }
	if f := by[KillLeader].Fault; !strings.Contains(f, "(the leader) killed") {
		t.Errorf("kill-leader did %q", f)
	}
	if f := by[KillRelay].Fault; !strings.Contains(f, "node 4 (a relay of eu") {
		t.Errorf("kill-relay did %q", f)
	}
	// A cut site cannot write (its writes go to the leader) for most of
	// the cut; the primary writes on.
	if eu, p := site(CutSite, 1), site(CutSite, 0); eu.WriteUnavailableMs < 1500 || p.WriteUnavailableMs >= eu.WriteUnavailableMs {
		t.Errorf("cut-site: eu write unavailable %v ms, primary %v ms", eu.WriteUnavailableMs, p.WriteUnavailableMs)
	}
	if eu := site(CutSite, 1); eu.MaxStalenessMs < 1000 {
		t.Errorf("cut-site: eu's reads at most %v ms stale during a 2 s cut", eu.MaxStalenessMs)
	}
	// A client that asks for read-only mode reads on through the cut.
	if eu := site(CutSite, 1); eu.ReadOnlyUnavailableMs >= 1000 || eu.ReadOnlyMaxStalenessMs < 1000 {
		t.Errorf("cut-site: eu's read-only reader unavailable %v ms, at most %v ms stale", eu.ReadOnlyUnavailableMs, eu.ReadOnlyMaxStalenessMs)
	}
	// Without voters nobody writes.
	for i := range 2 {
		if r := site(LosePrimary, i); r.WriteUnavailableMs < 1500 {
			t.Errorf("lose-primary: site %s write unavailable only %v ms", r.Site, r.WriteUnavailableMs)
		}
	}
	// slow-wan adds 150 ms each way: a remote write takes 300 ms more.
	if r := site(SlowWAN, 1); r.MaxWriteLatencyMs < 300 {
		t.Errorf("slow-wan: eu's slowest write %v ms", r.MaxWriteLatencyMs)
	}
	serving := 0
	for _, a := range by[RollingRestart].Actions {
		if strings.HasSuffix(a.What, "serving again") {
			serving++
		}
	}
	if serving != 5 {
		t.Errorf("rolling-restart: %d nodes served again, want 5: %+v", serving, by[RollingRestart].Actions)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg "); n != 2*len(AllScenarios) {
		t.Errorf("the page has %d timelines, want %d", n, 2*len(AllScenarios))
	}
	for _, external := range []string{"<script", "src=", "href=", "url(", "@import"} {
		if strings.Contains(string(page), external) {
			t.Errorf("the page refers to something outside it (%s)", external)
		}
	}
	m := dirInControl.FindStringSubmatch(rep.Control)
	if m == nil {
		t.Fatalf("control %q names no directory", rep.Control)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the drill left %s behind (%v)", m[1], err)
	}
	for i, c := range clients {
		if !free(c) {
			t.Errorf("node %d still listens on %s after the drill", i+1, c)
		}
	}
}

// TestLocalDrillInterrupted: Ctrl-C during a fault heals, stops every node
// and removes the directory; the exit code says the drill did not pass.
func TestLocalDrillInterrupted(t *testing.T) {
	bin := zoogateBinary(t)
	file, clients := smallDeployment(t, "")
	cmd := exec.Command(bin, "drill", "--config", file, "--local", "cut-site", "eu", "--duration", "60s", "--settle", "500ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	deadline := time.After(60 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the drill ended before the fault:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, "fault: site eu cut off") {
				break wait
			}
		case <-deadline:
			t.Fatalf("no fault within 60 s:\n%s", strings.Join(seen, "\n"))
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() {
		for l := range lines {
			seen = append(seen, l)
		}
		exited <- cmd.Wait()
	}()
	select {
	case err = <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the drill did not end within 60 s of SIGINT:\n%s", strings.Join(seen, "\n"))
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	all := strings.Join(seen, "\n")
	if !strings.Contains(all, "interrupted") || !strings.Contains(all, "stopping the nodes") {
		t.Errorf("stderr:\n%s", all)
	}
	for i, c := range clients {
		if !free(c) {
			t.Errorf("node %d still listens on %s", i+1, c)
		}
	}
	if m := regexp.MustCompile(`/[^ ]*zoogate-drill-[0-9]+`).FindString(out.String() + all); m != "" {
		if _, err := os.Stat(m); !os.IsNotExist(err) {
			t.Errorf("%s left behind", m)
		}
	}
}

// TestFaultEndpointOnServe: zoogate serve mounts the endpoint on the
// admin address; off by default (403), behind the admin token when the
// deployment has one.
func TestFaultEndpointOnServe(t *testing.T) {
	bin := zoogateBinary(t)
	dir := t.TempDir()
	token := filepath.Join(dir, "admin.token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	for _, c := range []struct {
		name, cluster string
		auth          string
		want          int
	}{
		{"off", "", "", http.StatusForbidden},
		{"token missing", fmt.Sprintf("drill_faults = true\nadmin_token_file = %q", token), "", http.StatusUnauthorized},
		{"token given", fmt.Sprintf("drill_faults = true\nadmin_token_file = %q", token), "Bearer s3cret", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, admin := testport.Addr(t), testport.Addr(t)
			cfg := filepath.Join(t.TempDir(), "one.toml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("[cluster]\n%s\n[[node]]\nid = 1\nclient = %q\nadmin = %q\ndata_dir = %q\n", c.cluster, client, admin, filepath.Join(t.TempDir(), "d"))), 0o644)
			srv := exec.Command(bin, "serve", "--config", cfg)
			logb := &bytes.Buffer{}
			srv.Stdout, srv.Stderr = logb, logb
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { srv.Process.Kill(); srv.Wait() }()
			var resp *http.Response
			deadline := time.Now().Add(20 * time.Second)
			for {
				req, _ := http.NewRequest(http.MethodGet, "http://"+admin+FaultPath, nil)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				var err error
				if resp, err = http.DefaultClient.Do(req); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("admin server not up: %v\n%s", err, logb.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("GET %s: %d %v, want %d", FaultPath, resp.StatusCode, body, c.want)
			}
			if c.want == http.StatusForbidden && !strings.Contains(fmt.Sprint(body["error"]), "drill_faults = true") {
				t.Errorf("403 says %v", body)
			}
			if c.want == http.StatusOK && (body["drill_faults"] != true || body["wan"] != "") {
				t.Errorf("state %v", body)
			}
		})
	}
}

// TestTemplatesDrill: on a deployment the drill did not start, nodes are
// killed and started with --kill-cmd and --start-cmd ({id}, {config}).
func TestTemplatesDrill(t *testing.T) {
	bin := zoogateBinary(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"tmpl\"\ntick = \"500ms\"\nfour_letter_words = [\"*\"]\n")
	var clients []string
	for id := 1; id <= 3; id++ {
		c := testport.Addr(t)
		clients = append(clients, c)
		fmt.Fprintf(&b, "\n[[node]]\nid = %d\nclient = %q\npeer = %q\nelection = %q\ndata_dir = %q\n", id, c, testport.Addr(t), testport.Addr(t), filepath.Join(dir, fmt.Sprintf("n%d", id)))
	}
	file := filepath.Join(dir, "three.toml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(dir, "n{id}.pid")
	start := fmt.Sprintf("%s serve --config {config} --id {id} >> %s 2>&1 & echo $! > %s", bin, filepath.Join(dir, "n{id}.log"), pid)
	kill := fmt.Sprintf("kill -9 $(cat %s)", pid)
	t.Cleanup(func() {
		for id := 1; id <= 3; id++ {
			exec.Command("sh", "-c", expand(kill, uint64(id), file)).Run()
		}
	})
	for id := 1; id <= 3; id++ {
		if out, err := exec.Command("sh", "-c", expand(start, uint64(id), file)).CombinedOutput(); err != nil {
			t.Fatalf("start node %d: %v %s", id, err, out)
		}
	}
	var out, errb bytes.Buffer
	rc := Main([]string{"--config", file, "--kill-cmd", kill, "--start-cmd", start, "--json",
		"--duration", "1s", "--settle", "500ms", "--timeout", "30s", "kill-leader", "kill-follower"}, &out, &errb)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("rc %d: %v\n%s\n%s", rc, err, out.String(), errb.String())
	}
	if rc != 0 || !rep.Passed || len(rep.Scenarios) != 2 {
		t.Fatalf("rc %d: %s\n%s", rc, out.String(), errb.String())
	}
	if !strings.Contains(rep.Control, "--kill-cmd") {
		t.Errorf("control %q", rep.Control)
	}
	for _, s := range rep.Scenarios {
		if len(s.Sites) != 1 || s.Sites[0].Site != "primary" || s.LostAckedWrites != 0 || !s.Linearizable {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
	// The nodes are the test's: still serving after the drill.
	for i, c := range clients {
		if mode(c) == "" {
			t.Errorf("node %d does not answer after the drill", i+1)
		}
	}
}

// TestLocalDrillSetupFailures: a binary that cannot make certificates, and
// nodes that exit at once, end the drill with exit 1 saying why (the
// nodes' last log lines), and leave no directory behind.
func TestLocalDrillSetupFailures(t *testing.T) {
	real := zoogateBinary(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	file, _ := smallDeployment(t, "")
	broken := filepath.Join(t.TempDir(), "broken-zoogate")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = serve ]; then echo \"boom: this node cannot serve\" >&2; exit 3; fi\nexec %s \"$@\"\n", real)
	if err := os.WriteFile(broken, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bin  string
		want []string
	}{
		{"/bin/false", []string{"setup", "tls init"}},
		{broken, []string{"the deployment does not serve", "node 1's log, last lines:", "boom: this node cannot serve"}},
	} {
		var out, errb bytes.Buffer
		rc := Main([]string{"--config", file, "--local", "--bin", c.bin, "--timeout", "3s", "kill-leader"}, &out, &errb)
		if rc != 1 {
			t.Errorf("--bin %s: rc %d, want 1\n%s", c.bin, rc, errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("--bin %s: stderr lacks %q:\n%s", c.bin, w, errb.String())
			}
		}
		if strings.Contains(out.String(), "PASSED") {
			t.Errorf("--bin %s: reported as passed:\n%s", c.bin, out.String())
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("--bin %s: left %v in the temporary directory", c.bin, left)
		}
	}
}
