package peer

import (
	"errors"

	"github.com/zoogate/zoogate/core/zab"
)

// Transport is what a ZAB driver uses to talk to the other servers. See the
// package documentation for the exact semantics. Send, CloseStream, Notify
// and Recv may be called from any goroutine, but the guarantees are stated
// for one driver goroutine that is the only caller of Recv.
type Transport interface {
	// Send queues m on the stream to peer to and returns at once. From and
	// To are set to this server's id and to. The message is dropped if the
	// stream with that peer broke and the driver has not yet taken the
	// Broken event, if to is not a known peer, or after Close. A message
	// whose Blob is set is delivered with a Blob of the receiver's own;
	// the sender's Blob is opened and read later, when the message's turn
	// comes, so it must stay readable until then.
	Send(to uint64, m zab.Message)
	// CloseStream gracefully closes the stream with peer: what was already
	// Sent is delivered, then the peer is told Broken.
	CloseStream(peer uint64)
	// Notify returns a channel that holds a token when events are waiting.
	Notify() <-chan struct{}
	// Recv takes the oldest waiting event; ok is false when there is none.
	Recv() (ev Event, ok bool)
	// Close closes every stream (the peers see Broken), stops every
	// goroutine of the transport and returns once they have exited.
	Close() error
}

// Event is one thing the driver is told: a received message (Msg != nil) or
// the end of a stream with peer Broken (Msg == nil).
type Event struct {
	Msg    *zab.Message
	Broken uint64
}

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidConfig wraps every problem a config's Validate reports.
	ErrInvalidConfig = errors.New("peer: invalid config")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("peer: transport closed")
	// ErrFrameTooLarge: a frame's length prefix exceeds the maximum.
	ErrFrameTooLarge = errors.New("peer: frame too large")
	// ErrEmptyFrame: a frame of length zero.
	ErrEmptyFrame = errors.New("peer: empty frame")
	// ErrBadHello: the first frame of a connection is not a valid hello.
	ErrBadHello = errors.New("peer: bad hello")
	// ErrHandshake: a well-formed hello that does not match (cluster name,
	// ids, version).
	ErrHandshake = errors.New("peer: handshake refused")
	// ErrUnexpectedSender: a message whose From or To does not match the
	// connection's peers.
	ErrUnexpectedSender = errors.New("peer: unexpected sender")
	// ErrBadFrame: a frame that does not decode (a malformed message or
	// blob header, an unknown control frame kind) or is out of place (a
	// blob chunk with no blob in progress, a message inside a blob, chunks
	// beyond the blob's size).
	ErrBadFrame = errors.New("peer: bad frame")
	// ErrSnapshotTooLarge: a peer announced a blob above MaxSnapshotSize.
	ErrSnapshotTooLarge = errors.New("peer: snapshot too large")
	// ErrBlobRead: a blob to send could not be opened or read, or its
	// length differed from its Size.
	ErrBlobRead = errors.New("peer: cannot read the blob to send")
	// ErrBlobAborted: the peer could not read a blob it was sending and
	// gave up in the middle of it.
	ErrBlobAborted = errors.New("peer: the peer aborted a blob")
	// ErrSpool: a received blob could not be written to SpoolDir.
	ErrSpool = errors.New("peer: cannot spool a received blob")
)
