package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// Data directory layout:
//
//	<data_dir>/log/log.<first zxid>        transaction log segments
//	<data_dir>/snap/snapshot.<zxid>        snapshots of the tree and sessions
//
// (the ZAB epoch files will live in <data_dir> itself).

// ErrRecovery is wrapped by every error that stops a server from starting
// on its data directory.
var ErrRecovery = errors.New("cannot recover the data directory")

// ErrWritesStopped is wrapped by the error a server answers writes with
// after its transaction log failed: it keeps serving reads.
var ErrWritesStopped = errors.New("writes stopped: the transaction log failed")

// disk is the server's durable state.
type disk struct {
	fs    vfs.FS
	log   *storage.Log
	snaps *storage.SnapshotStore
}

// follows reports whether zxid b may directly follow a in the log: the next
// counter of the same epoch, or the first transaction of a later epoch.
func follows(a, b int64) bool {
	return b == a+1 || (b>>32 > a>>32 && b&0xffffffff == 1)
}

// recoverDisk opens the data directory and rebuilds the tree: the newest
// valid snapshot, then every logged transaction after it. A torn record at
// the log's tail (never acknowledged) is cut by the log itself; corruption
// anywhere else stops the server with the file and byte offset. With
// Recover set, a corrupt newest snapshot is skipped for an older one, as
// long as the log still holds every transaction since that one.
//
// A cluster member (replay false) loads only the snapshot: entries logged
// after it may never have been committed; the leader commits them again.
func (s *Server) recoverDisk(replay bool) (*disk, *tree.Tree, int, error) {
	fsys := s.cfg.FS
	if fsys == nil {
		fsys = vfs.OS{}
	}
	d := &disk{fs: fsys}
	logger := s.log.Named("storage")
	snapDir, logDir := filepath.Join(s.cfg.DataDir, "snap"), filepath.Join(s.cfg.DataDir, "log")
	for _, dir := range []string{snapDir, logDir} {
		if err := fsys.MkdirAll(dir); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %v", ErrRecovery, err)
		}
	}
	var err error
	if d.snaps, err = storage.OpenSnapshotStore(fsys, snapDir, logger); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	info, ok, err := d.snaps.Latest(s.cfg.Recover)
	if err != nil {
		hint := ""
		if errors.Is(err, storage.ErrCorrupt) {
			hint = " (start with --recover to fall back to an older snapshot)"
		}
		return nil, nil, 0, fmt.Errorf("%w: %w%s", ErrRecovery, err, hint)
	}
	t := tree.New()
	if ok {
		start := time.Now()
		r, err := d.snaps.Open(info.Zxid)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
		}
		t, err = tree.ReadSnapshot(r, info.Zxid)
		r.Close()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %s: %w", ErrRecovery, info.Path, err)
		}
		s.log.Info("loaded snapshot", "file", info.Path, "zxid", hexZxid(info.Zxid), "nodes", t.NodeCount(), "took", time.Since(start))
	}
	// Segments wholly below the snapshot are not read now (as ZooKeeper
	// does not read those logs): a restart takes the same time however much
	// history the log still holds.
	if d.log, err = storage.OpenLogAfter(fsys, logDir, s.cfg.Log, logger, t.LastZxid()); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	prev, replayed := t.LastZxid(), 0
	if !replay {
		return d, t, 0, nil
	}
	err = d.log.Iterate(prev, func(rec storage.Record) error {
		if !follows(prev, rec.Zxid) {
			return fmt.Errorf("log jumps from zxid %s to %s: transactions after the snapshot are missing", hexZxid(prev), hexZxid(rec.Zxid))
		}
		x, err := txn.Decode(rec.Payload)
		if err != nil {
			return fmt.Errorf("log record zxid %s: %w", hexZxid(rec.Zxid), err)
		}
		if _, err := t.Apply(x); err != nil {
			// Expected after a fuzzy snapshot: the change is already there.
			s.log.Trace("replayed transaction was already in the snapshot", "zxid", hexZxid(x.Zxid), "error", err)
		}
		prev = rec.Zxid
		replayed++
		return nil
	})
	if err != nil {
		d.log.Close()
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	if z := d.log.LastZxid(); z > t.LastZxid() {
		t.SetLastZxid(z)
	}
	return d, t, replayed, nil
}
