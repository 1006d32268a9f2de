package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrCorrupt: stored data failed validation somewhere recovery may not
	// repair it. The error is a *CorruptError naming the file and offset.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrLogFailed: a write or fsync of the transaction log failed. The log
	// is fail-stop: every later append fails too, and the process must
	// reopen the log (which recovers from what is durable) to continue.
	ErrLogFailed = errors.New("storage: transaction log failed")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("storage: closed")
	// ErrZxidOrder: appended zxids were not strictly increasing, or not
	// positive.
	ErrZxidOrder = errors.New("storage: zxids must be positive and strictly increasing")
	// ErrRecordTooLarge: a payload exceeds LogConfig.MaxRecordSize.
	ErrRecordTooLarge = errors.New("storage: record too large")
	// ErrNoSnapshot: no snapshot with the requested zxid exists.
	ErrNoSnapshot = errors.New("storage: no such snapshot")
	// ErrInvalidConfig: a configuration failed Validate. Every
	// *FieldError matches it.
	ErrInvalidConfig = errors.New("storage: invalid config")
)

// CorruptError says where stored data is corrupt. It matches ErrCorrupt.
type CorruptError struct {
	Path   string // file
	Offset int64  // byte offset in the file of the first bad byte or frame
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: corrupt data in %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(path string, off int64, format string, args ...any) error {
	return &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
