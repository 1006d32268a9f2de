package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// Directory layout (docs/storage.md has the details):
//
//	<data_dir>/LOCK                        flock(2)ed while a server runs on it: pid, command line
//	<data_dir>/snap/snapshot.<zxid>        snapshots of the tree and sessions
//	<data_dir>/acceptedEpoch, currentEpoch the ZAB epoch files (cluster members)
//	<log_dir>/log/log.<first zxid>         transaction log segments (log_dir defaults to data_dir)
//	<log_dir>/LOCK                         when log_dir is not data_dir

// ErrRecovery is wrapped by every error that stops a server from starting
// on its data directory.
var ErrRecovery = errors.New("cannot recover the data directory")

// ErrWritesStopped is wrapped by the error a server answers writes with
// after its transaction log failed: it keeps serving reads.
var ErrWritesStopped = errors.New("writes stopped: the transaction log failed")

// disk is the server's durable state.
type disk struct {
	fs    vfs.FS
	log   *storage.Log // nil until opened
	snaps *storage.SnapshotStore
	locks []*storage.DirLock // data dir, and log dir when separate
}

// close closes the log and then releases the directory locks.
func (d *disk) close() error {
	var err error
	if d.log != nil {
		err = d.log.Close()
	}
	for _, l := range d.locks {
		l.Close()
	}
	d.locks = nil
	return err
}

// follows reports whether zxid b may directly follow a in the log: the next
// counter of the same epoch, or the first transaction of a later epoch.
func follows(a, b int64) bool {
	return b == a+1 || (b>>32 > a>>32 && b&0xffffffff == 1)
}

// recoverDisk locks the data directory (and the log directory when it is
// another one: a second server on them is refused with a
// *storage.DirLockedError naming the holder), then rebuilds the tree: the newest
// valid snapshot, then every logged transaction after it. A torn record at
// the log's tail (never acknowledged) is cut by the log itself; corruption
// anywhere else stops the server with the file and byte offset. With
// Recover set, a corrupt newest snapshot is skipped for an older one, as
// long as the log still holds every transaction since that one.
//
// A cluster member (replay false) loads only the snapshot: entries logged
// after it may never have been committed; the leader commits them again.
func (s *Server) recoverDisk(replay bool) (_ *disk, _ *tree.Tree, _ int, err error) {
	fsys := s.cfg.FS
	if fsys == nil {
		fsys = vfs.OS{}
	}
	d := &disk{fs: fsys}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := s.lockDirs(d); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	logger := s.log.Named("storage")
	snapDir, logDir := s.cfg.SnapDir(), s.cfg.LogSegmentDir()
	_, statErr := fsys.Stat(logDir)
	newLogDir := statErr != nil
	if err := s.checkLogNotLeftBehind(fsys); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	for _, dir := range []string{snapDir, logDir} {
		if err := fsys.MkdirAll(dir); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %v", ErrRecovery, err)
		}
	}
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
		if newLogDir {
			s.log.Warn("snapshots exist but the transaction log directory did not: transactions after the snapshot are not replayed "+
				"(if log_dir changed, stop the server and move the old log/ directory to it)", "txn_log", logDir, "snapshot_zxid", hexZxid(info.Zxid))
		}
	}
	// Segments wholly below the snapshot are not read now (as ZooKeeper
	// does not read those logs): a restart takes the same time however much
	// history the log still holds.
	logCfg := s.cfg.Log
	if s.admin != nil && logCfg.OnSync == nil {
		logCfg.OnSync = s.admin.observeFsync // the fsynctime summary (metrics.go)
	}
	if d.log, err = storage.OpenLogAfter(fsys, logDir, logCfg, logger, t.LastZxid()); err != nil {
		d.log = nil
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
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	if z := d.log.LastZxid(); z > t.LastZxid() {
		t.SetLastZxid(z)
	}
	return d, t, replayed, nil
}

// lockDirs creates and locks the data directory, and the log directory when
// it is another one, recording the locks in d.
func (s *Server) lockDirs(d *disk) error {
	dirs := []string{s.cfg.DataDir}
	if s.cfg.separateLogDir() {
		dirs = append(dirs, s.cfg.logDir())
	}
	owner := fmt.Sprintf("zoogate server %d, clients on %s", s.cfg.ServerID, s.cfg.ClientAddr)
	for _, dir := range dirs {
		if err := d.fs.MkdirAll(dir); err != nil {
			return err
		}
		l, err := storage.LockDir(d.fs, dir, owner)
		if err != nil {
			return err
		}
		d.locks = append(d.locks, l)
	}
	return nil
}

// ErrLogElsewhere is matched by the error of a server whose LogDir holds no
// transaction log while <DataDir>/log does: LogDir was set (or changed)
// without moving the log, and starting would silently lose what the log
// holds after the newest snapshot.
var ErrLogElsewhere = errors.New("the transaction log is not in the log directory")

// checkLogNotLeftBehind refuses a separate LogDir without log segments
// when the data directory's own log/ has some.
func (s *Server) checkLogNotLeftBehind(fsys vfs.FS) error {
	if !s.cfg.separateLogDir() {
		return nil
	}
	old := filepath.Join(s.cfg.DataDir, "log")
	if hasSegments(fsys, s.cfg.LogSegmentDir()) || !hasSegments(fsys, old) {
		return nil
	}
	return fmt.Errorf("%w: %s holds log segments but %s holds none: move the first to the second, or unset log_dir",
		ErrLogElsewhere, old, s.cfg.LogSegmentDir())
}

// hasSegments reports whether dir holds a transaction log segment.
func hasSegments(fsys vfs.FS, dir string) bool {
	names, err := fsys.List(dir)
	if err != nil {
		return false
	}
	for _, n := range names {
		if strings.HasPrefix(n, "log.") {
			return true
		}
	}
	return false
}
