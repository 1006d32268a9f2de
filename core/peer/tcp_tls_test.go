package peer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// Mutual TLS on peer links: a learner that is in no topology joins with a
// certificate naming it; plain peers still reach a TLS-enabled acceptor;
// identities that do not match are refused. The conformance suite also
// runs over TLS (the tcp-tls fixture).

// linkConn returns the connection carrying tr's stream with peer.
func linkConn(t *testing.T, tr *TCP, peer uint64) net.Conn {
	t.Helper()
	var c net.Conn
	waitFor(t, waitLong, "a connection", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if p := tr.peers[peer]; p != nil && p.head() != nil {
			c = p.head().conn
		}
		return c != nil
	})
	return c
}

// TestTCPTLSLearner: a learner no topology names, with a certificate
// naming it, joins its upstream over TLS: messages and a snapshot flow
// both ways, a graceful close reaches it, and it joins again. It is vetted
// at each connection.
func TestTCPTLSLearner(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	pki := newTestPKI(t, "deployment")
	var adm admissions
	up, _ := startOne(t, 3, nil, func(c *TCPConfig) {
		c.AcceptLearners = true
		c.AdmitLearner = adm.requireVerified
		c.TLS = pki.tlsConfig(pki.node(3), false)
		c.SnapshotChunkSize = 64 << 10
	})
	spool := t.TempDir()
	lr, _ := startOne(t, 9, nil, func(c *TCPConfig) {
		c.Upstreams = map[uint64]string{3: up.Addr().String()}
		c.TLS = pki.tlsConfig(pki.node(9), true)
		c.SpoolDir = spool
	})
	dl, du := newDrv(t, 9, lr), newDrv(t, 3, up)
	reach(t, dl, du)
	exchange(t, dl, du)
	for _, end := range []struct {
		tr   *TCP
		peer uint64
	}{{up, 9}, {lr, 3}} {
		c := linkConn(t, end.tr, end.peer)
		if _, ok := c.(*tlsConn); !ok {
			t.Fatalf("server %d speaks to %d over a %T", end.tr.ID(), end.peer, c)
		}
		if _, ok := baseConn(c).(*net.TCPConn); !ok {
			t.Fatalf("under the TLS connection: %T, want the TCP connection (for tune)", baseConn(c))
		}
	}

	blob := newTestBlob(testSeed(t), 1<<20+123)
	g, snap := du.sendMsg(9, zab.Message{Type: zab.MsgSnap, Blob: blob})
	_, after := du.send(9, 10)
	dl.pumpUntil(waitLong, "the SNAP and what follows", func() bool { return dl.has(3, g, after) })
	m := dl.find(3, g, snap)
	if m == nil || m.Blob == nil {
		t.Fatalf("no SNAP with a blob: %s", summarize(dl.got))
	}
	if got := blobBytes(t, m.Blob); !bytes.Equal(got, blob.data) {
		t.Fatalf("blob of %d bytes differs from the %d sent", len(got), len(blob.data))
	}

	// A graceful close over TLS (close_notify, then the half-close):
	// everything queued arrives, then Broken; the learner dials again.
	gl, last := du.send(9, 10)
	up.CloseStream(9)
	dl.pumpUntil(waitLong, "Broken(3) after CloseStream", func() bool { return dl.brokens(3) == 1 })
	if !dl.has(3, gl, last) {
		t.Fatalf("the message sent before CloseStream was lost: %s", summarize(dl.got))
	}
	reach(t, dl, du)
	exchange(t, dl, du)
	checkStreams(t, 9, dl.got)
	checkStreams(t, 3, du.got)
	if calls := adm.list(); len(calls) != 2 || calls[0] != "9/true" || calls[1] != "9/true" {
		t.Fatalf("AdmitLearner calls %v, want 9/true at each of the two connections", calls)
	}
}

// TestTCPTLSAcceptorTakesPlainPeers: a TLS-enabled acceptor still serves
// a configured peer dialing in plain; a plain learner is refused by an
// AdmitLearner that requires a verified certificate.
func TestTCPTLSAcceptorTakesPlainPeers(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	pki := newTestPKI(t, "deployment")
	var adm admissions
	two, sink := startOne(t, 2, map[uint64]string{1: "127.0.0.1:1"}, func(c *TCPConfig) {
		c.AcceptLearners = true
		c.AdmitLearner = adm.requireVerified
		c.TLS = pki.tlsConfig(pki.node(2), false)
	})
	one, _ := startOne(t, 1, map[uint64]string{2: two.Addr().String()}, nil)
	d1, d2 := newDrv(t, 1, one), newDrv(t, 2, two)
	exchange(t, d1, d2)
	if c := linkConn(t, two, 1); !isPlain(c) {
		t.Fatalf("the plain peer's connection is a %T", c)
	}

	expectClosed(t, rawPeer(t, two.Addr().String(), good(9, 2)))
	if !sink.contains("refusing connection", "learner 9 not admitted", "verified certificate: false", errUnverified.Error()) {
		t.Fatal("no log line for the unverified learner")
	}
	if calls := adm.list(); !slices.Equal(calls, []string{"9/false"}) {
		t.Fatalf("AdmitLearner calls %v", calls)
	}
	exchange(t, d1, d2) // untouched
	checkStreams(t, 1, d1.got)
	checkStreams(t, 2, d2.got)
	if d1.brokens(2)+d2.brokens(1) != 0 {
		t.Fatal("a Broken between 1 and 2")
	}
}

func isPlain(c net.Conn) bool {
	_, ok := c.(*sniffedConn)
	return ok
}

// tlsPeer dials addr over TLS presenting cert (none if empty; trusting
// trust's CA for the server) and sends h as its hello. The TLS handshake may fail: under TLS
// 1.3 a client learns that its certificate was refused only when it reads.
func tlsPeer(t *testing.T, addr string, trust *testPKI, cert tls.Certificate, h hello) *tls.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, trust.clientConfig(cert))
	if err := c.Handshake(); err != nil {
		return nil
	}
	c.Write(frame(appendHello(nil, h)))
	return c
}

// expectRefused fails unless the server ends c without answering (an
// alert, a close or a reset; not a timeout). A nil c was refused at the
// handshake already.
func expectRefused(t *testing.T, c *tls.Conn) {
	t.Helper()
	if c == nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server did not refuse the connection: n=%d err=%v", n, err)
	}
}

// TestTCPTLSHandshakeRefused: over TLS, the id a hello claims must be the
// one the certificate names, the certificate must come from the
// deployment's CA and name a node of the cluster, and there must be one;
// a server without TLS refuses a TLS connection. Each is logged, nothing
// reaches the driver and AdmitLearner is never asked.
func TestTCPTLSHandshakeRefused(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	// The rogue CA copies the real one's name: a client sends only
	// certificates from the CAs the server names, and an impostor would.
	pki, rogue := newTestPKI(t, "deployment"), newTestPKI(t, "deployment")
	var adm admissions
	tr, sink := startOne(t, 2, map[uint64]string{1: "127.0.0.1:1"}, func(c *TCPConfig) {
		c.AcceptLearners = true
		c.AdmitLearner = adm.requireVerified
		c.TLS = pki.tlsConfig(pki.node(2), false)
		c.ConnectWait = time.Hour
	})
	plain, plainSink := startOne(t, 4, nil, nil)
	cases := []struct {
		name   string
		server *TCP
		cert   tls.Certificate
		hello  hello
		log    []string
	}{
		{"learner-claims-another-id", tr, pki.node(9), good(8, 2),
			[]string{"a hello from server 8 over TLS", "certificate names server 9"}},
		{"learner-claims-a-voter", tr, pki.node(9), good(1, 2),
			[]string{"a hello from server 1 over TLS", "certificate names server 9"}},
		{"other-ca", tr, rogue.node(9), good(9, 2), []string{"TLS handshake", "unknown authority"}},
		{"other-cluster", tr, pki.leaf(nodeURI("prod", 9)), good(9, 2),
			[]string{"certificate names no server", "not a node of cluster test"}},
		{"no-certificate", tr, tls.Certificate{}, good(9, 2), []string{"TLS handshake", "didn't provide a certificate"}},
		{"server-without-tls", plain, pki.node(9), good(9, 4), []string{"no TLS configured"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectRefused(t, tlsPeer(t, c.server.Addr().String(), pki, c.cert, c.hello))
			s := sink
			if c.server == plain {
				s = plainSink
			}
			want := append([]string{"refusing connection", "tls=true"}, c.log...)
			waitFor(t, waitLong, "the refusal logged", func() bool { return s.contains(want...) })
		})
	}
	if calls := adm.list(); len(calls) != 0 {
		t.Fatalf("AdmitLearner was asked %v", calls)
	}
	noEvents(t, tr)
	noEvents(t, plain)
}

// TestTCPTLSDialWrongServer: a dialer over TLS reaches a server whose
// valid certificate names another id: every dial fails (logged, naming
// both ids), it backs off and tries again, the messages waiting are lost
// with Broken, and the server delivers nothing.
func TestTCPTLSDialWrongServer(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	pki := newTestPKI(t, "deployment")
	up, _ := startOne(t, 3, nil, func(c *TCPConfig) {
		c.AcceptLearners = true
		c.TLS = pki.tlsConfig(pki.node(4), false) // 3's address, 4's certificate
	})
	lr, sink := startOne(t, 9, nil, func(c *TCPConfig) {
		c.Upstreams = map[uint64]string{3: up.Addr().String()}
		c.TLS = pki.tlsConfig(pki.node(9), true)
		c.ConnectWait = 300 * time.Millisecond
	})
	dl := newDrv(t, 9, lr)
	dl.send(3, 10)
	dl.pumpUntil(waitLong, "Broken(3)", func() bool { return dl.brokens(3) == 1 })
	waitFor(t, waitLong, "repeated dial failures logged", func() bool {
		return sink.contains("dial failed", "attempts=4", "dialed server 3", "certificate names server 4")
	})
	noEvents(t, up)
}

// TestTCPConfigValidateTLS: TLS settings that cannot work, or that would
// take an identity nobody verified, are reported by field.
func TestTCPConfigValidateTLS(t *testing.T) {
	pki := newTestPKI(t, "deployment")
	base := testTCPConfig(1, nil, 1)
	base.ListenAddr = "127.0.0.1:0"
	ok := base
	ok.TLS = pki.tlsConfig(pki.node(1), true)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tls    func() *TLSConfig
		fields []string
	}{
		"empty":          {func() *TLSConfig { return &TLSConfig{} }, []string{"TLS.Server", "TLS.PeerID"}},
		"dial-no-client": {func() *TLSConfig { return &TLSConfig{Dial: true} }, []string{"TLS.Server", "TLS.PeerID", "TLS.Client"}},
		"no-client-auth": {func() *TLSConfig {
			c := pki.tlsConfig(pki.node(1), true)
			c.Server.ClientAuth = tls.RequireAnyClientCert
			return c
		}, []string{"TLS.Server"}},
		"server-no-cert": {func() *TLSConfig {
			c := pki.tlsConfig(pki.node(1), true)
			c.Server.Certificates = nil
			return c
		}, []string{"TLS.Server"}},
		"client-verifies-nothing": {func() *TLSConfig {
			c := pki.tlsConfig(pki.node(1), true)
			c.Client.VerifyConnection = nil
			return c
		}, []string{"TLS.Client"}},
		"client-no-server-name": {func() *TLSConfig {
			c := pki.tlsConfig(pki.node(1), true)
			c.Client.InsecureSkipVerify = false
			return c
		}, []string{"TLS.Client"}},
		"client-no-cert": {func() *TLSConfig {
			c := pki.tlsConfig(pki.node(1), true)
			c.Client.Certificates = nil
			return c
		}, []string{"TLS.Client"}},
	}
	for name, c := range cases {
		cfg := base
		cfg.TLS = c.tls()
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, f := range c.fields {
			if !containsField(err, f) {
				t.Errorf("%s: no problem reported for %s in:\n%v", name, f, err)
			}
		}
	}
}
