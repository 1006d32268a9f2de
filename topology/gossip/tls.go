package gossip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// TLSIdentity is what a node proves who it is with in the pools, and
// checks the others with.
type TLSIdentity struct {
	Certificate tls.Certificate // this node's (Leaf set)
	Roots       *x509.CertPool  // the deployment CA
	// ID returns the node id a certificate that chains to Roots names, or
	// an error (wrong cluster, no identity).
	ID func(*x509.Certificate) (uint64, error)
	// WrapConn, when set, is handed every TCP connection the pools dial or
	// accept (streams and identity probes) before TLS runs over it, and
	// the connection it returns is used instead (benchmarks count the
	// bytes on the wire with it).
	WrapConn func(net.Conn) net.Conn
}

// wrap applies WrapConn.
func (t *TLSIdentity) wrap(c net.Conn) net.Conn {
	if t.WrapConn == nil {
		return c
	}
	return t.WrapConn(c)
}

// gossipALPN is the application protocol of the pools' TLS streams: a dial
// that lands on another TLS service of the deployment (whose certificate
// would name the right node) fails instead of speaking memberlist to it.
const gossipALPN = "zoogate-gossip/1"

// Stream modes: the first byte a dialer writes once TLS is up.
const (
	modeMemberlist = 'M' // a memberlist stream (join, state exchange, fallback ping)
	modeIdentity   = 'I' // an identity probe: the handshake was all it wanted
)

// errIdentity marks a peer whose certificate does not prove a node of the
// deployment (unknown CA, wrong usage, no id) or proves another node than
// the one dialed. A retry cannot cure it, unlike a refused dial.
var errIdentity = errors.New("gossip: peer identity")

// checkTLS validates a node's identity at Start: the fields are set, its
// own certificate chains to Roots for both usages and names cfg.ID. A node
// started with the wrong certificate would otherwise run and be refused by
// every other node. It returns a copy with Leaf set.
func checkTLS(t *TLSIdentity, id uint64) (*TLSIdentity, error) {
	if t.Roots == nil || t.ID == nil || len(t.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("%w: TLS needs a certificate, Roots and ID", ErrConfig)
	}
	c := *t
	if c.Certificate.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("%w: this node's certificate: %v", ErrConfig, err)
		}
		c.Certificate.Leaf = leaf
	}
	got, err := c.peerID(chainOf(c.Certificate))
	if err != nil {
		return nil, fmt.Errorf("%w: this node's certificate: %v", ErrConfig, err)
	}
	if got != id {
		return nil, fmt.Errorf("%w: this node's certificate names node %d, the node is %d", ErrConfig, got, id)
	}
	return &c, nil
}

func chainOf(c tls.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{c.Leaf}
	for _, der := range c.Certificate[1:] {
		if x, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, x)
		}
	}
	return chain
}

// peerID checks that certs[0] chains to Roots (through certs[1:]) for
// server and for client authentication, every node's certificate serving
// both ends of a stream, and returns the id it names. Host names are never
// looked at: a node's address may change (NAT, advertise addresses), its
// id is what it is.
func (t *TLSIdentity) peerID(certs []*x509.Certificate) (uint64, error) {
	if len(certs) == 0 {
		return 0, fmt.Errorf("%w: no certificate presented", errIdentity)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	// VerifyOptions.KeyUsages accepts any one of its usages: ask for each.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		opts := x509.VerifyOptions{Roots: t.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
		if _, err := certs[0].Verify(opts); err != nil {
			return 0, fmt.Errorf("%w: %w", errIdentity, err)
		}
	}
	id, err := t.ID(certs[0])
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errIdentity, err)
	}
	return id, nil
}

// serverConfig checks inbound streams: Go requires a client certificate
// chaining to Roots, then peerID checks both usages and that it names a
// node. Which node does not matter here: memberlist messages carry no
// identity to compare with, and members are verified by the dialing side
// (DialAddressTimeout with a name, the agent's identity probes).
func (t *TLSIdentity) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    t.Roots,
		NextProtos:   []string{gossipALPN},
		// A probe closes right after its handshake: a ticket it never
		// reads would make its kernel answer with a reset.
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := t.peerID(cs.PeerCertificates)
			return err
		},
	}
}

// clientHandshake runs TLS over raw (a fresh TCP connection), finished by
// deadline; check, when set, vets the id the acceptor's certificate names
// before the stream mode is written, so that the acceptor never hands a
// refused stream to memberlist. It returns the connection and the id. On
// error raw is closed.
func (t *TLSIdentity) clientHandshake(ctx context.Context, raw net.Conn, deadline time.Time, mode byte, check func(uint64) error) (*tls.Conn, uint64, error) {
	var id uint64
	conn := tls.Client(raw, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.Certificate},
		NextProtos:   []string{gossipALPN},
		// Standard verification matches the address against DNS and IP
		// SANs; the id is the identity, so VerifyConnection checks the
		// chain against Roots and reads the id instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			var err error
			id, err = t.peerID(cs.PeerCertificates)
			return err
		},
	})
	fail := func(err error) (*tls.Conn, uint64, error) {
		raw.Close()
		return nil, 0, err
	}
	if err := raw.SetDeadline(deadline); err != nil {
		return fail(err)
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("gossip: TLS with %s: %w", raw.RemoteAddr(), err))
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != gossipALPN {
		return fail(fmt.Errorf("%w: %s speaks %q, not %q", errIdentity, raw.RemoteAddr(), p, gossipALPN))
	}
	if check != nil {
		if err := check(id); err != nil {
			return fail(err)
		}
	}
	if _, err := conn.Write([]byte{mode}); err != nil {
		return fail(fmt.Errorf("gossip: TLS with %s: %w", raw.RemoteAddr(), err))
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return conn, id, nil
}

// idOfName returns the id a memberlist name gives: "<id>" in the LAN
// pool, "<id>.<site>" in the WAN pool.
func idOfName(name string) (uint64, error) {
	s, _, _ := strings.Cut(name, ".")
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("gossip: member name %q names no node id", name)
	}
	return id, nil
}

// probeIdentity dials addr's gossip port and returns the id its
// certificate names: how the agent checks a member's gossiped id.
func (t *TLSIdentity) probeIdentity(ctx context.Context, addr string, timeout time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	raw = t.wrap(raw)
	deadline, _ := ctx.Deadline()
	conn, id, err := t.clientHandshake(ctx, raw, deadline, modeIdentity, nil)
	if err != nil {
		return 0, err
	}
	conn.Close()
	return id, nil
}
