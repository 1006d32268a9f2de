package drill

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/topology"
)

const twoSites = `
[cluster]
name = "t"
%s
[[site]]
name = "primary"
primary = true
[[site]]
name = "eu"
[[node]]
id = 1
client = "127.0.0.1:12181"
peer = "127.0.0.1:12888"
election = "127.0.0.1:13888"
wan = "127.0.0.1:14181"
admin = "127.0.0.1:18081"
tls_cert = "c1"
tls_key = "k1"
data_dir = "d1"
[[node]]
id = 2
site = "eu"
role = "relay"
client = "127.0.0.1:12182"
peer = "127.0.0.1:12889"
wan = "127.0.0.1:14182"
%s
tls_cert = "c2"
tls_key = "k2"
data_dir = "d2"
`

func writeFile(t *testing.T, cluster, relayAdmin string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.toml")
	content := strings.Replace(strings.Replace(twoSites, "%s", cluster+"\ntls_ca = \"ca\"", 1), "%s", relayAdmin, 1)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Usage errors exit 2 and name the flag; nothing is started.
func TestBadInput(t *testing.T) {
	file := writeFile(t, "", `admin = "127.0.0.1:18082"`)
	faults := writeFile(t, "drill_faults = true", "")
	noSrvr := writeFile(t, `four_letter_words = ["ruok"]`, `admin = "127.0.0.1:18082"`)
	cases := []struct {
		args []string
		rc   int
		want []string
	}{
		{[]string{}, 2, []string{"--config: required"}},
		{[]string{"--config", file, "--scenario", "explode"}, 2, []string{`unknown scenario "explode"`}},
		{[]string{"--config", file, "--duration", "0s"}, 2, []string{"--duration: 0s"}},
		{[]string{"--config", file, "--clients", "0", "--interval", "0s"}, 2, []string{"--clients: 0", "--interval: 0s"}},
		{[]string{"--config", file, "--wan", "delay=never"}, 2, []string{"--wan: emulate: spec delay"}},
		{[]string{"--config", file, "--kill-cmd", "kill {id}"}, 2, []string{"--kill-cmd and --start-cmd: give both"}},
		{[]string{"--config", file, "--kill-cmd", "kill", "--start-cmd", "start {id}"}, 2, []string{`--kill-cmd: "kill" has no {id}`}},
		{[]string{"--config", file, "--local", "--kill-cmd", "k {id}", "--start-cmd", "s {id}"}, 2, []string{"--local: starts and kills its own"}},
		{[]string{"--config", file, "--keep"}, 2, []string{"--bin and --keep: only with --local"}},
		{[]string{"--config", file, "--nope"}, 2, []string{"flag provided but not defined: -nope"}},
		{[]string{"--config", file, "--scenario", "kill-leader", "cut-site"}, 2, []string{"either with --scenario or as arguments"}},
		{[]string{"--config", file, "kill-follower"}, 2, []string{"kill-follower kills nodes: give --local, or --kill-cmd and --start-cmd"}},
		{[]string{"--config", file, "cut-site", "eu"}, 2, []string{"cut-site drives WAN faults: set [cluster] drill_faults = true"}},
		{[]string{"--config", file, "--local", "cut-site", "mars"}, 2, []string{`cut-site: no site "mars"`}},
		{[]string{"--config", faults, "slow-wan"}, 2, []string{"slow-wan: node 2 has a wan address but no admin address"}},
		{[]string{"--config", file, "--local", "kill-relay", "primary"}, 2, []string{`kill-relay: site "primary" has no relay`}},
		{[]string{"--config", "/nonexistent.toml"}, 1, []string{"--config:", "nonexistent.toml"}},
		{[]string{"--config", noSrvr, "--kill-cmd", "k {id}", "--start-cmd", "s {id}", "kill-leader"}, 2, []string{`add "srvr" to [cluster] four_letter_words`}},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		rc := Main(c.args, &out, &errb)
		if rc != c.rc {
			t.Errorf("%v: rc %d, want %d\n%s", c.args, rc, c.rc, errb.String())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errb.String())
			}
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed a report: %s", c.args, out.String())
		}
	}
}

// Scenarios are read from --scenario and from arguments; cut-site and
// kill-relay take a site, or get the first remote one.
func TestScenarioArguments(t *testing.T) {
	file := writeFile(t, "drill_faults = true", `admin = "127.0.0.1:18082"`)
	f, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--local"}, "kill-leader,kill-follower,kill-relay eu,cut-site eu,slow-wan,lose-primary,rolling-restart"},
		{[]string{"--local", "cut-site", "eu", "kill-leader"}, "cut-site eu,kill-leader"},
		{[]string{"--local", "cut-site", "kill-relay"}, "cut-site eu,kill-relay eu"},
		{[]string{"--local", "--scenario", "slow-wan, cut-site=eu,cut-site:primary"}, "slow-wan,cut-site eu,cut-site primary"},
	} {
		o, err := parseArgs(append([]string{"--config", file}, c.args...), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if err := o.checkAgainst(f); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var got []string
		for _, w := range o.Scenarios {
			got = append(got, w.String())
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%v: %s, want %s", c.args, strings.Join(got, ","), c.want)
		}
	}
}

func TestExpand(t *testing.T) {
	if got := expand("ssh n{id} systemctl kill zoogate@{id} # {config}", 12, "/etc/z.toml"); got != "ssh n12 systemctl kill zoogate@12 # /etc/z.toml" {
		t.Fatal(got)
	}
}

// Without scenario names, a drill runs the ones the deployment and the
// options allow, and says which it leaves out.
func TestDefaultScenariosFitTheDeployment(t *testing.T) {
	noFaults := writeFile(t, "", `admin = "127.0.0.1:18082"`)
	one := filepath.Join(t.TempDir(), "one.toml")
	os.WriteFile(one, []byte("[[node]]\nid = 1\nclient = \"127.0.0.1:12181\"\nadmin = \"127.0.0.1:18081\"\ndata_dir = \"d\"\n"), 0o644)
	for _, c := range []struct {
		file string
		args []string
		want string
		left string
	}{
		{noFaults, []string{"--kill-cmd", "k {id}", "--start-cmd", "s {id}"}, "kill-leader,kill-follower,kill-relay eu,lose-primary,rolling-restart", "cut-site (drill_faults is off), slow-wan (drill_faults is off)"},
		{noFaults, []string{"--local"}, "kill-leader,kill-follower,kill-relay eu,cut-site eu,slow-wan,lose-primary,rolling-restart", ""},
		{one, []string{"--local"}, "kill-leader,kill-follower,rolling-restart", "kill-relay (no relay), cut-site (no remote site), slow-wan (no remote site), lose-primary (no remote site)"},
	} {
		f, err := topology.Load(c.file)
		if err != nil {
			t.Fatal(err)
		}
		o, err := parseArgs(append([]string{"--config", c.file}, c.args...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.checkAgainst(f); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var got []string
		for _, w := range o.Scenarios {
			got = append(got, w.String())
		}
		if strings.Join(got, ",") != c.want || strings.Join(o.LeftOut, ", ") != c.left {
			t.Errorf("%s %v: run %s, left out %q", filepath.Base(c.file), c.args, strings.Join(got, ","), o.LeftOut)
		}
	}
	var out, errb bytes.Buffer
	if rc := Main([]string{"--config", noFaults}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "no scenario can run") {
		t.Errorf("nothing can run: rc %d %s", rc, errb.String())
	}
}
