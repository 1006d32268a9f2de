package peer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/internal/testpki"
)

// A deployment CA for the TLS tests (internal/testpki issues certificates
// as the product does). The transport knows none of this; the tests pass
// it in through TLSConfig, as a deployment would.

type testPKI struct {
	*testpki.CA
	pool *x509.CertPool
}

func newTestPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	ca := testpki.New(t, name)
	return &testPKI{CA: ca, pool: ca.Pool}
}

// leaf issues a certificate whose identity is uri.
func (p *testPKI) leaf(uri string) tls.Certificate { return p.Issue(testpki.Leaf{URI: uri}) }

func nodeURI(cluster string, id uint64) string { return testpki.NodeURI(cluster, id) }

// node issues server id's certificate in cluster "test".
func (p *testPKI) node(id uint64) tls.Certificate { return p.leaf(nodeURI("test", id)) }

// clientConfig presents cert (none if it is empty) and trusts p's CA.
// Certificates name no host, so the chain is verified in
// VerifyConnection, not by crypto/tls's host name check; the id is the
// transport's business (PeerID).
func (p *testPKI) clientConfig(cert tls.Certificate) *tls.Config {
	var certs []tls.Certificate
	if len(cert.Certificate) > 0 {
		certs = []tls.Certificate{cert}
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       certs,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: p.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	}
}

// tlsConfig is the TLSConfig of a server presenting cert.
func (p *testPKI) tlsConfig(cert tls.Certificate, dial bool) *TLSConfig {
	return &TLSConfig{
		Server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientCAs:    p.pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		Client: p.clientConfig(cert),
		PeerID: testPeerID,
		Dial:   dial,
	}
}

// testPeerID reads the id of a node of cluster "test" from the peer's
// certificate (verified by the handshake).
func testPeerID(cs tls.ConnectionState) (uint64, error) {
	if len(cs.PeerCertificates) == 0 {
		return 0, errors.New("no peer certificate")
	}
	uris := cs.PeerCertificates[0].URIs
	if len(uris) != 1 {
		return 0, fmt.Errorf("%d URI SANs, want one", len(uris))
	}
	u := uris[0]
	if u.Scheme != "zoogate" || u.Host != "test" {
		return 0, fmt.Errorf("%s is not a node of cluster test", u)
	}
	rest, ok := strings.CutPrefix(u.Path, "/node/")
	if !ok {
		return 0, fmt.Errorf("%s names no node", u)
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s: bad node id", u)
	}
	return id, nil
}

// admissions records AdmitLearner's calls; requireVerified admits only
// learners that came with a certificate naming them.
type admissions struct {
	mu    sync.Mutex
	calls []string // "id/verified"
}

var errUnverified = errors.New("a learner must present a certificate naming it")

func (a *admissions) requireVerified(id uint64, verified bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf("%d/%v", id, verified))
	if !verified {
		return errUnverified
	}
	return nil
}

func (a *admissions) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}
