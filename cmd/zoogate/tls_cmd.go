package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

const tlsUsage = `usage: zoogate tls init --config FILE --out DIR [--force]
       zoogate tls issue --join FILE --ca-dir DIR [--out DIR] [--force]

Writes into DIR, for the deployment of the topology file FILE:
  session.secret           the secret that keys session passwords (0600)
  gossip.key               the key that encrypts gossip (0600)
  ca.crt, ca.key           a deployment CA (ECDSA P-256, valid 10 years)
  node-<id>.crt            one certificate per node, signed by the CA, for
  node-<id>.key            mutual TLS (server and client auth; keys 0600)
Existing files are never overwritten without --force.
`

// certValidity is how long the CA and the node certificates it signs are
// valid.
const certValidity = 10 * 365 * 24 * time.Hour

// tlsFile is one file `zoogate tls init` writes.
type tlsFile struct {
	name string
	data []byte
	mode fs.FileMode
}

// cmdTLS implements `zoogate tls init`.
func cmdTLS(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "issue" {
		return cmdTLSIssue(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprint(stderr, tlsUsage)
		return 2
	}
	fset := flag.NewFlagSet("tls init", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, tlsUsage) }
	config := fset.String("config", "", "the deployment's topology file")
	out := fset.String("out", "", "directory to write the secret, the CA and the node certificates into")
	force := fset.Bool("force", false, "overwrite existing files (a new secret ends every session at its next reconnect)")
	if err := fset.Parse(args[1:]); err != nil {
		return 2
	}
	if *config == "" || *out == "" || fset.NArg() > 0 {
		fmt.Fprint(stderr, tlsUsage)
		return 2
	}
	f, err := topology.Load(*config)
	if err != nil {
		fmt.Fprintf(stderr, "zoogate tls init: cannot use --config %s: %v\n", *config, err)
		return 1
	}
	files, err := tlsFiles(f, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "zoogate tls init: %v\n", err)
		return 1
	}
	if err := writeTLSFiles(*out, files, *force); err != nil {
		fmt.Fprintf(stderr, "zoogate tls init: %v\n", err)
		return 1
	}
	for _, tf := range files {
		fmt.Fprintf(stdout, "wrote %s (mode %04o)\n", filepath.Join(*out, tf.name), tf.mode)
	}
	secretPath, err := filepath.Abs(filepath.Join(*out, "session.secret"))
	if err != nil {
		secretPath = filepath.Join(*out, "session.secret")
	}
	fmt.Fprintf(stdout, `
Copy session.secret and gossip.key to every server of the deployment (mode
0600) and add to the [cluster] table of %s:

  session_secret_file = %q
  gossip_key_file = %q

  tls_ca = %q

and to each [[node]] with a wan or client_tls address (node <id>):

  tls_cert = %q
  tls_key = %q

Keep ca.key off the servers: it signs node certificates.

zoogate tls issue signs one more node certificate with DIR's ca.crt and
ca.key, for the observer a join file describes (zoogate serve --join).
`, *config, secretPath, filepath.Join(filepath.Dir(secretPath), "gossip.key"), filepath.Join(*out, "ca.crt"), filepath.Join(*out, "node-<id>.crt"), filepath.Join(*out, "node-<id>.key"))
	return 0
}

// tlsFiles makes the session secret, the CA and one certificate per node.
func tlsFiles(f *topology.File, now time.Time) ([]tlsFile, error) {
	gossipKey := make([]byte, 32)
	if _, err := rand.Read(gossipKey); err != nil {
		return nil, err
	}
	files := []tlsFile{
		{"session.secret", server.FormatSessionSecret(server.NewSessionSecret()), 0o600},
		{"gossip.key", gossip.FormatKey(gossipKey), 0o600},
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(certValidity)
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"zoogate"}, CommonName: "zoogate " + f.Cluster.Name + " CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	caKeyPEM, err := keyPEM(caKey)
	if err != nil {
		return nil, err
	}
	files = append(files, tlsFile{"ca.crt", certPEM(caDER), 0o644}, tlsFile{"ca.key", caKeyPEM, 0o600})
	for i := range f.Nodes {
		n := &f.Nodes[i]
		nf, err := nodeCertFiles(f.Cluster.Name, n, ca, caKey, notBefore, notAfter)
		if err != nil {
			return nil, err
		}
		files = append(files, nf...)
	}
	return files, nil
}

// nodeCertFiles makes node n's key and certificate, signed by ca, naming
// it node n.ID of cluster (its addresses' hosts as SANs, for clients that
// check them).
func nodeCertFiles(cluster string, n *topology.Node, ca *x509.Certificate, caKey crypto.Signer, notBefore, notAfter time.Time) ([]tlsFile, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprint(n.ID)
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"zoogate"}, OrganizationalUnit: []string{cluster}, CommonName: "node-" + id},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:                  []*url.URL{nodeURI(cluster, id)},
	}
	tmpl.DNSNames, tmpl.IPAddresses = nodeHosts(n)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("certificate of node %s: %w", id, err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	return []tlsFile{{"node-" + id + ".crt", certPEM(der), 0o644}, {"node-" + id + ".key", kp, 0o600}}, nil
}

// nodeURI is the identity a node's certificate carries, which a peer checks:
// zoogate://<cluster>/node/<id>.
func nodeURI(cluster, id string) *url.URL {
	return &url.URL{Scheme: "zoogate", Host: cluster, Path: "/node/" + id}
}

// nodeHosts returns the hosts of every address of a node, names as DNS SANs
// and IPs as IP SANs, without duplicates or wildcards.
func nodeHosts(n *topology.Node) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, addr := range []string{n.Client, n.ClientTLS, n.Peer, n.Election, n.Gossip, n.WAN} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			ip = ip.Unmap()
			if ip.IsUnspecified() || seen[ip.String()] {
				continue
			}
			seen[ip.String()] = true
			ips = append(ips, net.IP(ip.AsSlice()))
			continue
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if !seen[host] {
			seen[host] = true
			dns = append(dns, host)
		}
	}
	return dns, ips
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeTLSFiles writes files into dir (made 0700 if missing). Without
// force it writes nothing if any of them exists already. Each file is
// written under a temporary name with its mode and then renamed, so a file
// is never seen half-written or with a wider mode.
func writeTLSFiles(dir string, files []tlsFile, force bool) error {
	if !force {
		var existing []string
		for _, tf := range files {
			if _, err := os.Lstat(filepath.Join(dir, tf.name)); err == nil {
				existing = append(existing, tf.name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(existing) > 0 {
			return fmt.Errorf("%s already holds %s; refusing to overwrite (--force replaces every file: a new session secret ends every session at its next reconnect, and a new CA invalidates the certificates deployed)",
				dir, strings.Join(existing, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, tf := range files {
		if err := writeFileAtomic(filepath.Join(dir, tf.name), tf.data, tf.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing left to remove
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
