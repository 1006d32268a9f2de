package wan

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// What other links reuse of a node's TLS material: the LAN peer links of
// observers that join at run time (core/peer) and gossip's certificate
// identity (topology/gossip) check certificates the way the WAN does.

// Certificate returns the node's certificate and key (Leaf set).
func (t *TLS) Certificate() tls.Certificate { return t.cert }

// Roots returns the deployment CA.
func (t *TLS) Roots() *x509.CertPool { return t.roots }

// Verify checks that certs[0] chains to the deployment CA (through
// certs[1:]) now, for server and client authentication, and names a node
// of this node's cluster; it returns that node's id.
func (t *TLS) Verify(certs []*x509.Certificate) (uint64, error) {
	cluster, id, err := verifyChain(t.roots, certs, time.Now())
	if err != nil {
		return 0, err
	}
	if cluster != t.cluster {
		return 0, fmt.Errorf("%w: the certificate is %s, of another cluster than %q", ErrIdentity, NodeURI(cluster, id), t.cluster)
	}
	return id, nil
}
