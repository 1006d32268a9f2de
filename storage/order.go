package storage

import (
	"fmt"

	"github.com/zoogate/zoogate/storage/vfs"
)

// Flush returns once every record appended before the call is durable (or
// with the error that prevents it).
func (l *Log) Flush() error { return l.AppendSync(nil) }

// CommitCurrentEpoch is the learner's step before acknowledging NEWLEADER,
// in the only safe order (ZOOKEEPER-3911, -4643): first every transaction
// received during the sync is made durable (l.Flush), then currentEpoch is
// durably replaced by epoch in dir. When it returns nil the caller may send
// the ACK. If the sync was a SNAP, the caller must have committed the
// received snapshot (SnapshotWriter.Commit) before calling it
// (ZOOKEEPER-3642).
func CommitCurrentEpoch(l *Log, fsys vfs.FS, dir string, epoch int64) error {
	if err := l.Flush(); err != nil {
		return fmt.Errorf("storage: transactions not durable, currentEpoch not written: %w", err)
	}
	return WriteEpoch(fsys, dir, CurrentEpochFile, epoch)
}
