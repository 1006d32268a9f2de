package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
	"github.com/zoogate/zoogate/wan"
)

// A node's certificate (tls_cert, from [cluster] tls_ca) is its identity
// on every link that checks one: the WAN (wan/), gossip (a member enters
// the live view once its certificate showed the id it gossips), and the
// LAN peer links of observers that join at run time (core/peer: a learner
// that is not in the topology file must dial over TLS).

// loadIdentity returns node n's TLS material, nil when the file has no CA
// or the node no certificate.
func loadIdentity(f *topology.File, n *topology.Node) (*wan.TLS, error) {
	if f.Cluster.TLSCA == "" || n.TLSCert == "" {
		return nil, nil
	}
	t, err := wan.LoadTLS(f.Cluster.TLSCA, n.TLSCert, n.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("node %d: TLS (tls_ca, tls_cert, tls_key): %w", n.ID, err)
	}
	if cluster, id := t.Identity(); cluster != f.Cluster.Name || id != n.ID {
		return nil, fmt.Errorf("node %d: its certificate %s names %s, not node %d of cluster %q",
			n.ID, n.TLSCert, wan.NodeURI(cluster, id), n.ID, f.Cluster.Name)
	}
	return t, nil
}

// gossipIdentity is gossip's view of the node's TLS material.
func gossipIdentity(t *wan.TLS) *gossip.TLSIdentity {
	return &gossip.TLSIdentity{
		Certificate: t.Certificate(),
		Roots:       t.Roots(),
		ID:          func(c *x509.Certificate) (uint64, error) { return t.Verify([]*x509.Certificate{c}) },
	}
}

// peerTLS is core/peer's view of it: accepted TLS connections must show a
// client certificate from the CA, and dials (dial: an observer not in the
// file) check that the server is the id dialed (core/peer compares the id
// PeerID returns).
func peerTLS(t *wan.TLS, dial bool) *peer.TLSConfig {
	verify := func(cs tls.ConnectionState) error {
		_, err := t.Verify(cs.PeerCertificates)
		return err
	}
	return &peer.TLSConfig{
		Server: &tls.Config{
			MinVersion:       tls.VersionTLS13,
			Certificates:     []tls.Certificate{t.Certificate()},
			ClientAuth:       tls.RequireAndVerifyClientCert,
			ClientCAs:        t.Roots(),
			VerifyConnection: verify,
		},
		Client: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{t.Certificate()},
			// Addresses are not the identity: the chain and the id in the
			// certificate are checked instead of the host name.
			InsecureSkipVerify: true,
			VerifyConnection:   verify,
		},
		PeerID: func(cs tls.ConnectionState) (uint64, error) { return t.Verify(cs.PeerCertificates) },
		Dial:   dial,
	}
}

// learnerAdmission is who a server accepts as a learner on its LAN peer
// address: the file's nodes as before; a node the file does not have only
// with dynamic_observers and over TLS with a certificate naming it.
func learnerAdmission(f *topology.File) func(id uint64, verified bool) error {
	return func(id uint64, verified bool) error {
		if _, err := f.Node(id); err == nil {
			return nil
		}
		switch {
		case !f.Cluster.DynamicObservers:
			return fmt.Errorf("server %d is not in the topology file and [cluster] dynamic_observers is off", id)
		case !verified:
			return fmt.Errorf("server %d is not in the topology file: it must connect over TLS with a certificate naming it (zoogate serve --join)", id)
		}
		return nil
	}
}

// errNoCA: --join needs the deployment's CA.
var errNoCA = errors.New("an observer that joins needs [cluster] tls_ca, and its tls_cert and tls_key")

// attachIdentity gives the server's peer transport TLS and the learner
// admission rule (joined: n is not in the deployment's own file, so it
// dials over TLS).
func attachIdentity(cfg *server.Config, f *topology.File, n *topology.Node, t *wan.TLS, joined bool) error {
	if joined && t == nil {
		return errNoCA
	}
	cc := cfg.Cluster
	if cc == nil {
		return nil
	}
	cc.AdmitLearner = learnerAdmission(f)
	if t != nil {
		cc.PeerTLS = peerTLS(t, joined)
	}
	return nil
}
