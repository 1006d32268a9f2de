package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/server"
)

func TestLogDumpAndSnapshotInspect(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.ClientAddr, cfg.DataDir = "127.0.0.1:0", dir
	s, c := startToolServer(t, cfg)
	c.Create("/tool", []byte("hello"), 0, zk.WorldACL(zk.PermAll))
	c.Multi(&zk.CreateRequest{Path: "/tool/m", Acl: zk.WorldACL(zk.PermAll)}, &zk.SetDataRequest{Path: "/tool", Data: []byte("x"), Version: 0})
	c.Create("/tool", nil, 0, zk.WorldACL(zk.PermAll)) // fails: an error transaction
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()

	var out, errb bytes.Buffer
	if rc := run([]string{"log", "dump", dir}, &out, &errb); rc != 0 {
		t.Fatalf("log dump: rc %d: %s", rc, errb.String())
	}
	text := out.String()
	for _, want := range []string{"createSession", `create path=/tool data="hello"`, "multi", "op 1 setData path=/tool", "error err=-110", "closeSession", "transactions in 1 segment(s)"} {
		if !strings.Contains(text, want) {
			t.Errorf("log dump lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if rc := run([]string{"log", "dump", "--json", filepath.Join(dir, "log")}, &out, &errb); rc != 0 {
		t.Fatalf("log dump --json: rc %d: %s", rc, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The first transaction is the session secret (redacted), the second
	// the first client's session.
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["type"] != "sessionSecret" || first["zxid"] != "0x1" {
		t.Fatalf("first JSON line %q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil || second["type"] != "createSession" || second["zxid"] != "0x2" {
		t.Fatalf("second JSON line %q: %v", lines[1], err)
	}
	snaps, _ := os.ReadDir(filepath.Join(dir, "snap"))
	snap := filepath.Join(dir, "snap", snaps[len(snaps)-1].Name())
	out.Reset()
	if rc := run([]string{"snapshot", "inspect", snap}, &out, &errb); rc != 0 {
		t.Fatalf("snapshot inspect: rc %d: %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), "/tool/m len=0") || !strings.Contains(out.String(), "/tool len=1") {
		t.Fatalf("snapshot inspect:\n%s", out.String())
	}
	// A damaged snapshot is reported with its file name, not shown.
	b, _ := os.ReadFile(snap)
	b[len(b)/2] ^= 0xff
	os.WriteFile(snap, b, 0o644)
	errb.Reset()
	if rc := run([]string{"snapshot", "inspect", snap}, &out, &errb); rc == 0 || !strings.Contains(errb.String(), snaps[len(snaps)-1].Name()) {
		t.Fatalf("damaged snapshot: rc %d, %s", rc, errb.String())
	}
}

func TestConfigCheck(t *testing.T) {
	var out, errb bytes.Buffer
	files, _ := filepath.Glob("../../configs/*.toml")
	if rc := run(append([]string{"config", "check"}, files...), &out, &errb); rc != 0 || len(files) < 4 {
		t.Fatalf("configs/: rc %d\n%s", rc, errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[cluster]\ntick = \"soon\"\nbogus = 1\n[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n"), 0o644)
	errb.Reset()
	if rc := run([]string{"config", "check", bad}, &out, &errb); rc != 1 {
		t.Fatalf("bad file: rc %d", rc)
	}
	for _, want := range []string{"bad.toml:2: cluster.tick", "bad.toml:3: cluster.bogus"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, errb.String())
		}
	}
}

// startToolServer starts a standalone server from cfg and connects a
// go-zookeeper client to it; the caller closes both (the storage tools then
// read what it left on disk).
func startToolServer(t *testing.T, cfg server.Config) (*server.Server, *zk.Conn) {
	t.Helper()
	s, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, _, err := zk.Connect([]string{s.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}
