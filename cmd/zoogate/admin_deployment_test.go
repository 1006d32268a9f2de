package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminKeysMapped: a node's admin address and the cluster's
// admin_token_file reach the server config, and the file's sites and
// nodes (relays included) become the Deployment /commands/topology shows.
func TestAdminKeysMapped(t *testing.T) {
	path := "../../configs/wan-demo.toml"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every node has an admin address (808<id>); the cluster gets a token.
	text := strings.Replace(string(src), "[[site]]", "admin_token_file = \"admin.token\"\n\n[[site]]", 1)
	file := filepath.Join(t.TempDir(), "wan.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadServerConfig(file, 4)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminAddr != "127.0.0.1:8084" || cfg.AdminTokenFile != "admin.token" {
		t.Errorf("AdminAddr %q AdminTokenFile %q", cfg.AdminAddr, cfg.AdminTokenFile)
	}
	d := cfg.Deployment
	if d == nil || d.Name != "wan-demo" || len(d.Sites) != 2 || !d.Sites[0].Primary || d.Sites[1].Name != "eu" || len(d.Nodes) != 6 {
		t.Fatalf("deployment %+v", d)
	}
	for _, n := range d.Nodes {
		want := map[uint64]string{1: "voter", 2: "voter", 3: "voter", 4: "relay", 5: "observer", 6: "relay"}[n.ID]
		if n.Role != want || n.Client == "" || n.Admin != fmt.Sprintf("127.0.0.1:%d", 8080+n.ID) {
			t.Errorf("node %+v: want role %s, a client address, admin address 127.0.0.1:%d", n, want, 8080+n.ID)
		}
	}
	if cfg, _, _ := loadServerConfig(file, 1); cfg.AdminAddr != "127.0.0.1:8081" {
		t.Errorf("node 1: AdminAddr %q, want 127.0.0.1:8081", cfg.AdminAddr)
	}
	// A node without the key has no admin server.
	noAdmin := strings.Replace(text, "admin = \"127.0.0.1:8081\"", "", 1)
	if err := os.WriteFile(file, []byte(noAdmin), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, _, _ := loadServerConfig(file, 1); cfg.AdminAddr != "" {
		t.Errorf("node 1 without an admin key: AdminAddr %q", cfg.AdminAddr)
	}
}

// TestServeAdminAddrFlag: --admin-addr reaches the server's config (a bad
// one is refused naming the field, before anything listens).
func TestServeAdminAddrFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cmdServe([]string{"--client-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--admin-addr", "no-port"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "AdminAddr") {
		t.Fatalf("serve --admin-addr no-port: exit %d, stderr %q", code, stderr.String())
	}
}
