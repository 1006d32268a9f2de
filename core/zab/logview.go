package zab

import "fmt"

// logView is the node's view of its log: what the driver made durable
// (store) plus what this node has decided since the last Advance and not yet
// handed to the driver (a snapshot to install, a truncation, new entries).
type logView struct {
	store    LogReader
	snap     *Snapshot // pending snapshot install; replaces the whole store
	hasTrunc bool      // pending truncation of durable entries after trunc
	trunc    int64
	unstable []Entry // pending appends
	last     int64   // last logged zxid including pending changes
}

func newLogView(store LogReader) *logView {
	return &logView{store: store, last: store.LastZxid()}
}

func (l *logView) lastZxid() int64 { return l.last }

// durableLastZxid is the last zxid the driver has made durable and
// acknowledged: the store's, below any pending truncation or snapshot.
func (l *logView) durableLastZxid() int64 {
	z := l.store.LastZxid()
	if l.hasTrunc && l.trunc < z {
		z = l.trunc
	}
	if l.snap != nil {
		z = min(z, l.snap.Zxid)
	}
	return z
}

func (l *logView) pending() bool { return l.snap != nil || l.hasTrunc || len(l.unstable) > 0 }

func (l *logView) snapshotZxid() int64 {
	if l.snap != nil {
		return l.snap.Zxid
	}
	return l.store.SnapshotZxid()
}

func (l *logView) snapshot() (Snapshot, error) {
	if l.snap != nil {
		return *l.snap, nil
	}
	return l.store.Snapshot()
}

// floor: the largest known zxid <= z (an entry or the snapshot zxid).
func (l *logView) floor(z int64) (int64, error) {
	for i := len(l.unstable) - 1; i >= 0; i-- {
		if l.unstable[i].Zxid <= z {
			return l.unstable[i].Zxid, nil
		}
	}
	if l.snap != nil {
		if z < l.snap.Zxid {
			return 0, fmt.Errorf("%w: %s is below snapshot %s", ErrCompacted, FormatZxid(z), FormatZxid(l.snap.Zxid))
		}
		return l.snap.Zxid, nil
	}
	if l.hasTrunc && z > l.trunc {
		z = l.trunc
	}
	return l.store.Floor(z)
}

// entries returns the entries in (after, upTo].
func (l *logView) entries(after, upTo int64) ([]Entry, error) {
	if upTo <= after {
		return nil, nil
	}
	var out []Entry
	if l.snap != nil {
		if after < l.snap.Zxid {
			return nil, fmt.Errorf("%w: %s is below snapshot %s", ErrCompacted, FormatZxid(after), FormatZxid(l.snap.Zxid))
		}
	} else {
		durUpTo := upTo
		if l.hasTrunc && durUpTo > l.trunc {
			durUpTo = l.trunc
		}
		if len(l.unstable) > 0 && durUpTo >= l.unstable[0].Zxid {
			durUpTo = l.unstable[0].Zxid - 1
		}
		if durUpTo > after {
			ents, err := l.store.Entries(after, durUpTo)
			if err != nil {
				return nil, err
			}
			out = append(out, ents...)
		} else if after < l.store.SnapshotZxid() {
			return nil, fmt.Errorf("%w: %s", ErrCompacted, FormatZxid(after))
		}
	}
	for _, e := range l.unstable {
		if e.Zxid > after && e.Zxid <= upTo {
			out = append(out, e)
		}
	}
	return out, nil
}

// append adds an entry; it must directly follow the last one (ZOOKEEPER-4925).
func (l *logView) append(e Entry) error {
	if !follows(l.last, e.Zxid) {
		return fmt.Errorf("%w: %s after %s", ErrLogGap, FormatZxid(e.Zxid), FormatZxid(l.last))
	}
	l.unstable = append(l.unstable, e)
	l.last = e.Zxid
	return nil
}

// truncateAfter drops everything above t; t must be a logged zxid (or the
// snapshot zxid).
func (l *logView) truncateAfter(t int64) error {
	f, err := l.floor(t)
	if err != nil {
		return err
	}
	if f != t {
		return fmt.Errorf("%w: TRUNC to %s, which is not in the log", ErrProtocol, FormatZxid(t))
	}
	i := len(l.unstable)
	for i > 0 && l.unstable[i-1].Zxid > t {
		i--
	}
	l.unstable = l.unstable[:i]
	if l.snap == nil && len(l.unstable) == 0 && (!l.hasTrunc || t < l.trunc) {
		l.hasTrunc, l.trunc = true, t
	}
	l.last = t
	return nil
}

// installSnapshot replaces the whole log with s.
func (l *logView) installSnapshot(s Snapshot) {
	l.snap = &s
	l.hasTrunc = false
	l.unstable = nil
	l.last = s.Zxid
}

// stable is called at Advance: the driver has made every pending change
// durable, so the store now shows them.
func (l *logView) stable() {
	if got := l.store.LastZxid(); got != l.last {
		panic(fmt.Sprintf("zab: after Advance the log ends at %s, expected %s: the driver did not persist the Ready",
			FormatZxid(got), FormatZxid(l.last)))
	}
	l.snap, l.hasTrunc, l.unstable = nil, false, nil
}
