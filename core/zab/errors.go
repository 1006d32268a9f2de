package zab

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidConfig wraps every problem Config.Validate reports.
	ErrInvalidConfig = errors.New("zab: invalid config")
	// ErrNotLeader: the operation needs an established leader (Propose).
	ErrNotLeader = errors.New("zab: not an established leader")
	// ErrNotReady: the node is not serving (no leader, or a learner not yet
	// UPTODATE), so it cannot forward a request or a sync.
	ErrNotReady = errors.New("zab: not serving")
	// ErrCounterExhausted: the 32-bit zxid counter of the epoch is used up;
	// the leader steps down (once what is outstanding has committed) so that
	// a new epoch starts.
	ErrCounterExhausted = errors.New("zab: zxid counter exhausted, the leader steps down")
	// ErrReadyOutstanding: a Ready was handed out and not yet Advanced.
	ErrReadyOutstanding = errors.New("zab: Ready outstanding, call Advance first")
	// ErrLogGap: a log or committed sequence is not contiguous
	// (ZOOKEEPER-4925): within an epoch counters follow each other, and a new
	// epoch starts at counter 1.
	ErrLogGap = errors.New("zab: log not contiguous")
	// ErrCompacted: the requested entries are older than the log's snapshot.
	ErrCompacted = errors.New("zab: entries compacted into a snapshot")
	// ErrProtocol: a peer sent something the protocol does not allow at this
	// point; the node leaves the peer (learners go back to LOOKING).
	ErrProtocol = errors.New("zab: protocol violation")
	// ErrInvalidMessage: a message that cannot be stepped (no sender...).
	ErrInvalidMessage = errors.New("zab: invalid message")
	// ErrMalformed: bytes that do not decode as a Message.
	ErrMalformed = errors.New("zab: malformed message")
	// ErrUnknownType: a message type this version does not know.
	ErrUnknownType = errors.New("zab: unknown message type")
)
