package topology

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeJoin(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "join.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadJoinExample(t *testing.T) {
	j, err := LoadJoin(filepath.Join("..", "configs", "join", "eu.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if j.Node.ID != 7 || j.Node.Site != "eu" || j.Node.Role != RoleObserver || j.Cluster.Name != "wan-demo" || len(j.Seeds) != 2 || j.Wait != 30*time.Second {
		t.Fatalf("decoded %+v", j)
	}
	if j.Node.LogDir != j.Node.DataDir {
		t.Errorf("log dir %q, want the data dir", j.Node.LogDir)
	}
}

// TestLoadJoinReportsEveryProblem: each problem names its key.
func TestLoadJoinReportsEveryProblem(t *testing.T) {
	p := writeJoin(t, `
[cluster]
tick = "2s"

[join]
seeds = ["nohost"]
wait = "0s"

[node]
id = 300
role = "voter"
election = "127.0.0.1:3888"
client = "127.0.0.1:2189"
`)
	_, err := LoadJoin(p)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`cluster.tick: unknown key "tick"`, "cluster.name: is required", "cluster.tls_ca: is required", "cluster.gossip_key_file: is required",
		"join.seeds[0]:", "join.wait: must be positive", "node.id: must be in 1..254", `node.role: must be "observer"`,
		"node.election: is for voters and relays", "node.site: is required", "node.gossip: is required", "node.tls_cert: is required",
		"node.tls_key: is required", "node.data_dir: is required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := LoadJoin(writeJoin(t, "[cluster]\nname = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "node: is required") {
		t.Errorf("no [node]: %v", err)
	}
	if _, err := LoadJoin(writeJoin(t, "[node\n")); err == nil || !regexp.MustCompile(`join\.toml:\d+`).MatchString(err.Error()) {
		t.Errorf("syntax error without a line: %v", err)
	}
}

func TestWithJoiner(t *testing.T) {
	dep, err := Load(filepath.Join("..", "configs", "wan-demo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	load := func() *Join {
		j, err := LoadJoin(filepath.Join("..", "configs", "join", "eu.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := load()
	j.Cluster.TLSCA = "/elsewhere/ca.crt"
	f, err := dep.WithJoiner(j)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Node(7)
	if err != nil || n.Site != "eu" || n.Role != RoleObserver {
		t.Fatalf("node 7: %+v, %v", n, err)
	}
	if len(f.Nodes) != len(dep.Nodes)+1 || len(dep.Nodes) != 6 {
		t.Errorf("%d nodes, the deployment %d (must be unchanged)", len(f.Nodes), len(dep.Nodes))
	}
	if f.Cluster.TLSCA != "/elsewhere/ca.crt" || f.Cluster.Tick != dep.Cluster.Tick {
		t.Errorf("cluster: tls_ca %q (want the join file's), tick %v (want the deployment's)", f.Cluster.TLSCA, f.Cluster.Tick)
	}

	for _, c := range []struct {
		name   string
		change func(*File, *Join)
		want   string
	}{
		{"other cluster", func(_ *File, j *Join) { j.Cluster.Name = "other" }, `the seeds belong to cluster "wan-demo"`},
		{"dynamic off", func(f *File, _ *Join) { f.Cluster.DynamicObservers = false }, "dynamic_observers is false"},
		{"unknown site", func(_ *File, j *Join) { j.Node.Site = "us" }, `node.site "us" is not a site`},
		{"id of the file", func(_ *File, j *Join) { j.Node.ID = 5 }, "node.id 5 is a node of the deployment's file"},
		{"address taken", func(_ *File, j *Join) { j.Node.Client = "127.0.0.1:2185" }, "already used"},
		{"session secret", func(f *File, _ *Join) { f.Cluster.SessionSecretFile = "s" }, "session_secret_file is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := *dep
			d.Nodes = append([]Node(nil), dep.Nodes...)
			j := load()
			c.change(&d, j)
			_, err := d.WithJoiner(j)
			if !errors.Is(err, ErrJoin) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrJoin with %q", err, c.want)
			}
		})
	}
}
