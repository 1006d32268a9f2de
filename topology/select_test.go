package topology

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestStandaloneProfile(t *testing.T) {
	f := Standalone("127.0.0.1:2181", "data")
	if err := f.Validate(); err != nil {
		t.Fatalf("Standalone does not validate: %v", err)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	n, err := f.SelectNode(0)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != 1 || n.Role != RoleVoter || n.Client != "127.0.0.1:2181" || n.DataDir != "data" ||
		n.LogDir != "data" || n.LogLevel != hclog.Info || n.Site != DefaultSiteName {
		t.Errorf("node = %+v", n)
	}
	if f.Quorum() != 1 {
		t.Errorf("quorum = %d", f.Quorum())
	}
}

func TestValidateFileBuiltInCode(t *testing.T) {
	f := Standalone("127.0.0.1", "")
	f.Cluster.Tick = 0
	f.Nodes[0].Role = 0
	err := f.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	keys := []string{}
	for _, p := range FieldErrors(err) {
		if p.Line != 0 || p.File != "" {
			t.Errorf("problem %v has a location", p)
		}
		// Without a location, the shape of the other packages' FieldErrors.
		if want := "topology: config " + p.Field + ": " + p.Problem; p.Error() != want {
			t.Errorf("Error() = %q, want %q", p.Error(), want)
		}
		keys = append(keys, p.Field)
	}
	want := "cluster.tick node[0].role node[0].client node[0].data_dir"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys = %q, want %q", got, want)
	}
	// errors.As reaches each problem through the list.
	var p *FieldError
	if !errors.As(err, &p) || p.Field != "cluster.tick" {
		t.Errorf("errors.As(*FieldError) = %v", p)
	}
}

func TestDefaultsDerivedFromTick(t *testing.T) {
	f, err := Parse([]byte("[cluster]\ntick = \"500ms\"\n"+node1), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Cluster.MinSessionTimeout != time.Second || f.Cluster.MaxSessionTimeout != 10*time.Second {
		t.Errorf("session timeouts %v..%v, want 1s..10s", f.Cluster.MinSessionTimeout, f.Cluster.MaxSessionTimeout)
	}
	// An explicit value wins over the derived default.
	f, err = Parse([]byte("[cluster]\ntick = \"500ms\"\nmax_session_timeout = \"1m\"\n"+node1), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Cluster.MinSessionTimeout != time.Second || f.Cluster.MaxSessionTimeout != time.Minute {
		t.Errorf("session timeouts %v..%v, want 1s..1m", f.Cluster.MinSessionTimeout, f.Cluster.MaxSessionTimeout)
	}
	// Zero where zero means "never".
	f, err = Parse([]byte("[cluster]\npurge_interval = \"0s\"\nmax_client_cnxns = 0\nfour_letter_words = [\"*\"]\n"+node1), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Cluster.PurgeInterval != 0 || f.Cluster.MaxClientCnxns != 0 || !f.Cluster.FourLetterWordEnabled("dump") {
		t.Errorf("cluster = %+v", f.Cluster)
	}
	if d := DefaultClusterConfig(); d.FourLetterWordEnabled("dump") || !d.FourLetterWordEnabled("ruok") {
		t.Errorf("default four-letter words = %v", d.FourLetterWords)
	}
}

func TestNodeDefaults(t *testing.T) {
	src := "[[site]]\nname = \"main\"\n\n" + node1 + "log_dir = \"/var/log/zg\"\nlog_level = \"DEBUG\"\n"
	f, err := Parse([]byte(src), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Sites[0].Primary {
		t.Errorf("a lone site is not primary: %+v", f.Sites)
	}
	n := f.Nodes[0]
	if n.Site != "main" || n.Role != RoleVoter || n.LogDir != "/var/log/zg" || n.LogLevel != hclog.Debug {
		t.Errorf("node = %+v", n)
	}
}

func TestSelectNode(t *testing.T) {
	f, err := Load("../configs/wan-demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.SelectNode(4)
	if err != nil || n.ID != 4 || n.Role != RoleRelay {
		t.Fatalf("SelectNode(4) = %+v, %v", n, err)
	}
	if n != &f.Nodes[3] {
		t.Errorf("SelectNode does not point into f.Nodes")
	}
	_, err = f.SelectNode(0)
	if !errors.Is(err, ErrIDRequired) || !strings.Contains(err.Error(), "ids: 1, 2, 3, 4, 5") {
		t.Errorf("SelectNode(0) err = %v", err)
	}
	_, err = f.SelectNode(9)
	if !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "id 9") {
		t.Errorf("SelectNode(9) err = %v", err)
	}
	if _, err := f.Node(9); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("Node(9) err = %v", err)
	}
	empty := &File{}
	if _, err := empty.SelectNode(0); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("empty SelectNode(0) err = %v", err)
	}
	if s, ok := f.Site("eu"); !ok || s.Primary {
		t.Errorf("Site(eu) = %+v, %v", s, ok)
	}
	if _, ok := f.Site("ap"); ok {
		t.Errorf("Site(ap) found")
	}
}

func TestRoles(t *testing.T) {
	for _, r := range []Role{RoleVoter, RoleObserver, RoleRelay} {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRole("Voter"); err == nil {
		t.Errorf("ParseRole accepted a capitalised role")
	}
	if Role(0).String() != "Role(0)" {
		t.Errorf("Role(0) = %q", Role(0).String())
	}
}

func TestWarnings(t *testing.T) {
	voter := func(id int) string {
		return "[[node]]\nid = " + itoa(id) + "\nclient = \"127.0.0.1:" + itoa(2180+id) +
			"\"\npeer = \"127.0.0.1:" + itoa(2887+id) + "\"\nelection = \"127.0.0.1:" + itoa(3887+id) +
			"\"\ndata_dir = \"d" + itoa(id) + "\"\n"
	}
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{"two voters", voter(1) + voter(2), []want{{"node", 1, "2 voters: an even count tolerates 0 failed voters, no more than 1 voters would"}}},
		{"four voters", voter(1) + voter(2) + voter(3) + voter(4), []want{{"node", 1, "4 voters"}}},
		{"no voters", "[[node]]\nid = 1\nrole = \"observer\"\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node", 1, "no voters"}}},
		{"remote site without nodes", "[[site]]\nname = \"p\"\nprimary = true\n[[site]]\nname = \"eu\"\n" + voter(1),
			[]want{{"site[1].name", 5, `site "eu" has no nodes`}}},
		{"observers without relay", "[[site]]\nname = \"p\"\nprimary = true\n[[site]]\nname = \"eu\"\n" + voter(1) +
			"[[node]]\nid = 2\nsite = \"eu\"\nrole = \"observer\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"d2\"\n",
			[]want{{"site[1].name", 5, `site "eu" has observers but no relay`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.src), "test.toml")
			if err != nil {
				t.Fatalf("warnings must not fail Parse: %v", err)
			}
			expectProblems(t, f.Warnings(), tc.want...)
		})
	}
}
