package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/internal/testpki"
)

// testCA is a CA made for one test (internal/testpki), and the
// certificates it signs.
type testCA struct {
	*testpki.CA
	pool *x509.CertPool
	cert *x509.Certificate
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	c := testpki.New(t, name)
	return &testCA{CA: c, pool: c.Pool, cert: c.Cert}
}

// issue signs a certificate for subject: a server one (127.0.0.1) or a client one.
func (ca *testCA) issue(subject pkix.Name, server bool) tls.Certificate {
	l := testpki.Leaf{Subject: subject, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		l.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		l.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	return ca.Issue(l)
}

// writePEM writes a certificate and its key as PEM files; it returns their paths.
func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certPath, keyPath string) {
	t.Helper()
	return testpki.WritePEM(t, dir, name, c)
}

// startTLSServer starts a server with a TLS client port configured from PEM
// files, as the topology file does.
func startTLSServer(t *testing.T, ca *testCA) *Server {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := writePEM(t, dir, "node", ca.issue(pkix.Name{CommonName: "node-1", Organization: []string{"zoogate"}}, true))
	caPath := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, func(c *Config) {
		c.ClientTLSAddr = "127.0.0.1:0"
		c.TLSCert, c.TLSKey, c.TLSCA = certPath, keyPath, caPath
	})
}

// clientTLS is a client config trusting ca, presenting cert when given.
func clientTLS(ca *testCA, cert *tls.Certificate) *tls.Config {
	conf := &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return conf
}

// connectTLS opens a go-zookeeper session over the TLS port.
func connectTLS(t *testing.T, s *Server, conf *tls.Config) *zk.Conn {
	t.Helper()
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: conf}
		return d.Dial(network, addr)
	}
	c, _ := connectTo(t, s.TLSAddr().String(), dial)
	return c
}

// dialRawTLS is dialRaw over the TLS port.
func dialRawTLS(t *testing.T, s *Server, conf *tls.Config) *rawClient {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.TLSAddr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func whoAmI(r *rawClient) map[string]string {
	r.t.Helper()
	h, d := r.call(proto.OpWhoAmI, nil)
	if h.Err != 0 {
		r.t.Fatalf("whoAmI: error %d", h.Err)
	}
	got := map[string]string{}
	for i, n := 0, d.VectorLen("n", 8); i < n; i++ {
		scheme := d.String("scheme")
		got[scheme] = d.String("id")
	}
	return got
}

// TestTLSClientPort: the TLS port serves the same tree as the plain one,
// to a client without a certificate, and answers four-letter words.
func TestTLSClientPort(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s := startTLSServer(t, ca)
	c := connectTLS(t, s, clientTLS(ca, nil))
	if _, err := c.Create("/tls", []byte("over tls"), 0, open); err != nil {
		t.Fatal(err)
	}
	data, _, err := c.Get("/tls")
	if err != nil || string(data) != "over tls" {
		t.Fatalf("get over TLS: %q, %v", data, err)
	}
	plain, _ := connect(t, s)
	if data, _, err := plain.Get("/tls"); err != nil || string(data) != "over tls" {
		t.Fatalf("get on the plain port: %q, %v", data, err)
	}
	// A client without a certificate has its ip identity only.
	if got := whoAmI(dialRawTLS(t, s, clientTLS(ca, nil)).handshakeOK()); len(got) != 1 || got["ip"] != "127.0.0.1" {
		t.Fatalf("whoAmI without a client certificate: %v", got)
	}
	// ruok over TLS.
	nc, err := tls.Dial("tcp", s.TLSAddr().String(), clientTLS(ca, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("ruok")); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(nc); err != nil || string(b) != "imok" {
		t.Fatalf("ruok over TLS: %q, %v", b, err)
	}
}

func (r *rawClient) handshakeOK() *rawClient {
	r.handshake(0, nil, false)
	return r
}

// TestTLSX509Identity: a verified client certificate authenticates the
// connection as x509:<subject DN>; an x509 ACL admits it and no one else.
func TestTLSX509Identity(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s := startTLSServer(t, ca)
	const dn = "CN=client,O=zoogate"
	clientCert := ca.issue(pkix.Name{CommonName: "client", Organization: []string{"zoogate"}}, false)
	if got := whoAmI(dialRawTLS(t, s, clientTLS(ca, &clientCert)).handshakeOK()); got["x509"] != dn || got["ip"] != "127.0.0.1" {
		t.Fatalf("whoAmI with a client certificate: %v", got)
	}
	owner := connectTLS(t, s, clientTLS(ca, &clientCert))
	x509ACL := []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: dn}}
	if _, err := owner.Create("/p", []byte("secret"), 0, x509ACL); err != nil {
		t.Fatal(err)
	}
	if data, _, err := owner.Get("/p"); err != nil || string(data) != "secret" {
		t.Fatalf("owner's get: %q, %v", data, err)
	}
	// setAcl x509:... and the auth scheme, which stands for the x509 identity.
	if _, err := owner.Create("/q", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetACL("/q", zk.AuthACL(zk.PermAll), -1); err != nil {
		t.Fatal(err)
	}
	if acl, _, err := owner.GetACL("/q"); err != nil || len(acl) != 1 || acl[0].Scheme != "x509" || acl[0].ID != dn {
		t.Fatalf("auth ACL of an x509 client: %v, %v", acl, err)
	}

	other := ca.issue(pkix.Name{CommonName: "other", Organization: []string{"zoogate"}}, false)
	plain, _ := connect(t, s)
	for name, c := range map[string]*zk.Conn{
		"TLS, no certificate":  connectTLS(t, s, clientTLS(ca, nil)),
		"TLS, another subject": connectTLS(t, s, clientTLS(ca, &other)),
		"plain port":           plain,
	} {
		for _, p := range []string{"/p", "/q"} {
			if _, _, err := c.Get(p); !errors.Is(err, zk.ErrNoAuth) {
				t.Errorf("%s: get %s: %v, want NoAuth", name, p, err)
			}
		}
	}
}

// TestTLSRefusesUntrustedCertificateAndOldTLS: a client certificate the CA
// did not sign fails the handshake, and so does TLS 1.1.
func TestTLSRefusesUntrustedCertificateAndOldTLS(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s := startTLSServer(t, ca)
	stranger := newTestCA(t, "another CA").issue(pkix.Name{CommonName: "client", Organization: []string{"zoogate"}}, false)
	conf := clientTLS(ca, nil)
	// Go's client sends only a certificate whose issuer the server names;
	// other clients (Java, Python) send theirs regardless: so does this one.
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &stranger, nil }
	nc, err := tls.Dial("tcp", s.TLSAddr().String(), conf)
	if err == nil { // TLS 1.3: the server's verdict arrives with the first read
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte("ruok"))
		b, rerr := io.ReadAll(nc)
		if rerr == nil || len(b) > 0 {
			t.Fatalf("untrusted client certificate: read %q, %v; want a failed handshake", b, rerr)
		}
	}
	old := clientTLS(ca, nil)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if nc, err := tls.Dial("tcp", s.TLSAddr().String(), old); err == nil {
		nc.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	// The port still serves.
	connectTLS(t, s, clientTLS(ca, nil))
}

// TestTLSConfigValidate: a TLS port needs the certificate, key and CA,
// and Validate names each missing field.
func TestTLSConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClientTLSAddr = "127.0.0.1:2281"
	err := cfg.Validate()
	for _, f := range []string{"TLSCert", "TLSKey", "TLSCA"} {
		var fe *FieldError
		found := false
		for _, e := range unjoin(err) {
			if errors.As(e, &fe) && fe.Field == f {
				found = true
			}
		}
		if !found {
			t.Errorf("Validate without %s: %v", f, err)
		}
	}
	cfg.ClientTLSAddr = "nope"
	cfg.ClientTLS = &tls.Config{}
	if err := cfg.Validate(); err == nil {
		t.Error("Validate accepted ClientTLSAddr \"nope\"")
	}
	// Files that do not load stop Start with the path named.
	cfg = DefaultConfig()
	cfg.ClientAddr, cfg.DataDir, cfg.ClientTLSAddr = "127.0.0.1:0", t.TempDir(), "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = "/nonexistent/node.crt", "/nonexistent/node.key", "/nonexistent/ca.crt"
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(); err == nil || !stringsContains(err.Error(), "/nonexistent/node.crt") {
		t.Fatalf("Start with missing TLS files: %v", err)
	}
}
