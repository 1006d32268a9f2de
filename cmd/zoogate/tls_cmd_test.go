package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

func TestTLSInit(t *testing.T) {
	const config = "../../configs/cluster-3.toml"
	f, err := topology.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	var out, errb bytes.Buffer
	if rc := run([]string{"tls", "init", "--config", config, "--out", dir}, &out, &errb); rc != 0 {
		t.Fatalf("tls init: rc %d: %s", rc, errb.String())
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "session.secret"))
	if want := fmt.Sprintf("session_secret_file = %q", abs); !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %s:\n%s", want, out.String())
	}

	modes := map[string]os.FileMode{"session.secret": 0o600, "gossip.key": 0o600, "ca.crt": 0o644, "ca.key": 0o600}
	for _, n := range f.Nodes {
		modes[fmt.Sprintf("node-%d.crt", n.ID)] = 0o644
		modes[fmt.Sprintf("node-%d.key", n.ID)] = 0o600
	}
	for name, mode := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", name, st.Mode().Perm(), mode)
		}
		if !strings.Contains(out.String(), filepath.Join(dir, name)) {
			t.Errorf("output does not name %s", name)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != len(modes) {
		t.Errorf("%d files in the output directory, want %d", len(ents), len(modes))
	}

	if key, err := os.ReadFile(filepath.Join(dir, "gossip.key")); err != nil {
		t.Fatal(err)
	} else if k, err := gossip.ParseKey(key); err != nil || len(k) != 32 {
		t.Fatalf("gossip.key: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "session.secret"))
	if secret, err := server.ParseSessionSecret(raw); err != nil || len(secret) < 32 {
		t.Fatalf("session.secret: %v", err)
	}

	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA || ca.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Fatalf("CA: IsCA %v, key %v", ca.IsCA, ca.PublicKeyAlgorithm)
	}
	if years := ca.NotAfter.Sub(ca.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA valid for %.1f years, want 10", years)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, n := range f.Nodes {
		name := filepath.Join(dir, fmt.Sprintf("node-%d", n.ID))
		cert := readCert(t, name+".crt")
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("node %d for usage %v: %v", n.ID, usage, err)
			}
		}
		// The peer address's host is a SAN the certificate verifies for.
		host, _, _ := net.SplitHostPort(n.Peer)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("node %d for host %s: %v", n.ID, host, err)
		}
		if len(cert.URIs) != 1 || cert.URIs[0].String() != fmt.Sprintf("zoogate://%s/node/%d", f.Cluster.Name, n.ID) {
			t.Errorf("node %d URI SANs: %v", n.ID, cert.URIs)
		}
		if cert.Subject.CommonName != fmt.Sprintf("node-%d", n.ID) {
			t.Errorf("node %d CommonName %q", n.ID, cert.Subject.CommonName)
		}
		if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || len(cert.DNSNames) != 0 {
			t.Errorf("node %d SANs: IPs %v, names %v", n.ID, cert.IPAddresses, cert.DNSNames)
		}
		// The key file matches the certificate.
		if _, err := tls.LoadX509KeyPair(name+".crt", name+".key"); err != nil {
			t.Errorf("node %d key pair: %v", n.ID, err)
		}
	}

	// A second run refuses to overwrite anything; --force replaces it all.
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	out.Reset()
	errb.Reset()
	if rc := run([]string{"tls", "init", "--config", config, "--out", dir}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "refusing to overwrite") {
		t.Fatalf("second run: rc %d: %s", rc, errb.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); !bytes.Equal(before, after) {
		t.Fatal("a refused run changed ca.crt")
	}
	if rc := run([]string{"tls", "init", "--force", "--config", config, "--out", dir}, &out, &errb); rc != 0 {
		t.Fatalf("--force: rc %d: %s", rc, errb.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); bytes.Equal(before, after) {
		t.Fatal("--force did not replace ca.crt")
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key after --force: mode %04o", st.Mode().Perm())
	}
}

func TestTLSInitNodeHosts(t *testing.T) {
	n := &topology.Node{Client: "0.0.0.0:2181", Peer: "zk1.Example.com:2888", Election: "zk1.example.com:3888", Gossip: "[::ffff:10.0.0.1]:7946", WAN: "[2001:db8::1]:4000"}
	dns, ips := nodeHosts(n)
	if len(dns) != 1 || dns[0] != "zk1.example.com" {
		t.Errorf("DNS SANs %v", dns)
	}
	if len(ips) != 2 || !ips[0].Equal(net.ParseIP("10.0.0.1")) || !ips[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Errorf("IP SANs %v", ips)
	}
}

func TestTLSInitBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.toml")
	if rc := run([]string{"tls", "init", "--config", missing, "--out", t.TempDir()}, &out, &errb); rc != 1 ||
		!strings.Contains(errb.String(), "cannot use --config "+missing) || !strings.Contains(errb.String(), "no such file") {
		t.Fatalf("missing config: rc %d: %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"tls", "init", "--out", t.TempDir()}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "usage: zoogate tls init") {
		t.Fatalf("no --config: rc %d: %s", rc, errb.String())
	}
}

// TestLogDumpRedactsSessionSecret: the replicated session secret is in the
// log and the snapshot, but `log dump` and `snapshot inspect` never print
// it.
func TestLogDumpRedactsSessionSecret(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.ClientAddr, cfg.DataDir = "127.0.0.1:0", dir
	s, c := startToolServer(t, cfg)
	if _, err := c.Create("/x", nil, 0, zk.WorldACL(zk.PermAll)); err != nil { // waits for the session
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()

	// The secret, as the tree loaded from the snapshot holds it.
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap", "snapshot.*"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot")
	}
	r, err := storage.ReadSnapshotFile(vfs.OS{}, snaps[len(snaps)-1])
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tree.ReadSnapshot(r, r.Zxid())
	r.Close()
	if err != nil || !tr.HasSessionSecret() {
		t.Fatalf("snapshot without the session secret: %v", err)
	}
	secret := tr.SessionSecret()
	forms := []string{hex.EncodeToString(secret), string(secret), base64.StdEncoding.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret))}

	for _, args := range [][]string{
		{"log", "dump", dir},
		{"log", "dump", "--json", dir},
		{"snapshot", "inspect", snaps[len(snaps)-1]},
		{"snapshot", "inspect", "--json", snaps[len(snaps)-1]},
	} {
		var out, errb bytes.Buffer
		if rc := run(args, &out, &errb); rc != 0 {
			t.Fatalf("%v: rc %d: %s", args, rc, errb.String())
		}
		for _, f := range forms {
			if strings.Contains(out.String(), f) || strings.Contains(out.String(), fmt.Sprintf("%q", f)) {
				t.Fatalf("%v prints the session secret:\n%s", args, out.String())
			}
		}
		if args[0] == "log" && !strings.Contains(out.String(), "sessionSecret") {
			t.Errorf("%v does not show the secret's transaction:\n%s", args, out.String())
		}
		if args[0] == "log" && !strings.Contains(out.String(), "redacted 32 bytes") {
			t.Errorf("%v does not say the secret is redacted:\n%s", args, out.String())
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: not one PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(c.NotBefore) || time.Now().After(c.NotAfter) {
		t.Fatalf("%s: not valid now", path)
	}
	return c
}
