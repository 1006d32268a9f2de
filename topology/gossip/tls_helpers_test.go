package gossip

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/internal/testpki"
)

// testCA is a deployment CA of the tests: it issues node certificates
// naming zoogate://test/node/<id>, as `zoogate tls init` would.
type testCA struct {
	ca   *testpki.CA
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca := testpki.New(t, name)
	return &testCA{ca: ca, pool: ca.Pool}
}

// issue returns a certificate for node id, good for server and client
// authentication.
func (ca *testCA) issue(t *testing.T, id uint64) tls.Certificate {
	t.Helper()
	return ca.ca.Node("test", id)
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
