package zab

import "io"

// Blob is a large payload kept outside memory: in production, a snapshot
// file on disk. The core never reads it; it only hands it along, from a
// LogReader's Snapshot to a SNAP message, and from a received SNAP to
// Ready.Snapshot. Transports stream a Blob in bounded chunks (core/peer), so
// a snapshot of any size is never one message read whole into memory.
//
// A Message or Snapshot carries its payload in Data or in Blob, never both.
type Blob interface {
	// Size is the payload's length in bytes.
	Size() int64
	// Open returns a reader of the whole payload from its start. It may be
	// called more than once (one sync stream per learner); each reader is
	// closed by its caller.
	Open() (io.ReadCloser, error)
}
