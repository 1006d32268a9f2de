package zab

import (
	"fmt"
	"sort"
)

// Entry is one transaction: a zxid and opaque payload bytes.
type Entry struct {
	Zxid int64
	Data []byte
}

// Snapshot is an opaque state-machine snapshot taken at Zxid (after applying
// the transaction Zxid). Zxid 0 with no Data is the empty initial state.
// A snapshot only ever contains committed transactions.
type Snapshot struct {
	Zxid int64
	Data []byte
	// Blob, when set, holds the payload instead of Data (a snapshot file
	// the driver streams rather than reads whole; see Blob).
	Blob Blob
}

// LogReader is read access to what the driver has made durable: a snapshot
// and the contiguous log entries after it. The core only reads through it;
// the driver writes as Ready tells it to.
type LogReader interface {
	// SnapshotZxid is the zxid of the snapshot the log starts after (0 when
	// the log starts at the beginning of history).
	SnapshotZxid() int64
	// Snapshot returns that snapshot.
	Snapshot() (Snapshot, error)
	// LastZxid is the zxid of the last durable entry (SnapshotZxid when
	// there is none).
	LastZxid() int64
	// Floor returns the largest zxid of {SnapshotZxid} ∪ entries that is
	// <= zxid, or ErrCompacted when zxid < SnapshotZxid.
	Floor(zxid int64) (int64, error)
	// Entries returns the entries with after < zxid <= upTo in order, or
	// ErrCompacted when after < SnapshotZxid.
	Entries(after, upTo int64) ([]Entry, error)
}

// MemLog is an in-memory LogReader plus the writes a driver does, for tests
// and for drivers that keep a log in memory. It refuses non-contiguous
// appends. Not safe for concurrent use.
type MemLog struct {
	snap    Snapshot
	entries []Entry
}

// NewMemLog returns an empty log.
func NewMemLog() *MemLog { return &MemLog{} }

func (l *MemLog) SnapshotZxid() int64 { return l.snap.Zxid }

func (l *MemLog) Snapshot() (Snapshot, error) { return l.snap, nil }

func (l *MemLog) LastZxid() int64 {
	if len(l.entries) == 0 {
		return l.snap.Zxid
	}
	return l.entries[len(l.entries)-1].Zxid
}

// search returns the index of the first entry with Zxid > z.
func (l *MemLog) search(z int64) int {
	return sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Zxid > z })
}

func (l *MemLog) Floor(z int64) (int64, error) {
	if z < l.snap.Zxid {
		return 0, fmt.Errorf("%w: %s is below snapshot %s", ErrCompacted, FormatZxid(z), FormatZxid(l.snap.Zxid))
	}
	if i := l.search(z); i > 0 {
		return l.entries[i-1].Zxid, nil
	}
	return l.snap.Zxid, nil
}

func (l *MemLog) Entries(after, upTo int64) ([]Entry, error) {
	if after < l.snap.Zxid {
		return nil, fmt.Errorf("%w: %s is below snapshot %s", ErrCompacted, FormatZxid(after), FormatZxid(l.snap.Zxid))
	}
	if upTo <= after {
		return nil, nil
	}
	lo, hi := l.search(after), l.search(upTo)
	return append([]Entry(nil), l.entries[lo:hi]...), nil
}

// Append adds entries after the last one; they must be contiguous.
func (l *MemLog) Append(ents ...Entry) error {
	if err := checkContiguous(l.LastZxid(), ents); err != nil {
		return err
	}
	l.entries = append(l.entries, ents...)
	return nil
}

// TruncateAfter drops every entry above zxid (a no-op when there is none).
func (l *MemLog) TruncateAfter(zxid int64) error {
	if zxid < l.snap.Zxid {
		return fmt.Errorf("%w: cannot truncate below snapshot %s", ErrCompacted, FormatZxid(l.snap.Zxid))
	}
	l.entries = l.entries[:l.search(zxid)]
	return nil
}

// InstallSnapshot replaces the whole log with a snapshot (SNAP).
func (l *MemLog) InstallSnapshot(s Snapshot) {
	l.snap = s
	l.entries = nil
}

// Compact records s as the log's snapshot and drops the entries it covers.
// s.Zxid must be a logged zxid.
func (l *MemLog) Compact(s Snapshot) error {
	f, err := l.Floor(s.Zxid)
	if err != nil {
		return err
	}
	if f != s.Zxid {
		return fmt.Errorf("zab: compact at %s: no such entry", FormatZxid(s.Zxid))
	}
	l.entries = append([]Entry(nil), l.entries[l.search(s.Zxid):]...)
	l.snap = s
	return nil
}

// ApplyReady performs steps 1 and 2 of a Ready on the log.
func (l *MemLog) ApplyReady(rd Ready) error {
	if rd.Snapshot != nil {
		l.InstallSnapshot(*rd.Snapshot)
	} else if rd.Truncate {
		if err := l.TruncateAfter(rd.TruncateAfter); err != nil {
			return err
		}
	}
	return l.Append(rd.Entries...)
}
