package wan

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

func TestLoadTLS(t *testing.T) {
	c := newCA(t, "ca")
	other := newCA(t, "other")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key := c.issue(t, testCluster, 7, certOpts{})
	caFile, certFile, keyFile := write("ca.pem", c.certPEM), write("node.pem", cert), write("node.key", key)
	tl, err := LoadTLS(caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cl, id := tl.Identity(); cl != testCluster || id != 7 {
		t.Fatalf("identity %s/%d", cl, id)
	}

	oCert, oKey := other.issue(t, testCluster, 7, certOpts{})
	expired, expiredKey := c.issue(t, testCluster, 7, certOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	noURI, noURIKey := c.issue(t, testCluster, 7, certOpts{uri: "spiffe://prod/x"})
	clientOnly, clientOnlyKey := c.issue(t, testCluster, 7, certOpts{eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	for _, tc := range []struct {
		name          string
		ca, cert, key string
		want          string
	}{
		{"missing CA file", filepath.Join(dir, "nope"), certFile, keyFile, "CA file"},
		{"CA file without certificate", write("empty.pem", []byte("x")), certFile, keyFile, "no CERTIFICATE"},
		{"key of another certificate", caFile, certFile, write("o.key", oKey), "certificate and key"},
		{"certificate of another CA", caFile, write("o.pem", oCert), write("o2.key", oKey), "unknown authority"},
		{"expired certificate", caFile, write("e.pem", expired), write("e.key", expiredKey), "expired"},
		{"no node URI", caFile, write("n.pem", noURI), write("n.key", noURIKey), "no zoogate:// URI SAN"},
		{"client auth only", caFile, write("c.pem", clientOnly), write("c.key", clientOnlyKey), "key usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTLS(tc.ca, tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseIdentity(t *testing.T) {
	c := newCA(t, "ca")
	for _, tc := range []struct {
		uri     string
		cluster string
		id      uint64
		ok      bool
	}{
		{"zoogate://prod/node/4", "prod", 4, true},
		{"zoogate://eu-west.prod/node/18446744073709551615", "eu-west.prod", 1<<64 - 1, true},
		{"zoogate://prod/node/0", "", 0, false},
		{"zoogate://prod/node/04", "", 0, false},
		{"zoogate://prod/node/-1", "", 0, false},
		{"zoogate://prod/node/4/x", "", 0, false},
		{"zoogate://prod/relay/4", "", 0, false},
		{"zoogate:///node/4", "", 0, false},
		{"zoogate://prod/node/4?x=1", "", 0, false},
		{"zoogate://u@prod/node/4", "", 0, false},
		{"https://prod/node/4", "", 0, false},
	} {
		cert, _ := c.issue(t, "x", 1, certOpts{uri: tc.uri})
		leaf := parsePEM(t, cert)
		cl, id, err := ParseIdentity(leaf)
		if tc.ok != (err == nil) || cl != tc.cluster || id != tc.id {
			t.Errorf("%s: got %q %d %v", tc.uri, cl, id, err)
		}
		if err != nil && !errors.Is(err, ErrIdentity) {
			t.Errorf("%s: %v is not ErrIdentity", tc.uri, err)
		}
	}
}

// TestRefusals: every certificate that does not prove an allowed identity
// keeps the link down; the side that refuses says why.
func TestRefusals(t *testing.T) {
	h := newHarness(t)
	other := newCA(t, "another CA")
	for _, tc := range []struct {
		name string
		// dialer's TLS (nil: a good one for node 2)
		dialerTLS, acceptorTLS func() *TLS
		// the id the dialer dials at the acceptor's address
		dialID     uint64
		acceptorID uint64
		allow      func(uint64) bool
		// who refuses and what it says
		refuser string
		want    string
	}{
		{
			// Go's client only offers a certificate issued by a CA the
			// server asks for (ClientCAs): it sends none.
			name:      "dialer of an unknown CA",
			dialerTLS: func() *TLS { return rawTLS(t, h.ca, other, testCluster, 2, certOpts{}) },
			dialID:    1, acceptorID: 1, refuser: "acceptor", want: "didn't provide a certificate",
		},
		{
			name:        "acceptor of an unknown CA",
			acceptorTLS: func() *TLS { return rawTLS(t, h.ca, other, testCluster, 1, certOpts{}) },
			dialID:      1, acceptorID: 1, refuser: "dialer", want: "unknown authority",
		},
		{
			name:   "certificate of another id than dialed",
			dialID: 4, acceptorID: 5, refuser: "dialer", want: "the certificate is node 5, this server dialed node 4",
		},
		{
			name:   "id not allowed",
			dialID: 1, acceptorID: 1, allow: func(id uint64) bool { return id != 2 },
			refuser: "acceptor", want: "node 2 is not allowed",
		},
		{
			name: "expired certificate",
			dialerTLS: func() *TLS {
				return rawTLS(t, h.ca, h.ca, testCluster, 2, certOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
			},
			dialID: 1, acceptorID: 1, refuser: "acceptor", want: "expired",
		},
		{
			name:      "another cluster's URI",
			dialerTLS: func() *TLS { return rawTLS(t, h.ca, h.ca, "staging", 2, certOpts{}) },
			dialID:    1, acceptorID: 1, refuser: "acceptor", want: "of another cluster",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			var atls *TLS
			if tc.acceptorTLS != nil {
				atls = tc.acceptorTLS()
			}
			acc := h.start(nodeOpts{id: tc.acceptorID, allow: tc.allow, tls: atls})
			var dtls *TLS
			if tc.dialerTLS != nil {
				dtls = tc.dialerTLS()
			}
			d := h.start(nodeOpts{id: 2, tls: dtls, dial: map[uint64]string{tc.dialID: acc.addr()}})
			d.tr.Send(tc.dialID, LaneOrdered, []byte("let me in"))
			refuser := acc.log
			if tc.refuser == "dialer" {
				refuser = d.log
			}
			refuser.waitLine(t, 5*time.Second, tc.want)
			// Let the dialer retry a few times: the link never comes up.
			d.log.waitLine(t, 5*time.Second, "dial failed", "attempts=2")
			if evs := queued(acc.tr); len(evs) != 0 {
				t.Fatalf("the acceptor got events: %v", evs)
			}
			st := d.tr.Stats()[tc.dialID]
			if st.Connected || st.Connections != 0 || st.LastError == "" {
				t.Fatalf("dialer stats %+v", st)
			}
			t.Logf("dialer's last error: %s", st.LastError)
		})
	}
}

// TestHelloMustMatchCertificate: a peer with a valid certificate for node
// 2 that claims to be node 4 in its hello is refused.
func TestHelloMustMatchCertificate(t *testing.T) {
	h := newHarness(t)
	acc := h.start(nodeOpts{id: 1})
	liar := &Transport{cfg: testConfig(2)}
	liar.cfg.TLS = h.ca.tlsFor(t, 2)
	liar.log = logger{l: nullLogger{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, acc.addr(), liar.clientConfig(1), &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	for i, kind := range []uint8{streamOrdered, streamRequests} {
		s, err := conn.OpenStream()
		if err != nil {
			if i > 0 {
				break // the acceptor may refuse on the first hello already
			}
			t.Fatal(err)
		}
		s.Write(appendHello(nil, hello{Version: wireVersion, Kind: kind, From: 4, To: 1, Cluster: testCluster}))
	}
	acc.log.waitLine(t, 5*time.Second, "refusing a connection", "hello 4->1 on a connection 2->1")
	select {
	case <-conn.Context().Done():
	case <-ctx.Done():
		t.Fatal("the acceptor did not close the connection")
	}
	if ae, ok := errors.AsType[*quic.ApplicationError](context.Cause(conn.Context())); !ok || ae.ErrorCode != codeRefused {
		t.Fatalf("closed with %v, want code %d", context.Cause(conn.Context()), codeRefused)
	}
}

func TestNewRequiresTLSOfItsOwnID(t *testing.T) {
	c := newCA(t, "ca")
	cfg := testConfig(4)
	cfg.ListenAddr = "127.0.0.1:0"
	_, err := New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing crosses the WAN in plaintext") || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("without TLS: %v", err)
	}
	cfg.TLS = c.tlsFor(t, 5)
	_, err = New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "the certificate is zoogate://prod/node/5, this server is zoogate://prod/node/4") {
		t.Fatalf("with node 5's certificate: %v", err)
	}
}

func parsePEM(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(pemBlock(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
