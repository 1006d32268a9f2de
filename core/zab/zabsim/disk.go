package zabsim

import (
	"github.com/zoogate/zoogate/core/zab"
)

// Disk is what survives a crash: the log (snapshot plus entries), the two
// epochs and the zxid the state machine had applied when it last persisted
// that mark. It implements zab.LogReader over the durable log.
type Disk struct {
	Log           *zab.MemLog
	AcceptedEpoch int64
	CurrentEpoch  int64
	// CommitMark is persisted lazily: it may lag what was applied, never
	// lead it.
	CommitMark int64
	// Hidden zxids are left out of Entries: a log with holes, for the
	// ZOOKEEPER-4925 scenario.
	Hidden map[int64]bool
	// snapCache is the decoded snapshot whose bytes are src, for contains.
	snapCache struct {
		src  []byte
		data map[int64]string
	}
}

// NewDisk returns an empty disk.
func NewDisk() *Disk { return &Disk{Log: zab.NewMemLog(), Hidden: map[int64]bool{}} }

func (d *Disk) SnapshotZxid() int64             { return d.Log.SnapshotZxid() }
func (d *Disk) Snapshot() (zab.Snapshot, error) { return d.Log.Snapshot() }
func (d *Disk) LastZxid() int64                 { return d.Log.LastZxid() }
func (d *Disk) Floor(z int64) (int64, error)    { return d.Log.Floor(z) }
func (d *Disk) Entries(after, upTo int64) ([]zab.Entry, error) {
	ents, err := d.Log.Entries(after, upTo)
	if err != nil || len(d.Hidden) == 0 {
		return ents, err
	}
	out := ents[:0]
	for _, e := range ents {
		if !d.Hidden[e.Zxid] {
			out = append(out, e)
		}
	}
	return out, nil
}

// allEntries returns the whole durable log after the snapshot.
func (d *Disk) allEntries() []zab.Entry {
	ents, _ := d.Entries(d.SnapshotZxid(), d.LastZxid())
	return ents
}

// contains reports whether the disk holds txn z with data, in its log or in
// its snapshot.
func (d *Disk) contains(z int64, data []byte) bool {
	if z <= d.SnapshotZxid() {
		snap, _ := d.Snapshot()
		if len(snap.Data) == 0 {
			return false
		}
		sc := &d.snapCache
		if len(sc.src) != len(snap.Data) || &sc.src[0] != &snap.Data[0] {
			sc.src, sc.data = snap.Data, map[int64]string{}
			for _, e := range decodeState(snap.Data) {
				sc.data[e.Zxid] = string(e.Data)
			}
		}
		got, ok := sc.data[z]
		return ok && got == string(data)
	}
	ents, _ := d.Entries(z-1, z)
	return len(ents) == 1 && ents[0].Zxid == z && string(ents[0].Data) == string(data)
}
