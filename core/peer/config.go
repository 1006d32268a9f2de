package peer

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"time"
)

// TCPConfig configures a TCP transport.
type TCPConfig struct {
	// ID is this server's id (> 0).
	ID uint64
	// ListenAddr is the address to accept peers on (host:port). Ignored
	// when Listener is set.
	ListenAddr string
	// Listener, when not nil, is used instead of listening on ListenAddr;
	// the transport owns it and closes it on Close.
	Listener net.Listener
	// Peers maps every other voter's id to its address. An entry for ID
	// itself is ignored.
	Peers map[uint64]string
	// Upstreams maps the ids of the servers this server always dials,
	// whatever the order of the ids, to their addresses: a learner's
	// (observer's or relay's) leader or relay. This server never accepts a
	// connection from them. An id may not be both in Peers and in
	// Upstreams, nor be ID.
	Upstreams map[uint64]string
	// AcceptLearners, when true, accepts a hello from a server that is in
	// neither Peers nor Upstreams (an observer or a relay dialing its
	// upstream): that id is a known peer from then on, reached only over
	// the connections it makes (it is never dialed). A Send to it while
	// it has no connection is lost and the driver is told Broken at once.
	// When false such a hello is refused (ErrHandshake, logged). The
	// hello itself proves nothing beyond the cluster name: set it alone
	// only where knowing the name is authentication enough (a closed
	// LAN). Elsewhere set TLS as well, and an AdmitLearner that requires
	// verified, so that only a server holding a certificate from the
	// deployment's CA that names the id can join as that id.
	AcceptLearners bool
	// AdmitLearner, when set, vets a hello AcceptLearners would accept
	// from an id that is neither in Peers nor in Upstreams, at every
	// connection: verified tells whether it came over TLS with a
	// certificate naming that id. An error refuses the connection
	// (ErrHandshake, logged). It is called from the handshake goroutines,
	// several at once, and should return promptly: the handshake's
	// deadline runs meanwhile.
	AdmitLearner func(id uint64, verified bool) error
	// TLS, when set, lets this transport speak mutual TLS on its peer
	// links (a learner not in the topology file must). Accepted
	// connections that open with a TLS handshake are served over TLS,
	// plain ones as before; dials go over TLS when TLS.Dial is set. Over
	// TLS a hello's sender must be the server the peer's certificate
	// names (TLS.PeerID), or the connection is refused.
	TLS *TLSConfig
	// Cluster is the cluster name both ends of a connection must share.
	Cluster string

	// DialTimeout bounds one connection attempt.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the exchange of hello frames, together with
	// the TLS handshake before them on a TLS link.
	HandshakeTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between failed dials; it
	// doubles per failure, with jitter (between half and all of it).
	BackoffMin, BackoffMax time.Duration
	// ConnectWait is how long messages may wait for a connection to come up
	// before the stream counts as broken (and they are dropped).
	ConnectWait time.Duration
	// WriteTimeout breaks a stream whose connection accepts no bytes for
	// this long.
	WriteTimeout time.Duration
	// CloseLinger bounds how long a graceful close waits for the peer to
	// close its side after everything queued was written.
	CloseLinger time.Duration
	// ReplaceGrace bounds how long a new connection from a peer waits for
	// that peer's previous connection to end.
	ReplaceGrace time.Duration
	// KeepAlive is the TCP keepalive period (negative: disabled).
	KeepAlive time.Duration

	// MaxFrameSize is the largest frame accepted or sent: a message, a
	// blob's header, or a SNAP whose snapshot is in Data. Snapshots in a
	// Blob are streamed in chunks and bounded by MaxSnapshotSize instead.
	MaxFrameSize int
	// SnapshotChunkSize is the largest piece of a Blob read and sent at
	// once (in [MinSnapshotChunkSize, MaxSnapshotChunkSize]).
	SnapshotChunkSize int
	// MaxSnapshotSize is the largest Blob accepted from a peer; a bigger
	// one breaks the stream (ErrSnapshotTooLarge, logged).
	MaxSnapshotSize int64
	// SpoolDir is the directory received Blobs are written to, one file
	// each (see SpoolBlob); empty: os.TempDir(). When set it must be an
	// absolute path; it is created if missing. The transport owns the
	// files it names there (see SpoolBlob): it removes those left over
	// when it starts and those still there when it closes. Servers may
	// share a directory, as long as no two running transports have the
	// same id, cluster and listening address (which cannot happen with
	// TCP listeners).
	SpoolDir string
	// MaxQueueBytes bounds the bytes queued to one peer and not yet written;
	// a Send that would go beyond it breaks the stream instead. A single
	// message larger than the bound is accepted on an empty queue.
	MaxQueueBytes int
	// MaxInboxBytes bounds the received bytes waiting for the driver; above
	// it connections stop being read (and the senders' queues fill up).
	MaxInboxBytes int

	// Rand drives the backoff jitter; nil: seeded from the clock. Only the
	// transport uses it once it is passed in.
	Rand *rand.Rand
}

// DefaultTCPConfig returns LAN settings for server id; the caller fills in
// ListenAddr, Peers and Cluster, and Upstreams on a learner and
// AcceptLearners on a server learners dial. SpoolDir is left empty
// (os.TempDir()).
func DefaultTCPConfig(id uint64) TCPConfig {
	return TCPConfig{
		ID:                id,
		DialTimeout:       3 * time.Second,
		HandshakeTimeout:  5 * time.Second,
		BackoffMin:        50 * time.Millisecond,
		BackoffMax:        2 * time.Second,
		ConnectWait:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		CloseLinger:       5 * time.Second,
		ReplaceGrace:      2 * time.Second,
		KeepAlive:         15 * time.Second,
		MaxFrameSize:      64 << 20,
		SnapshotChunkSize: 1 << 20,
		MaxSnapshotSize:   64 << 30,
		MaxQueueBytes:     128 << 20,
		MaxInboxBytes:     64 << 20,
	}
}

// FieldError is one problem found by Validate.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("peer: config %s: %s", e.Field, e.Problem) }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// maxClusterName is the longest cluster name a hello can carry.
const maxClusterName = 255

// Bounds of TCPConfig.SnapshotChunkSize. The upper one is also the largest
// chunk a receiver accepts, whatever its own setting.
const (
	MinSnapshotChunkSize = 512
	MaxSnapshotChunkSize = 16 << 20
)

// Validate reports every problem at once, each naming its field.
func (c TCPConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.ID == 0 {
		bad("ID", "must be > 0")
	}
	if c.Listener == nil {
		if c.ListenAddr == "" {
			bad("ListenAddr", "required when Listener is nil")
		} else if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			bad("ListenAddr", "%v", err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.Peers)) {
		addr := c.Peers[id]
		if id == 0 {
			bad("Peers", "id 0 is not a valid server id")
			continue
		}
		if id == c.ID {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("Peers", "peer %d: %v", id, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.Upstreams)) {
		addr := c.Upstreams[id]
		switch _, voter := c.Peers[id]; {
		case id == 0:
			bad("Upstreams", "id 0 is not a valid server id")
		case id == c.ID:
			bad("Upstreams", "id %d is this server", id)
		case voter:
			bad("Upstreams", "id %d is also in Peers (a server is dialed by id order or always, not both)", id)
		default:
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad("Upstreams", "upstream %d: %v", id, err)
			}
		}
	}
	if c.Cluster == "" {
		bad("Cluster", "required")
	} else if len(c.Cluster) > maxClusterName {
		bad("Cluster", "%d bytes, at most %d", len(c.Cluster), maxClusterName)
	}
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "must be > 0, got %v", d)
		}
	}
	positive("DialTimeout", c.DialTimeout)
	positive("HandshakeTimeout", c.HandshakeTimeout)
	positive("BackoffMin", c.BackoffMin)
	positive("BackoffMax", c.BackoffMax)
	if c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		bad("BackoffMax", "%v is below BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	positive("ConnectWait", c.ConnectWait)
	positive("WriteTimeout", c.WriteTimeout)
	positive("CloseLinger", c.CloseLinger)
	positive("ReplaceGrace", c.ReplaceGrace)
	if c.MaxFrameSize < 64 || c.MaxFrameSize > maxFrameLimit {
		bad("MaxFrameSize", "%d, must be in [64, %d]", c.MaxFrameSize, maxFrameLimit)
	}
	if c.SnapshotChunkSize < MinSnapshotChunkSize || c.SnapshotChunkSize > MaxSnapshotChunkSize {
		bad("SnapshotChunkSize", "%d, must be in [%d, %d]", c.SnapshotChunkSize, MinSnapshotChunkSize, MaxSnapshotChunkSize)
	}
	if c.MaxSnapshotSize <= 0 {
		bad("MaxSnapshotSize", "must be > 0, got %d", c.MaxSnapshotSize)
	}
	if c.SpoolDir != "" && !filepath.IsAbs(c.SpoolDir) {
		bad("SpoolDir", "%q is not an absolute path", c.SpoolDir)
	}
	if c.MaxQueueBytes <= 0 {
		bad("MaxQueueBytes", "must be > 0, got %d", c.MaxQueueBytes)
	}
	if c.MaxInboxBytes <= 0 {
		bad("MaxInboxBytes", "must be > 0, got %d", c.MaxInboxBytes)
	}
	if c.TLS != nil {
		c.TLS.validate(bad)
	}
	return errors.Join(errs...)
}
