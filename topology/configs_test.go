package topology

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// configFiles returns every example file in configs/.
func configFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d files in configs/, want at least 4", len(files))
	}
	return files
}

func TestConfigsLoadAndValidate(t *testing.T) {
	for _, path := range configFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := f.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if w := f.Warnings(); len(w) != 0 {
				t.Fatalf("warnings: %v", w)
			}
			if f.Path != path {
				t.Errorf("Path = %q, want %q", f.Path, path)
			}
		})
	}
}

func TestStandaloneConfigShowsDefaults(t *testing.T) {
	f, err := Load("../configs/standalone.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultClusterConfig()
	want.Name = "standalone"
	if !reflect.DeepEqual(f.Cluster, want) {
		t.Errorf("cluster = %+v\nwant      %+v", f.Cluster, want)
	}
	// Every [cluster] key must be present in the file.
	for name := range clusterFields {
		if f.lines.exact(clusterKey(name)) == 0 {
			t.Errorf("standalone.toml does not show cluster.%s", name)
		}
	}
	n, err := f.SelectNode(0)
	if err != nil {
		t.Fatal(err)
	}
	sa := Standalone("127.0.0.1:2181", "data/standalone")
	if !reflect.DeepEqual(*n, sa.Nodes[0]) {
		t.Errorf("node = %+v, want the Standalone profile's %+v", *n, sa.Nodes[0])
	}
	if !reflect.DeepEqual(f.Sites, sa.Sites) {
		t.Errorf("sites = %+v, want %+v", f.Sites, sa.Sites)
	}
}

func TestClusterConfigs(t *testing.T) {
	for _, tc := range []struct {
		file   string
		voters int
	}{{"cluster-3.toml", 3}, {"cluster-5.toml", 5}} {
		f, err := Load(filepath.Join("..", "configs", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Voters()); got != tc.voters {
			t.Fatalf("%s: %d voters, want %d", tc.file, got, tc.voters)
		}
		if f.Quorum() != tc.voters/2+1 {
			t.Errorf("%s: quorum %d", tc.file, f.Quorum())
		}
		for i, n := range f.Voters() {
			id := i + 1
			want := Node{
				ID: uint64(id), Site: DefaultSiteName, Role: RoleVoter,
				Client:   "127.0.0.1:" + itoa(2180+id),
				Peer:     "127.0.0.1:" + itoa(2887+id),
				Election: "127.0.0.1:" + itoa(3887+id),
				Gossip:   "127.0.0.1:" + itoa(7945+id),
				DataDir:  "data/n" + itoa(id), LogDir: "data/n" + itoa(id),
				LogLevel: hclog.Info,
			}
			if *n != want {
				t.Errorf("%s: node %d = %+v\nwant %+v", tc.file, id, *n, want)
			}
		}
		if f.Cluster.MinSessionTimeout != 4*time.Second || f.Cluster.MaxSessionTimeout != 40*time.Second {
			t.Errorf("%s: session timeouts %v..%v", tc.file, f.Cluster.MinSessionTimeout, f.Cluster.MaxSessionTimeout)
		}
		if _, err := f.SelectNode(0); err == nil {
			t.Errorf("%s: SelectNode(0) succeeded on a multi-node file", tc.file)
		}
	}
}

func TestWANDemoConfig(t *testing.T) {
	f, err := Load("../configs/wan-demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.PrimarySite(); p == nil || p.Name != "primary" {
		t.Fatalf("primary site = %+v", p)
	}
	if len(f.Voters()) != 3 {
		t.Errorf("%d voters, want 3", len(f.Voters()))
	}
	relays, observers := f.Relays(), f.Observers()
	if len(relays) != 2 || relays[0].Site != "eu" || relays[0].WAN == "" || relays[1].Site != "eu" || relays[1].WAN == "" {
		t.Errorf("relays = %+v", relays)
	}
	if len(observers) != 1 || observers[0].Site != "eu" {
		t.Errorf("observers = %+v", observers)
	}
	if got := len(f.NodesIn("eu")); got != 3 {
		t.Errorf("eu has %d nodes, want 3 (two relays, an observer)", got)
	}
	for _, n := range f.Nodes {
		if n.Gossip == "" || (n.Role != RoleObserver) != (n.GossipWAN != "") {
			t.Errorf("node %d: gossip %q gossip_wan %q (every node gossips; voters and relays across the WAN too)", n.ID, n.Gossip, n.GossipWAN)
		}
	}
}
