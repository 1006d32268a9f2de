package topology

import "testing"

// TestAdminKeys: a node's admin address and [cluster] admin_token_file are
// decoded; admin may be a wildcard; a bad or reused address is an error
// naming node[i].admin.
func TestAdminKeys(t *testing.T) {
	src := "[cluster]\nadmin_token_file = \"admin.token\"\n[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\nadmin = \"0.0.0.0:8080\"\ndata_dir = \"d\"\n"
	f, err := Parse([]byte(src), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Nodes[0].Admin != "0.0.0.0:8080" || f.Cluster.AdminTokenFile != "admin.token" {
		t.Fatalf("admin %q admin_token_file %q", f.Nodes[0].Admin, f.Cluster.AdminTokenFile)
	}
	if d := DefaultClusterConfig(); d.AdminTokenFile != "" {
		t.Errorf("default admin_token_file %q, want none", d.AdminTokenFile)
	}

	node := "[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n"
	expectProblems(t, problemsOf(t, node+"admin = \"localhost\"\n"),
		want{"node[0].admin", 5, "port"})
	expectProblems(t, problemsOf(t, node+"admin = \"127.0.0.1:2181\"\n"),
		want{"node[0].admin", 5, "already used by node[0].client"})
	expectProblems(t, problemsOf(t, node+"admin = 8080\n"),
		want{"node[0].admin", 5, "string"})
}
