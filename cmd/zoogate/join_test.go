package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan"
)

// TestTLSIssueCertifiesAJoiner: zoogate tls issue signs, with the CA tls
// init wrote, a certificate naming the join file's node, which serve's
// identity check accepts for that node and refuses for another id.
func TestTLSIssueCertifiesAJoiner(t *testing.T) {
	const config = "../../configs/wan-demo.toml"
	dir := filepath.Join(t.TempDir(), "tls")
	var out, errb bytes.Buffer
	if rc := run([]string{"tls", "init", "--config", config, "--out", dir}, &out, &errb); rc != 0 {
		t.Fatalf("tls init: rc %d: %s", rc, errb.String())
	}
	join := filepath.Join(t.TempDir(), "join.toml")
	text, err := os.ReadFile("../../configs/join/eu.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(join, bytes.ReplaceAll(text, []byte("data/tls"), []byte(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := run([]string{"tls", "issue", "--join", join, "--ca-dir", dir}, &out, &errb); rc != 0 {
		t.Fatalf("tls issue: rc %d: %s", rc, errb.String())
	}
	st, err := os.Stat(filepath.Join(dir, "node-7.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node-7.key: %v, %v", st, err)
	}
	j, err := topology.LoadJoin(join)
	if err != nil {
		t.Fatal(err)
	}
	self := &topology.File{Cluster: topology.Cluster{Name: j.Cluster.Name, TLSCA: j.Cluster.TLSCA}}
	id, err := loadIdentity(self, &j.Node)
	if err != nil {
		t.Fatalf("the issued certificate: %v", err)
	}
	if c, n := id.Identity(); c != "wan-demo" || n != 7 {
		t.Fatalf("identity %s/%d", c, n)
	}
	other := j.Node
	other.ID = 8
	if _, err := loadIdentity(self, &other); err == nil || !strings.Contains(err.Error(), wan.NodeURI("wan-demo", 7)+", not node 8") {
		t.Fatalf("node 8 with node 7's certificate: %v", err)
	}
	// Issuing again refuses to overwrite; a missing CA is named.
	if rc := run([]string{"tls", "issue", "--join", join, "--ca-dir", dir}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "refusing to overwrite") {
		t.Fatalf("second issue: rc %d: %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"tls", "issue", "--join", join, "--ca-dir", t.TempDir()}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "ca.crt") {
		t.Fatalf("no CA: rc %d: %s", rc, errb.String())
	}
	if rc := run([]string{"tls", "issue", "--ca-dir", dir}, &out, &errb); rc != 2 {
		t.Fatalf("no --join: rc %d", rc)
	}
}

// TestLearnerAdmission: the file's nodes as before; others only with
// dynamic_observers and over TLS with a certificate naming them.
func TestLearnerAdmission(t *testing.T) {
	f, err := topology.Load("../../configs/wan-demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	admit := learnerAdmission(f)
	if err := admit(5, false); err != nil {
		t.Errorf("node 5 of the file over plain TCP: %v", err)
	}
	if err := admit(9, true); err != nil {
		t.Errorf("node 9 over TLS with dynamic observers: %v", err)
	}
	if err := admit(9, false); err == nil || !strings.Contains(err.Error(), "must connect over TLS") {
		t.Errorf("node 9 over plain TCP: %v", err)
	}
	f.Cluster.DynamicObservers = false
	if err := admit(9, true); err == nil || !strings.Contains(err.Error(), "dynamic_observers is off") {
		t.Errorf("node 9 without dynamic observers: %v", err)
	}
}
