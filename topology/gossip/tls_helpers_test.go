package gossip

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a deployment CA of the tests: it issues node certificates
// naming zoogate://test/node/<id>, as `zoogate tls init` would.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a certificate for node id, good for server and client
// authentication.
func (ca *testCA) issue(t *testing.T, id uint64) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fmt.Sprintf("zoogate://test/node/%d", id))
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: fmt.Sprintf("node %d", id)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// identity is node id's TLSIdentity in the deployment of ca.
func (ca *testCA) identity(t *testing.T, id uint64) *TLSIdentity {
	return &TLSIdentity{Certificate: ca.issue(t, id), Roots: ca.pool, ID: testNodeID}
}

// testNodeID reads the id of a zoogate://test/node/<id> URI SAN: what
// cmd/zoogate builds from wan.ParseIdentity and the cluster name.
func testNodeID(c *x509.Certificate) (uint64, error) {
	for _, u := range c.URIs {
		if u.Scheme != "zoogate" || u.Host != "test" {
			continue
		}
		if s, ok := strings.CutPrefix(u.Path, "/node/"); ok {
			return strconv.ParseUint(s, 10, 64)
		}
	}
	return 0, fmt.Errorf("certificate %q names no node of cluster test", c.Subject.CommonName)
}

// neverSees watches every view node a publishes until the test ends and
// returns a function telling whether any of them listed member id.
func neverSees(t *testing.T, a *Agent, id uint64) (seen func() bool) {
	var (
		mu  sync.Mutex
		hit bool
	)
	check := func() {
		if _, ok := a.View().Member(id); ok {
			mu.Lock()
			hit = true
			mu.Unlock()
		}
	}
	ch := a.Subscribe()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ch:
				check()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	check()
	return func() bool {
		check()
		mu.Lock()
		defer mu.Unlock()
		return hit
	}
}
