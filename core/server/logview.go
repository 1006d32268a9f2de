package server

import (
	"bytes"
	"io"

	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/storage"
)

// logView is the zab.LogReader of a voter: the entries logged since its
// last snapshot, kept in memory (for DIFF), and that snapshot, read from
// disk only when a learner needs SNAP. It mirrors what the driver made
// durable and is used only from the driver goroutine.
type logView struct {
	mem   *zab.MemLog
	snaps *storage.SnapshotStore
}

func newLogView(snaps *storage.SnapshotStore, snapZxid int64) *logView {
	m := zab.NewMemLog()
	m.InstallSnapshot(zab.Snapshot{Zxid: snapZxid})
	return &logView{mem: m, snaps: snaps}
}

func (v *logView) SnapshotZxid() int64                            { return v.mem.SnapshotZxid() }
func (v *logView) LastZxid() int64                                { return v.mem.LastZxid() }
func (v *logView) Floor(z int64) (int64, error)                   { return v.mem.Floor(z) }
func (v *logView) Entries(after, upTo int64) ([]zab.Entry, error) { return v.mem.Entries(after, upTo) }

// Snapshot reads the snapshot file's payload (the tree's snapshot bytes).
func (v *logView) Snapshot() (zab.Snapshot, error) {
	z := v.mem.SnapshotZxid()
	if z == 0 {
		return zab.Snapshot{}, nil
	}
	r, err := v.snaps.Open(z)
	if err != nil {
		return zab.Snapshot{}, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return zab.Snapshot{}, err
	}
	return zab.Snapshot{Zxid: z, Data: buf.Bytes()}, nil
}
