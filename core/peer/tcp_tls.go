package peer

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
)

// Mutual TLS on peer links. The transport does not know what a
// certificate looks like: the deployment passes the tls.Configs and a
// PeerID that reads a server id out of a verified certificate (core/peer
// imports nothing that knows the naming scheme). What the transport adds
// is the binding between that id and the hello: over TLS, a hello's sender
// must be the server the certificate names, and a dialed server must be
// the one the dialer meant.

// TLSConfig is TCPConfig.TLS.
type TLSConfig struct {
	// Server is used for accepted TLS connections. It must require and
	// verify client certificates (ClientAuth
	// tls.RequireAndVerifyClientCert): the id a connection speaks for is
	// read from the certificate the client presented.
	Server *tls.Config
	// Client is used for dials over TLS. It must verify the server's
	// chain. Peer certificates name a server id, not a host, so that
	// usually means InsecureSkipVerify with a VerifyConnection that
	// verifies the chain against the deployment's CA; the transport then
	// checks the id with PeerID.
	Client *tls.Config
	// PeerID returns the server id the verified peer certificate of a
	// connection names. It is called from several goroutines at once.
	PeerID func(tls.ConnectionState) (uint64, error)
	// Dial: every dial goes over TLS.
	Dial bool
}

// validate adds TLS's problems to Validate's list. Beyond the nil checks
// it refuses the settings that would let a connection through with an
// identity nobody verified, or that can only fail at every handshake.
func (c *TLSConfig) validate(bad func(field, format string, args ...any)) {
	if c.PeerID == nil {
		bad("TLS.PeerID", "required when TLS is set")
	}
	if s := c.Server; s == nil {
		bad("TLS.Server", "required when TLS is set")
	} else {
		if s.ClientAuth != tls.RequireAndVerifyClientCert {
			bad("TLS.Server", "ClientAuth is %v, must be RequireAndVerifyClientCert (the client certificate names the peer)", s.ClientAuth)
		}
		if len(s.Certificates) == 0 && s.GetCertificate == nil && s.GetConfigForClient == nil {
			bad("TLS.Server", "no certificate (Certificates, GetCertificate or GetConfigForClient)")
		}
	}
	cl := c.Client
	if cl == nil {
		if c.Dial {
			bad("TLS.Client", "required when TLS.Dial is set")
		}
		return
	}
	if len(cl.Certificates) == 0 && cl.GetClientCertificate == nil {
		bad("TLS.Client", "no client certificate (Certificates or GetClientCertificate); acceptors require one")
	}
	switch {
	case cl.InsecureSkipVerify && cl.VerifyConnection == nil && cl.VerifyPeerCertificate == nil:
		bad("TLS.Client", "InsecureSkipVerify without VerifyConnection or VerifyPeerCertificate accepts any server's certificate")
	case !cl.InsecureSkipVerify && cl.ServerName == "":
		// crypto/tls refuses to dial without one; better said now.
		bad("TLS.Client", "no ServerName: set one the servers' certificates carry, or verify the chain in VerifyConnection with InsecureSkipVerify")
	}
}

// tlsRecordHandshake is the first byte of a TLS connection (the content
// type of the record carrying the ClientHello). A plain connection starts
// with its hello frame's length word, whose first byte is 0: a hello is
// far shorter than 1<<24 bytes.
const tlsRecordHandshake = 0x16

// sniff reads the first byte of an accepted connection (under the
// handshake deadline the caller set) and returns the connection to go on
// with: that byte is read again from it. isTLS: the peer opened with a TLS
// handshake.
func sniff(conn net.Conn) (c net.Conn, isTLS bool, err error) {
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return nil, false, err
	}
	return &sniffedConn{Conn: conn, first: b[:]}, b[0] == tlsRecordHandshake, nil
}

// sniffedConn replays the byte sniff took before reading from the
// connection again. Only one goroutine reads a connection at a time (the
// handshake, then the link's reader), so first needs no lock.
type sniffedConn struct {
	net.Conn
	first []byte
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 && len(p) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite keeps halfClose a half-close (not a Close) on a wrapped TCP
// connection.
func (c *sniffedConn) CloseWrite() error { return halfClose(c.Conn) }

// NetConn returns the wrapped connection (as tls.Conn's does), for tune.
func (c *sniffedConn) NetConn() net.Conn { return c.Conn }

// tlsConn is a TLS connection as the links use it. Close drops the
// underlying connection at once instead of sending a close_notify first:
// links are closed under TCP.mu, and when no Write is in flight
// tls.Conn.Close writes the alert with a 5 s deadline, which a peer that
// stopped reading (a full TCP window) makes it wait out, the whole
// transport with it. Frames delimit themselves, so the peer tells a cut
// frame from a finished stream without the alert. A graceful close still
// sends one (CloseWrite).
type tlsConn struct {
	*tls.Conn
}

func (c *tlsConn) Close() error { return c.NetConn().Close() }

// CloseWrite sends close_notify, which the peer reads as the end of the
// stream, then half-closes the TCP connection as a plain link would.
func (c *tlsConn) CloseWrite() error {
	if err := c.Conn.CloseWrite(); err != nil {
		return err
	}
	return halfClose(c.NetConn())
}

// serverTLS runs the TLS server handshake on an accepted connection that
// opened with one (under the caller's deadline; c is in t.raw, so Close
// cuts it short) and returns the id its client certificate names.
func (t *TCP) serverTLS(c *tlsConn) (uint64, error) {
	if err := c.Handshake(); err != nil {
		return 0, fmt.Errorf("%w: TLS handshake: %w", ErrHandshake, err)
	}
	st := c.ConnectionState()
	// Validate insists on RequireAndVerifyClientCert, but a
	// GetConfigForClient could hand out a config that does not: never
	// take an id from a certificate nobody verified.
	if len(st.VerifiedChains) == 0 {
		return 0, fmt.Errorf("%w: TLS without a verified client certificate (TLS.Server must require and verify one)", ErrHandshake)
	}
	id, err := t.cfg.TLS.PeerID(st)
	if err != nil {
		return 0, fmt.Errorf("%w: the client certificate names no server: %w", ErrHandshake, err)
	}
	return id, nil
}

// clientTLS runs the TLS client handshake of a dial to p (under the
// caller's deadline; c is in t.raw) and checks that the server's
// certificate names p.
// Client verified the chain; a valid certificate of another server means
// p's address is wrong or was taken over, and the dial fails like any
// other (the dial loop backs off and retries).
func (t *TCP) clientTLS(c *tlsConn, p *tpeer) error {
	if err := c.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	id, err := t.cfg.TLS.PeerID(c.ConnectionState())
	if err != nil {
		return fmt.Errorf("%w: the certificate of %s names no server: %w", ErrHandshake, p.addr, err)
	}
	if id != p.id {
		return fmt.Errorf("%w: dialed server %d at %s, but its certificate names server %d", ErrHandshake, p.id, p.addr, id)
	}
	return nil
}

// rekeyRaw replaces old by c in t.raw once a handshake has wrapped a
// connection (c's Close closes old), so that Close still finds it and the
// caller's later delete(t.raw, c) matches. It reports false, having closed
// c, if the transport closed in the meantime.
func (t *TCP) rekeyRaw(old, c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.raw, old)
	if t.closed {
		c.Close()
		return false
	}
	t.raw[c] = struct{}{}
	return true
}

// baseConn unwraps c down to the connection the others are layered on
// (through tls.Conn's and sniffedConn's NetConn).
func baseConn(c net.Conn) net.Conn {
	for {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = w.NetConn()
	}
}
