package wan

import (
	"errors"
	"io"
	"time"
)

// Lane says which stream of a peer link a frame travels on.
type Lane uint8

// Lanes (the values are not on the wire: the stream says the lane).
const (
	// LaneOrdered is the protocol stream: its frames, and the headers of
	// blobs, arrive in the order they were sent.
	LaneOrdered Lane = 1
	// LaneRequests carries forwarded requests and their replies: FIFO
	// within the lane, in no order with LaneOrdered.
	LaneRequests Lane = 2
)

func (l Lane) String() string {
	switch l {
	case LaneOrdered:
		return "ordered"
	case LaneRequests:
		return "requests"
	}
	return "lane?"
}

// Blob is a large payload sent with SendBlob: opened and read when its
// turn comes, never held in memory whole.
type Blob interface {
	// Size is the exact number of bytes Open's reader yields.
	Size() int64
	// Open returns a reader of the blob's bytes.
	Open() (io.ReadCloser, error)
}

// Event is one thing the driver is told: a frame received from From on
// Lane (with Blob set when the frame is a blob's header: the driver reads,
// moves or removes the file), or, with Broken set (Lane, Frame and Blob
// zero), the end of the stream with From.
type Event struct {
	From   uint64
	Lane   Lane
	Frame  []byte
	Blob   *SpoolBlob
	Broken bool
}

// PeerStats describes the link with one peer, for metrics.
type PeerStats struct {
	// Connected: a connection with the peer is up.
	Connected bool
	// Remote is the peer's address on that connection ("" if none).
	Remote string
	// SmoothedRTT, MinRTT and LatestRTT are quic-go's estimates for the
	// connection (zero when not connected).
	SmoothedRTT, MinRTT, LatestRTT time.Duration
	// BytesSent, BytesReceived and PacketsLost are totals over every
	// connection with the peer since the transport started (UDP payload
	// bytes, including retransmissions).
	BytesSent, BytesReceived, PacketsLost uint64
	// Connections counts the connections that came up with the peer.
	Connections uint64
	// QueuedBytes is what MaxQueueBytes bounds.
	QueuedBytes int
	// LastError is the last reason a dial or a stream with the peer
	// failed ("" if none yet).
	LastError string
}

// Logger is what the transport logs through. hclog.Logger satisfies it
// (wan may not import go-hclog, DESIGN.md §2): pass logger.Named("wan").
// Arguments after msg are key/value pairs.
type Logger interface {
	Trace(msg string, args ...any)
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidConfig wraps every problem a config's Validate reports.
	ErrInvalidConfig = errors.New("wan: invalid config")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("wan: transport closed")
	// ErrFrameTooLarge: a frame's length prefix exceeds the maximum.
	ErrFrameTooLarge = errors.New("wan: frame too large")
	// ErrBadFrame: a frame, hello or blob preamble that does not decode,
	// or is out of place.
	ErrBadFrame = errors.New("wan: bad frame")
	// ErrHandshake: a hello that does not match the connection (version,
	// cluster, ids) or a stream missing.
	ErrHandshake = errors.New("wan: handshake refused")
	// ErrIdentity: a peer certificate that does not prove the expected
	// identity (chain, usage, URI SAN, cluster, id, AllowPeer).
	ErrIdentity = errors.New("wan: peer identity refused")
	// ErrBlobTooLarge: a peer announced a blob above MaxBlobSize.
	ErrBlobTooLarge = errors.New("wan: blob too large")
	// ErrBlobRead: a blob to send could not be opened or read, or its
	// length differed from its Size.
	ErrBlobRead = errors.New("wan: cannot read the blob to send")
	// ErrBlobAborted: the peer gave up sending a blob in the middle.
	ErrBlobAborted = errors.New("wan: the peer aborted a blob")
	// ErrSpool: a received blob could not be written to SpoolDir.
	ErrSpool = errors.New("wan: cannot spool a received blob")
)

// logger adds fixed key/value pairs to a Logger.
type logger struct {
	l  Logger
	kv []any
}

func (g logger) with(kv ...any) logger {
	return logger{l: g.l, kv: append(append([]any(nil), g.kv...), kv...)}
}

func (g logger) args(kv []any) []any { return append(append([]any(nil), g.kv...), kv...) }

func (g logger) Trace(msg string, kv ...any) { g.l.Trace(msg, g.args(kv)...) }
func (g logger) Debug(msg string, kv ...any) { g.l.Debug(msg, g.args(kv)...) }
func (g logger) Info(msg string, kv ...any)  { g.l.Info(msg, g.args(kv)...) }
func (g logger) Warn(msg string, kv ...any)  { g.l.Warn(msg, g.args(kv)...) }
func (g logger) Error(msg string, kv ...any) { g.l.Error(msg, g.args(kv)...) }

type nullLogger struct{}

func (nullLogger) Trace(string, ...any) {}
func (nullLogger) Debug(string, ...any) {}
func (nullLogger) Info(string, ...any)  {}
func (nullLogger) Warn(string, ...any)  {}
func (nullLogger) Error(string, ...any) {}
