package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// TB is the part of testing.TB this package needs.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// CA is a certificate authority made for one test.
type CA struct {
	t    TB
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	Pool *x509.CertPool // holds Cert only
}

// New makes a CA named name, valid from an hour ago for a day.
func New(t TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
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
	return &CA{t: t, Cert: cert, Key: key, Pool: pool}
}

// CertPEM is the CA's certificate in PEM.
func (c *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// NodeURI is node id's identity in cluster, as zoogate writes it.
func NodeURI(cluster string, id uint64) string {
	return fmt.Sprintf("zoogate://%s/node/%d", cluster, id)
}

// Leaf describes a certificate to issue; zero fields take the defaults.
type Leaf struct {
	URI       string    // the one URI SAN; "" = none
	Subject   pkix.Name // default: CommonName = URI
	IPs       []net.IP  // IP SANs (a client port's server certificate)
	DNSNames  []string  // DNS SANs
	NotBefore time.Time // default: an hour ago
	NotAfter  time.Time // default: in a day
	// EKU defaults to server and client authentication.
	EKU []x509.ExtKeyUsage
}

// Node issues node id's certificate in cluster, as `zoogate tls init` does.
func (c *CA) Node(cluster string, id uint64) tls.Certificate {
	c.t.Helper()
	return c.Issue(Leaf{URI: NodeURI(cluster, id)})
}

// Issue signs a certificate as l describes.
func (c *CA) Issue(l Leaf) tls.Certificate {
	c.t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(c.t),
		Subject:      l.Subject,
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  l.EKU,
		IPAddresses:  l.IPs,
		DNSNames:     l.DNSNames,
	}
	if l.URI != "" {
		u, err := url.Parse(l.URI)
		if err != nil {
			c.t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	if tmpl.Subject.CommonName == "" && len(tmpl.Subject.Organization) == 0 {
		tmpl.Subject.CommonName = l.URI
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if tmpl.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	key := newKey(c.t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, &key.PublicKey, c.Key)
	if err != nil {
		c.t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		c.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// PEM returns cert's certificate and its PKCS#8 key in PEM.
func PEM(t TB, cert tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// WritePEM writes cert and its key as dir/name.crt and dir/name.key (0600)
// and returns their paths.
func WritePEM(t TB, dir, name string, cert tls.Certificate) (certPath, keyPath string) {
	t.Helper()
	c, k := PEM(t, cert)
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func newKey(t TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
