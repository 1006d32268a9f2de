package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/internal/testport"
)

// TestClientTLSConfig: a node's client_tls, with the certificate `zoogate
// tls init` writes for it, becomes a TLS client port that go-zookeeper
// reaches, verifying the server against the deployment CA.
func TestClientTLSConfig(t *testing.T) {
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	clientTLS := testport.Addr(t)
	src := fmt.Sprintf(`[cluster]
tls_ca = %q
[[node]]
id = 1
client = %q
client_tls = %q
tls_cert = %q
tls_key = %q
data_dir = %q
`, filepath.Join(tlsDir, "ca.crt"), testport.Addr(t), clientTLS, filepath.Join(tlsDir, "node-1.crt"), filepath.Join(tlsDir, "node-1.key"), filepath.Join(dir, "data"))
	path := filepath.Join(dir, "zoogate.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"tls", "init", "--config", path, "--out", tlsDir}, &out, &errb); rc != 0 {
		t.Fatalf("tls init: rc %d: %s", rc, errb.String())
	}
	cfg, _, err := loadServerConfig(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientTLSAddr != clientTLS || cfg.TLSCA != filepath.Join(tlsDir, "ca.crt") || cfg.TLSCert != filepath.Join(tlsDir, "node-1.crt") || cfg.TLSKey != filepath.Join(tlsDir, "node-1.key") {
		t.Fatalf("server config: client TLS %q cert %q key %q ca %q", cfg.ClientTLSAddr, cfg.TLSCert, cfg.TLSKey, cfg.TLSCA)
	}
	s, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	caPEM, err := os.ReadFile(cfg.TLSCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	host, _, _ := net.SplitHostPort(clientTLS)
	conf := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: conf}
		return d.Dial(network, addr)
	}
	c, _, err := zk.Connect([]string{clientTLS}, 4*time.Second, zk.WithLogInfo(false), zk.WithDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/over-tls", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if data, _, err := c.Get("/over-tls"); err != nil || string(data) != "x" {
		t.Fatalf("get over TLS: %q, %v", data, err)
	}
}
