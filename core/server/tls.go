package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/proto"
)

// The TLS client port (ZooKeeper's secureClientPort): the same protocol
// and the same conn code as the plain port, four-letter words included,
// over TLS 1.2 or later with the node's certificate.
//
// Client certificates are asked for but optional: a client that presents
// one that verifies against the deployment's CA is authenticated as
// x509:<subject DN> (acl.X509ID), one that presents a certificate the CA
// did not sign fails the handshake, and one without a certificate is
// served with its ip identity only. (ZooKeeper 3.8's default,
// ssl.clientAuth=need, refuses clients without a certificate;
// docs/operations.md notes the difference.)

// validateClientTLS checks the TLS port's settings for Validate.
func (c *Config) validateClientTLS(add func(field, format string, a ...any)) {
	if c.ClientTLSAddr == "" {
		return
	}
	if _, _, err := net.SplitHostPort(c.ClientTLSAddr); err != nil {
		add("ClientTLSAddr", "%v", err)
	}
	if c.ClientTLS != nil {
		return
	}
	for _, f := range []struct{ name, v string }{{"TLSCert", c.TLSCert}, {"TLSKey", c.TLSKey}, {"TLSCA", c.TLSCA}} {
		if f.v == "" {
			add(f.name, "is required with ClientTLSAddr (a PEM file)")
		}
	}
}

// clientTLSConfig is the TLS port's config: ClientTLS when given, else
// one built from the PEM files.
func (c *Config) clientTLSConfig() (*tls.Config, error) {
	if c.ClientTLS != nil {
		return c.ClientTLS.Clone(), nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("client TLS: loading tls_cert %s and tls_key %s: %w", c.TLSCert, c.TLSKey, err)
	}
	caPEM, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("client TLS: reading tls_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("client TLS: tls_ca %s holds no PEM certificate", c.TLSCA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}, nil
}

// listenClientTLS opens the TLS client listener; nil without ClientTLSAddr.
func (s *Server) listenClientTLS() (net.Listener, error) {
	if s.cfg.ClientTLSAddr == "" {
		return nil, nil
	}
	conf, err := s.cfg.clientTLSConfig()
	if err != nil {
		return nil, err
	}
	if conf.MinVersion < tls.VersionTLS12 {
		conf.MinVersion = tls.VersionTLS12
	}
	ln, err := net.Listen("tcp", s.cfg.ClientTLSAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on client TLS address %s: %w", s.cfg.ClientTLSAddr, err)
	}
	return tls.NewListener(ln, conf), nil
}

// TLSAddr returns the TLS client listener's address, nil without one.
func (s *Server) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// tlsHandshake runs a TLS connection's handshake (bounded like the
// ZooKeeper handshake that follows it) and adds the x509 identity of a
// verified client certificate. It reports false when the connection must
// close; a plain connection passes through.
func (c *conn) tlsHandshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	tc.SetDeadline(time.Now().Add(c.s.handshakeTimeout()))
	if err := tc.Handshake(); err != nil {
		c.log.Debug("TLS handshake failed", "error", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	if len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		id := acl.X509ID(st.PeerCertificates[0])
		c.addIdentities([]proto.ID{{Scheme: acl.X509Scheme, ID: id}})
		c.log.Debug("client certificate", "x509", id)
	}
	return true
}
