package wan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"time"
)

// Config configures a Transport. Start from DefaultConfig and fill in ID,
// Cluster, TLS, ListenAddr (or PacketConn), Dial and AllowPeer.
type Config struct {
	// ID is this server's id (> 0); it must be the id in TLS's certificate.
	ID uint64
	// Cluster is the deployment's name; it must be the cluster in TLS's
	// certificate and in every peer's.
	Cluster string
	// TLS is this server's certificate and the deployment CA (LoadTLS).
	// Required: nothing crosses the WAN in plaintext.
	TLS *TLS

	// ListenAddr is the UDP address to listen and dial from (host:port),
	// used when PacketConn is nil.
	ListenAddr string
	// PacketConn, when not nil, is used instead of listening on ListenAddr
	// (e.g. an emulate.Conn). Once New succeeded the transport owns it and
	// closes it on Close.
	PacketConn net.PacketConn

	// Dial maps the ids of the peers this server dials (its upstreams) to
	// their UDP addresses (host:port, resolved at every attempt). Those
	// peers may never connect to this server.
	Dial map[uint64]string
	// AllowPeer decides whether a peer that is not in Dial may connect
	// (its id comes from its certificate). nil: nobody may. It is called
	// during TLS handshakes, from quic-go's goroutines: it must be safe
	// for concurrent use, fast, and must not call the Transport.
	AllowPeer func(id uint64) bool

	// HandshakeTimeout bounds a connection attempt: the QUIC/TLS handshake
	// and the exchange of hellos.
	HandshakeTimeout time.Duration
	// KeepAlive is quic-go's KeepAlivePeriod: a PING when nothing else was
	// sent for that long (quic-go sends none by default).
	KeepAlive time.Duration
	// IdleTimeout is quic-go's MaxIdleTimeout: a connection that received
	// nothing for that long is dead (its stream breaks). The caller derives
	// it, and KeepAlive, from the deployment's sync limit.
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts; it doubles per attempt, with jitter (between half and all
	// of it). Attempts overlap: a new one starts when the wait is over even
	// if earlier ones are still in their handshake (at most
	// maxDialsInFlight at once, the oldest given up for a new one), so a
	// link that comes back after a long cut is found within about
	// BackoffMax, not after the QUIC handshake's own retransmission
	// back-off.
	BackoffMin, BackoffMax time.Duration
	// Heartbeat is how long the ordered lane may go without a frame sent
	// before a heartbeat frame is sent on it; StallTimeout is how long a
	// stream may go without receiving anything (frames, heartbeats, blob
	// bytes) before it counts as broken. QUIC on its own resumes a
	// connection after a long loss of packets only at its next probe, which
	// backs off exponentially (several seconds after a 10 s cut); breaking
	// the stream and dialing anew brings the link back within BackoffMax of
	// the heal. Time spent waiting for this server's driver to take frames
	// (a full inbox) does not count.
	Heartbeat, StallTimeout time.Duration
	// Compress deflates (RFC 1951, klauspost/compress level 1) the frames
	// this server sends on the two lanes, with a flush after each batch; it is announced in
	// the hello, so each direction of each lane is compressed or not on
	// its own. Blobs are sent as they are.
	Compress bool
	// ConnectWait is how long frames may wait for a connection to come up
	// before the stream counts as broken (and they are dropped).
	ConnectWait time.Duration
	// CloseLinger bounds how long a graceful close waits for the peer to
	// close the connection after everything queued was written.
	CloseLinger time.Duration

	// MaxFrameSize is the largest frame (or blob header) sent or accepted.
	MaxFrameSize int
	// MaxBlobSize is the largest blob accepted from a peer; a bigger one
	// breaks the stream.
	MaxBlobSize int64
	// SpoolDir is the directory received blobs are written to (absolute;
	// created if missing; empty: os.TempDir()). The transport removes its
	// own leftover files there when it starts and when it closes.
	SpoolDir string
	// MaxQueueBytes bounds the bytes queued to one peer and not yet
	// written (a blob counts by its header); a Send beyond it breaks the
	// stream instead. A single frame larger than the bound is accepted on
	// an empty queue.
	MaxQueueBytes int
	// MaxInboxBytes bounds the received bytes waiting for the driver;
	// above it streams stop being read (QUIC flow control then holds the
	// senders back).
	MaxInboxBytes int
	// StreamReceiveWindow and ConnReceiveWindow are quic-go's
	// MaxStreamReceiveWindow and MaxConnectionReceiveWindow: how far a
	// window may auto-tune, so how many bytes one stream (one connection)
	// can have in flight per round trip.
	StreamReceiveWindow uint64
	ConnReceiveWindow   uint64

	// Rand drives the backoff jitter; nil: seeded from the clock.
	Rand *rand.Rand
}

// DefaultConfig returns WAN settings: 2 s keepalives and a 15 s idle
// timeout, 250 ms heartbeats and a 2 s stall timeout, attempts to connect
// 100 ms to 250 ms apart, compressed lanes, 16 MiB frames, 32 MiB stream and 64 MiB connection receive
// windows (enough for ~2.6 Gbit/s per stream at 100 ms RTT).
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout:    10 * time.Second,
		KeepAlive:           2 * time.Second,
		IdleTimeout:         15 * time.Second,
		BackoffMin:          100 * time.Millisecond,
		BackoffMax:          250 * time.Millisecond,
		Heartbeat:           250 * time.Millisecond,
		StallTimeout:        2 * time.Second,
		Compress:            true,
		ConnectWait:         20 * time.Second,
		CloseLinger:         10 * time.Second,
		MaxFrameSize:        16 << 20,
		MaxBlobSize:         64 << 30,
		MaxQueueBytes:       256 << 20,
		MaxInboxBytes:       64 << 20,
		StreamReceiveWindow: 32 << 20,
		ConnReceiveWindow:   64 << 20,
	}
}

// maxClusterName is the longest cluster name a hello can carry.
const maxClusterName = 255

// minWindow is the smallest receive window Validate accepts (quic-go's
// initial windows are 512 KiB).
const minWindow = 512 << 10

// FieldError is one problem found by Validate.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("wan: config %s: %s", e.Field, e.Problem) }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every problem of the config at once (errors.Join of
// *FieldError values, each matching ErrInvalidConfig).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.ID == 0 {
		bad("ID", "must not be 0")
	}
	if c.Cluster == "" {
		bad("Cluster", "required")
	} else if len(c.Cluster) > maxClusterName {
		bad("Cluster", "%d bytes, at most %d", len(c.Cluster), maxClusterName)
	}
	if c.TLS == nil {
		bad("TLS", "required: nothing crosses the WAN in plaintext (see LoadTLS)")
	} else if err := c.TLS.check(c.Cluster, c.ID); err != nil {
		bad("TLS", "%v", err)
	}
	if c.PacketConn == nil {
		if c.ListenAddr == "" {
			bad("ListenAddr", "required when PacketConn is nil")
		} else if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			bad("ListenAddr", "%v", err)
		}
	}
	for id, addr := range c.Dial {
		switch {
		case id == 0:
			bad("Dial", "id 0 is not a valid server id")
		case id == c.ID:
			bad("Dial", "id %d is this server", id)
		default:
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad("Dial", "peer %d: %v", id, err)
			}
		}
	}
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "must be > 0, got %v", d)
		}
	}
	positive("HandshakeTimeout", c.HandshakeTimeout)
	positive("KeepAlive", c.KeepAlive)
	positive("IdleTimeout", c.IdleTimeout)
	if c.KeepAlive > 0 && c.IdleTimeout > 0 && c.KeepAlive >= c.IdleTimeout {
		bad("KeepAlive", "%v must be below IdleTimeout %v (a third of it or less is advisable)", c.KeepAlive, c.IdleTimeout)
	}
	positive("BackoffMin", c.BackoffMin)
	positive("BackoffMax", c.BackoffMax)
	if c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		bad("BackoffMax", "%v is below BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	positive("Heartbeat", c.Heartbeat)
	positive("StallTimeout", c.StallTimeout)
	if c.Heartbeat > 0 && c.StallTimeout > 0 && c.StallTimeout < 2*c.Heartbeat {
		bad("StallTimeout", "%v must be at least twice Heartbeat %v", c.StallTimeout, c.Heartbeat)
	}
	positive("ConnectWait", c.ConnectWait)
	positive("CloseLinger", c.CloseLinger)
	if c.MaxFrameSize < 64 || c.MaxFrameSize > maxFrameLimit {
		bad("MaxFrameSize", "%d, must be in [64, %d]", c.MaxFrameSize, maxFrameLimit)
	}
	if c.MaxBlobSize <= 0 {
		bad("MaxBlobSize", "must be > 0, got %d", c.MaxBlobSize)
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
	if c.StreamReceiveWindow < minWindow {
		bad("StreamReceiveWindow", "%d, must be at least %d", c.StreamReceiveWindow, minWindow)
	}
	if c.ConnReceiveWindow < c.StreamReceiveWindow || c.ConnReceiveWindow < minWindow {
		bad("ConnReceiveWindow", "%d, must be at least StreamReceiveWindow (%d) and %d", c.ConnReceiveWindow, c.StreamReceiveWindow, minWindow)
	}
	return errors.Join(errs...)
}
