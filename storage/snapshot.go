package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/storage/vfs"
)

// Snapshot file, see doc.go:
//
//	header  [0:4) magic "ZGSN" [4:8) version uint32 (1) [8:16) zxid int64
//	        [16:20) crc32c over [0:16) [20:24) reserved, zero
//	payload opaque bytes
//	trailer [0:8) payload length uint64 [8:12) crc32c of the payload
//	        [12:16) magic "ZGSE"
const (
	snapHeaderSize  = 24
	snapTrailerSize = 16
	snapMagic       = "ZGSN"
	snapEndMagic    = "ZGSE"
	snapVersion     = 1
	snapPrefix      = "snapshot."
)

func snapshotName(zxid int64) string { return fmt.Sprintf("%s%016x", snapPrefix, uint64(zxid)) }

func encodeSnapHeader(zxid int64) []byte {
	return encodeHeader(snapHeaderSize, snapMagic, snapVersion, zxid)
}

func decodeSnapHeader(b []byte) (int64, error) {
	switch {
	case len(b) < snapHeaderSize:
		return 0, errors.New("snapshot header incomplete")
	case string(b[0:4]) != snapMagic:
		return 0, errors.New("bad snapshot magic")
	case crc32.Checksum(b[0:16], castagnoli) != binary.BigEndian.Uint32(b[16:20]):
		return 0, errors.New("snapshot header checksum mismatch")
	case binary.BigEndian.Uint32(b[4:8]) != snapVersion:
		return 0, errors.New("unsupported snapshot format version")
	case binary.BigEndian.Uint32(b[20:24]) != 0:
		return 0, errors.New("snapshot header reserved bytes are not zero")
	}
	return int64(binary.BigEndian.Uint64(b[8:16])), nil
}

func encodeSnapTrailer(length uint64, crc uint32) []byte {
	b := make([]byte, snapTrailerSize)
	binary.BigEndian.PutUint64(b[0:8], length)
	binary.BigEndian.PutUint32(b[8:12], crc)
	copy(b[12:16], snapEndMagic)
	return b
}

func decodeSnapTrailer(b []byte) (length uint64, crc uint32, err error) {
	if len(b) < snapTrailerSize {
		return 0, 0, errors.New("snapshot trailer incomplete")
	}
	if string(b[12:16]) != snapEndMagic {
		return 0, 0, errors.New("bad snapshot trailer magic (incomplete snapshot?)")
	}
	return binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint32(b[8:12]), nil
}

// SnapshotStore keeps snapshot files in one directory, each named
// "snapshot.<16 hex digits of its zxid>".
type SnapshotStore struct {
	fs     vfs.FS
	dir    string
	logger hclog.Logger
}

// SnapshotInfo describes a snapshot file.
type SnapshotInfo struct {
	Zxid int64
	Path string
	Size int64 // file size, header and trailer included
}

// OpenSnapshotStore opens (creating if needed) the snapshot directory and
// removes leftover temporary files of snapshots never committed. logger
// may be nil.
func OpenSnapshotStore(fsys vfs.FS, dir string, logger hclog.Logger) (*SnapshotStore, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s := &SnapshotStore{fs: fsys, dir: dir, logger: logger.Named("snapshot")}
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("storage: creating snapshot directory: %w", err)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: listing snapshot directory: %w", err)
	}
	for _, name := range names {
		if _, tmp, ok := parseZxidName(name, snapPrefix); ok && tmp {
			s.logger.Warn("removing uncommitted snapshot", "file", filepath.Join(dir, name))
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("storage: removing %s: %w", name, err)
			}
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *SnapshotStore) Dir() string { return s.dir }

// List returns the committed snapshots, newest (highest zxid) first. It
// does not validate them.
func (s *SnapshotStore) List() ([]SnapshotInfo, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("storage: listing snapshot directory: %w", err)
	}
	var out []SnapshotInfo
	for _, name := range names {
		zxid, tmp, ok := parseZxidName(name, snapPrefix)
		if !ok || tmp {
			continue
		}
		path := filepath.Join(s.dir, name)
		info, err := s.fs.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		out = append(out, SnapshotInfo{Zxid: zxid, Path: path, Size: info.Size})
	}
	slices.SortFunc(out, func(a, b SnapshotInfo) int { return compareInt64(b.Zxid, a.Zxid) })
	return out, nil
}

// SnapshotWriter writes one snapshot. Write the payload, then Commit (or
// Abort). It is not safe for concurrent use.
type SnapshotWriter struct {
	s          *SnapshotStore
	zxid       int64
	tmp, final string
	f          vfs.File
	bw         *bufio.Writer
	crc        uint32
	n          uint64
	err        error // sticky write error
	finished   bool
}

// Create starts a snapshot of the state at zxid. Committing replaces any
// existing snapshot with the same zxid atomically.
func (s *SnapshotStore) Create(zxid int64) (*SnapshotWriter, error) {
	final := filepath.Join(s.dir, snapshotName(zxid))
	w := &SnapshotWriter{s: s, zxid: zxid, tmp: final + tmpSuffix, final: final}
	f, err := s.fs.Create(w.tmp)
	if err != nil {
		return nil, fmt.Errorf("storage: creating snapshot: %w", err)
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 256<<10)
	if _, err := w.bw.Write(encodeSnapHeader(zxid)); err != nil {
		w.Abort()
		return nil, fmt.Errorf("storage: writing snapshot header: %w", err)
	}
	return w, nil
}

// Zxid returns the zxid the snapshot is taken at.
func (w *SnapshotWriter) Zxid() int64 { return w.zxid }

// Write appends payload bytes.
func (w *SnapshotWriter) Write(p []byte) (int, error) {
	if w.finished {
		return 0, fmt.Errorf("storage: snapshot %s already committed or aborted", w.final)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.n += uint64(n)
	if err != nil {
		w.err = fmt.Errorf("storage: writing snapshot %s: %w", w.tmp, err)
		return n, w.err
	}
	return n, nil
}

// Commit makes the snapshot durable and visible. Durability contract: it
// writes the trailer (payload length and checksum), fsyncs the file, closes
// it, renames snapshot.<zxid>.tmp to snapshot.<zxid> and fsyncs the
// directory; only then does it return nil. On error the temporary file is
// removed and no snapshot is visible (unless the final rename happened and
// only the directory fsync failed: then the snapshot is visible but its
// durability unknown).
func (w *SnapshotWriter) Commit() error {
	if w.finished {
		return fmt.Errorf("storage: snapshot %s already committed or aborted", w.final)
	}
	err := w.err
	if err == nil {
		_, err = w.bw.Write(encodeSnapTrailer(w.n, w.crc))
	}
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if err == nil {
		err = w.f.Close()
		w.f = nil
	}
	if err == nil {
		err = w.s.fs.Rename(w.tmp, w.final)
		if err == nil {
			w.finished = true
			if err = w.s.fs.SyncDir(w.s.dir); err != nil {
				return fmt.Errorf("storage: syncing snapshot directory: %w", err)
			}
			w.s.logger.Info("snapshot committed", "file", w.final, "bytes", w.n)
			return nil
		}
	}
	w.Abort()
	return fmt.Errorf("storage: committing snapshot %s: %w", w.final, err)
}

// Abort discards the snapshot. It is a no-op after Commit or Abort.
func (w *SnapshotWriter) Abort() error {
	if w.finished {
		return nil
	}
	w.finished = true
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if err := w.s.fs.Remove(w.tmp); err != nil && !isNotExist(err) {
		return fmt.Errorf("storage: removing %s: %w", w.tmp, err)
	}
	return nil
}

// Retain removes every snapshot but the newest keep (keep >= 1) and returns
// the zxid of the oldest snapshot kept (0 if there is none), which the
// caller passes to Log.PurgeBefore.
func (s *SnapshotStore) Retain(keep int) (oldestKept int64, err error) {
	if keep < 1 {
		return 0, fmt.Errorf("storage: Retain(%d): must keep at least one snapshot", keep)
	}
	list, err := s.List()
	if err != nil {
		return 0, err
	}
	if len(list) == 0 {
		return 0, nil
	}
	if len(list) <= keep {
		return list[len(list)-1].Zxid, nil
	}
	for _, info := range list[keep:] {
		if err := s.fs.Remove(info.Path); err != nil && !isNotExist(err) {
			return 0, fmt.Errorf("storage: removing %s: %w", info.Path, err)
		}
		s.logger.Debug("removed old snapshot", "file", info.Path)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return 0, fmt.Errorf("storage: syncing snapshot directory: %w", err)
	}
	return list[keep-1].Zxid, nil
}
