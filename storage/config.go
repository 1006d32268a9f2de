package storage

import (
	"errors"
	"fmt"
	"time"
)

// LogConfig tunes the transaction log.
type LogConfig struct {
	// SegmentSize: a new segment file is started before appending a record
	// once the current one holds at least this many bytes.
	SegmentSize int64
	// Preallocate: bytes a segment is grown by (zero-filled, reserved on
	// disk) whenever the writer needs room, so that most appends do not
	// change the file's size. 0 disables preallocation.
	Preallocate int64
	// MaxRecordSize: largest payload Append accepts, in bytes. Reading and
	// recovery accept anything up to the format's limit (1 GiB), so that
	// lowering this setting never makes existing records unreadable.
	MaxRecordSize int
	// MaxBatchBytes: the writer stops adding queued records to a batch once
	// it holds this many bytes (one batch = one fsync).
	MaxBatchBytes int
	// OnSync, when set, is called after each fsync of a segment with how
	// long it took (metrics: ZooKeeper's fsynctime). It runs on the writer
	// and must not block.
	OnSync func(time.Duration)
}

// Hard limits of the format.
const (
	maxRecordSizeLimit = 1 << 30 // a frame announcing more is invalid
	minSegmentSize     = 4 << 10
)

// DefaultLogConfig returns the production defaults: 64 MiB segments,
// preallocated 64 MiB at a time, records up to 16 MiB, batches up to 4 MiB.
func DefaultLogConfig() LogConfig {
	return LogConfig{
		SegmentSize:   64 << 20,
		Preallocate:   64 << 20,
		MaxRecordSize: 16 << 20,
		MaxBatchBytes: 4 << 20,
	}
}

// FieldError is one problem LogConfig.Validate found, naming the field.
// It matches ErrInvalidConfig.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("storage: config %s: %s", e.Field, e.Problem) }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every problem at once (errors.Join of *FieldError
// values, each matching ErrInvalidConfig).
func (c LogConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.SegmentSize < minSegmentSize {
		bad("SegmentSize", "%d is below the minimum %d", c.SegmentSize, minSegmentSize)
	}
	if c.Preallocate < 0 {
		bad("Preallocate", "must not be negative, got %d", c.Preallocate)
	}
	if c.MaxRecordSize <= 0 || c.MaxRecordSize > maxRecordSizeLimit {
		bad("MaxRecordSize", "must be in [1, %d], got %d", maxRecordSizeLimit, c.MaxRecordSize)
	}
	if c.MaxBatchBytes <= 0 {
		bad("MaxBatchBytes", "must be positive, got %d", c.MaxBatchBytes)
	}
	return errors.Join(errs...)
}
