package wan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ALPN is the application protocol both ends must negotiate.
const ALPN = "zoogate-wan/1"

// TLS is what a server proves and checks its peers with: its certificate
// and key, and the deployment CA its peers' certificates must chain to.
// Build it with LoadTLS or NewTLS.
type TLS struct {
	roots   *x509.CertPool
	cert    tls.Certificate // Leaf set
	cluster string
	id      uint64
}

// LoadTLS reads PEM files: the deployment CA (one or more certificates),
// this node's certificate (its chain may follow it) and its private key,
// as written by `zoogate tls init`. It checks that the certificate chains
// to the CA, is valid now for both server and client authentication, and
// names a node (NodeURI).
func LoadTLS(caFile, certFile, keyFile string) (*TLS, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("wan: CA file: %w", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("wan: certificate file: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("wan: key file: %w", err)
	}
	t, err := NewTLS(ca, cert, key)
	if err != nil {
		return nil, fmt.Errorf("%w (files %s, %s, %s)", err, caFile, certFile, keyFile)
	}
	return t, nil
}

// NewTLS is LoadTLS from PEM bytes.
func NewTLS(caPEM, certPEM, keyPEM []byte) (*TLS, error) {
	roots := x509.NewCertPool()
	n := 0
	for rest := caPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("wan: CA certificate %d: %w", n+1, err)
		}
		roots.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("wan: no CERTIFICATE block in the CA PEM")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("wan: certificate and key: %w", err)
	}
	t, err := newTLS(roots, pair)
	if err != nil {
		return nil, err
	}
	if _, _, err := verifyChain(roots, certChain(pair), time.Now()); err != nil {
		return nil, fmt.Errorf("wan: this node's certificate: %w", err)
	}
	return t, nil
}

// newTLS builds a TLS without checking the chain (tests use it for
// certificates that must fail at the peer).
func newTLS(roots *x509.CertPool, pair tls.Certificate) (*TLS, error) {
	if pair.Leaf == nil {
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("wan: certificate: %w", err)
		}
		pair.Leaf = leaf
	}
	cluster, id, err := ParseIdentity(pair.Leaf)
	if err != nil {
		return nil, fmt.Errorf("wan: this node's certificate: %w", err)
	}
	return &TLS{roots: roots, cert: pair, cluster: cluster, id: id}, nil
}

// Identity returns the cluster and node id the certificate names.
func (t *TLS) Identity() (cluster string, id uint64) { return t.cluster, t.id }

// check reports whether the certificate is that of node id of cluster.
func (t *TLS) check(cluster string, id uint64) error {
	if t.cluster != cluster || t.id != id {
		return fmt.Errorf("the certificate is %s, this server is %s", NodeURI(t.cluster, t.id), NodeURI(cluster, id))
	}
	return nil
}

// NodeURI is the URI SAN naming node id of cluster:
// zoogate://<cluster>/node/<id>.
func NodeURI(cluster string, id uint64) string {
	return "zoogate://" + cluster + "/node/" + strconv.FormatUint(id, 10)
}

// ParseIdentity returns the cluster and node id of a certificate's one
// zoogate:// URI SAN (other URI schemes are ignored).
func ParseIdentity(c *x509.Certificate) (cluster string, id uint64, err error) {
	var found []*url.URL
	for _, u := range c.URIs {
		if u.Scheme == "zoogate" {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return "", 0, fmt.Errorf("%w: no zoogate:// URI SAN in the certificate (CN %q)", ErrIdentity, c.Subject.CommonName)
	case 1:
	default:
		return "", 0, fmt.Errorf("%w: %d zoogate:// URI SANs in the certificate, want one", ErrIdentity, len(found))
	}
	u := found[0]
	num, ok := strings.CutPrefix(u.Path, "/node/")
	if ok {
		id, err = strconv.ParseUint(num, 10, 64)
		ok = err == nil && id > 0 && strconv.FormatUint(id, 10) == num
	}
	if !ok || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", 0, fmt.Errorf("%w: URI SAN %q is not zoogate://<cluster>/node/<id>", ErrIdentity, u.String())
	}
	return u.Host, id, nil
}

func certChain(pair tls.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{pair.Leaf}
	for _, der := range pair.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
	}
	return chain
}

// verifyChain checks that certs[0] chains to roots (through certs[1:]) at
// now, for server and for client authentication, and returns its identity.
// Host names and IP SANs are not looked at: the id is the identity.
func verifyChain(roots *x509.CertPool, certs []*x509.Certificate, now time.Time) (string, uint64, error) {
	if len(certs) == 0 {
		return "", 0, fmt.Errorf("%w: no certificate presented", ErrIdentity)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	// KeyUsages means "any of": check each usage on its own.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := certs[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage},
		})
		if err != nil {
			return "", 0, fmt.Errorf("%w: %w", ErrIdentity, err)
		}
	}
	return ParseIdentity(certs[0])
}

// serverConfig is the tls.Config accepted connections are checked with.
// Go verifies the chain (RequireAndVerifyClientCert, ClientCAs); then
// VerifyConnection checks both key usages, the identity and AllowPeer.
func (t *Transport) serverConfig() *tls.Config {
	c := t.cfg
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.TLS.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.TLS.roots,
		NextProtos:   []string{ALPN},
		VerifyConnection: func(cs tls.ConnectionState) error {
			cluster, id, err := t.verifyState(cs)
			switch {
			case err != nil:
			case cluster != c.Cluster:
				err = fmt.Errorf("%w: the certificate is %s, of another cluster than %q", ErrIdentity, NodeURI(cluster, id), c.Cluster)
			case id == c.ID:
				err = fmt.Errorf("%w: the certificate is this server's own id %d", ErrIdentity, id)
			case dialed(c.Dial, id):
				err = fmt.Errorf("%w: node %d is dialed by this server and may not dial it", ErrIdentity, id)
			case c.AllowPeer == nil || !c.AllowPeer(id):
				err = fmt.Errorf("%w: node %d is not allowed to connect (AllowPeer)", ErrIdentity, id)
			}
			return err // logged by connContext's watcher, with the connection
		},
	}
}

// clientConfig is the tls.Config a dial to peer is checked with: the
// acceptor must prove it is that peer of this cluster.
func (t *Transport) clientConfig(peer uint64) *tls.Config {
	c := t.cfg
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.TLS.cert},
		RootCAs:      c.TLS.roots,
		NextProtos:   []string{ALPN},
		// The standard verification would match the server name against
		// the certificate's DNS/IP SANs; addresses are not the identity
		// (NAT, advertise addresses): VerifyConnection checks the chain
		// against RootCAs and the id in the URI SAN instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			cluster, id, err := t.verifyState(cs)
			switch {
			case err != nil:
			case cluster != c.Cluster:
				err = fmt.Errorf("%w: the certificate is %s, of another cluster than %q", ErrIdentity, NodeURI(cluster, id), c.Cluster)
			case id != peer:
				err = fmt.Errorf("%w: the certificate is node %d, this server dialed node %d", ErrIdentity, id, peer)
			}
			return err
		},
	}
}

func (t *Transport) verifyState(cs tls.ConnectionState) (string, uint64, error) {
	if cs.NegotiatedProtocol != ALPN {
		return "", 0, fmt.Errorf("%w: ALPN %q, want %q", ErrIdentity, cs.NegotiatedProtocol, ALPN)
	}
	return verifyChain(t.cfg.TLS.roots, cs.PeerCertificates, time.Now())
}

// statelessResetKey derives the key of quic-go's stateless resets from the
// node's private key, so that a restarted node resets the connections of
// its previous run at their first packet (the peer learns at once instead
// of after IdleTimeout). It falls back to a random key.
func statelessResetKey(pair tls.Certificate) [32]byte {
	var key [32]byte
	if der, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey); err == nil {
		m := hmac.New(sha256.New, der)
		m.Write([]byte(ALPN + " stateless reset key"))
		copy(key[:], m.Sum(nil))
		return key
	}
	rand.Read(key[:])
	return key
}

func dialed(m map[uint64]string, id uint64) bool { _, ok := m[id]; return ok }
