package replica

import (
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// DiskStorage is the Storage of a server with a data directory: the
// transaction log, the snapshot store and the epoch files of package
// storage. The entries logged since the last snapshot are mirrored in
// memory (DIFF streams from there); a snapshot is read from its file only
// when a learner needs SNAP, and then as a zab.Blob, never whole.
//
// It is used from the executor's goroutine only.
type DiskStorage struct {
	fs       vfs.FS
	epochDir string
	log      *storage.Log
	snaps    *storage.SnapshotStore
	mem      *zab.MemLog
	logger   hclog.Logger

	accepted, current int64
}

// OpenDiskStorage mirrors what log holds after the snapshot at snapZxid
// (the one the state machine was loaded from) and reads the epoch files in
// epochDir. It reads the log once; the server's recovery has checked it.
func OpenDiskStorage(fsys vfs.FS, epochDir string, log *storage.Log, snaps *storage.SnapshotStore, snapZxid int64, logger hclog.Logger) (*DiskStorage, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	d := &DiskStorage{fs: fsys, epochDir: epochDir, log: log, snaps: snaps, mem: zab.NewMemLog(), logger: logger}
	d.mem.InstallSnapshot(zab.Snapshot{Zxid: snapZxid})
	err := log.Iterate(snapZxid, func(r storage.Record) error {
		return d.mem.Append(zab.Entry{Zxid: r.Zxid, Data: append([]byte(nil), r.Payload...)})
	})
	if err != nil {
		return nil, fmt.Errorf("loading the log after the snapshot: %w", err)
	}
	if d.accepted, _, err = storage.ReadEpoch(fsys, epochDir, storage.AcceptedEpochFile); err != nil {
		return nil, err
	}
	if d.current, _, err = storage.ReadEpoch(fsys, epochDir, storage.CurrentEpochFile); err != nil {
		return nil, err
	}
	return d, nil
}

// HardState returns the epochs read at open or last persisted.
func (d *DiskStorage) HardState() zab.HardState {
	return zab.HardState{AcceptedEpoch: d.accepted, CurrentEpoch: d.current}
}

// SnapshotZxid, LastZxid, Floor and Entries read the in-memory mirror.
func (d *DiskStorage) SnapshotZxid() int64          { return d.mem.SnapshotZxid() }
func (d *DiskStorage) LastZxid() int64              { return d.mem.LastZxid() }
func (d *DiskStorage) Floor(z int64) (int64, error) { return d.mem.Floor(z) }
func (d *DiskStorage) Entries(after, upTo int64) ([]zab.Entry, error) {
	return d.mem.Entries(after, upTo)
}

// Snapshot returns the snapshot the log starts after, as a Blob of its
// file (Zxid 0 is the empty state, with no payload).
func (d *DiskStorage) Snapshot() (zab.Snapshot, error) {
	z := d.mem.SnapshotZxid()
	if z == 0 {
		return zab.Snapshot{}, nil
	}
	r, err := d.snaps.Open(z)
	if err != nil {
		return zab.Snapshot{}, err
	}
	size := r.Len()
	r.Close()
	return zab.Snapshot{Zxid: z, Blob: &snapshotBlob{snaps: d.snaps, zxid: z, size: size}}, nil
}

// InstallSnapshot writes a snapshot received from the upstream durably,
// then drops the whole log (step 1 of a SNAP).
func (d *DiskStorage) InstallSnapshot(snap zab.Snapshot) error {
	if snap.Zxid > 0 {
		if err := d.writeSnapshot(snap); err != nil {
			return err
		}
	}
	if err := d.log.TruncateAfter(0); err != nil {
		return err
	}
	d.mem.InstallSnapshot(zab.Snapshot{Zxid: snap.Zxid})
	return nil
}

// writeSnapshot streams the payload (Data, or the Blob a transport spooled
// to disk) into the snapshot store and commits it.
func (d *DiskStorage) writeSnapshot(snap zab.Snapshot) error {
	w, err := d.snaps.Create(snap.Zxid)
	if err != nil {
		return err
	}
	if snap.Blob != nil {
		err = copyBlob(w, snap.Blob)
	} else {
		_, err = w.Write(snap.Data)
	}
	if err != nil {
		w.Abort()
		return fmt.Errorf("writing the snapshot %s from the upstream: %w", zab.FormatZxid(snap.Zxid), err)
	}
	if err := w.Commit(); err != nil {
		return err
	}
	// A transport's spool file is no longer needed once the snapshot is
	// in the store.
	if rm, ok := snap.Blob.(interface{ Remove() error }); ok {
		if err := rm.Remove(); err != nil {
			d.logger.Warn("received snapshot spool file not removed", "error", err)
		}
	}
	return nil
}

func copyBlob(dst io.Writer, b zab.Blob) error {
	r, err := b.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(dst, r)
	if err == nil && n != b.Size() {
		err = fmt.Errorf("blob gave %d bytes, its size is %d", n, b.Size())
	}
	return err
}

// TruncateAfter drops every entry above zxid, on disk then in the mirror.
func (d *DiskStorage) TruncateAfter(zxid int64) error {
	if err := d.log.TruncateAfter(zxid); err != nil {
		return err
	}
	return d.mem.TruncateAfter(zxid)
}

// Append logs entries with one write and one fsync.
func (d *DiskStorage) Append(ents []zab.Entry) error {
	recs := make([]storage.Record, len(ents))
	for i, e := range ents {
		recs[i] = storage.Record{Zxid: e.Zxid, Payload: e.Data}
	}
	if err := d.log.AppendSync(recs); err != nil {
		return err
	}
	return d.mem.Append(ents...)
}

// SetHardState durably writes the epoch files that changed.
func (d *DiskStorage) SetHardState(hs zab.HardState) error {
	if hs.AcceptedEpoch != d.accepted {
		if err := storage.WriteEpoch(d.fs, d.epochDir, storage.AcceptedEpochFile, hs.AcceptedEpoch); err != nil {
			return err
		}
		d.accepted = hs.AcceptedEpoch
	}
	if hs.CurrentEpoch != d.current {
		if err := storage.WriteEpoch(d.fs, d.epochDir, storage.CurrentEpochFile, hs.CurrentEpoch); err != nil {
			return err
		}
		d.current = hs.CurrentEpoch
	}
	return nil
}

// Compact forgets the mirrored entries up to a snapshot the server took at
// zxid (they stay in the log files until the purge). DIFF then starts at
// that snapshot at the earliest; older learners get SNAP.
func (d *DiskStorage) Compact(zxid int64) error {
	return d.mem.Compact(zab.Snapshot{Zxid: zxid})
}

// snapshotBlob is a snapshot file of the store, opened for each reader.
type snapshotBlob struct {
	snaps *storage.SnapshotStore
	zxid  int64
	size  int64
}

func (b *snapshotBlob) Size() int64 { return b.size }

func (b *snapshotBlob) Open() (io.ReadCloser, error) { return b.snaps.Open(b.zxid) }
