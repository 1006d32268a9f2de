package storage

import (
	"errors"
	"fmt"
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

// Validate returns every problem at once, each naming its field; the
// result matches ErrInvalidConfig.
func (c LogConfig) Validate() error {
	var errs []error
	if c.SegmentSize < minSegmentSize {
		errs = append(errs, fmt.Errorf("SegmentSize: %d is below the minimum %d", c.SegmentSize, minSegmentSize))
	}
	if c.Preallocate < 0 {
		errs = append(errs, fmt.Errorf("Preallocate: %d is negative", c.Preallocate))
	}
	if c.MaxRecordSize <= 0 || c.MaxRecordSize > maxRecordSizeLimit {
		errs = append(errs, fmt.Errorf("MaxRecordSize: %d is not in (0, %d]", c.MaxRecordSize, maxRecordSizeLimit))
	}
	if c.MaxBatchBytes <= 0 {
		errs = append(errs, fmt.Errorf("MaxBatchBytes: %d must be positive", c.MaxBatchBytes))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
