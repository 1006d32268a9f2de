package storage

import (
	"fmt"
)

// Iterate calls fn for every durable record with a zxid above fromZxid, in
// zxid order, across segments. It sees the records durable when it starts.
// Every record is validated again as it is read; a mismatch returns a
// *CorruptError. An error from fn stops the iteration and is returned as
// is. The payload given to fn is fn's to keep.
//
// Iterate may run concurrently with Append; TruncateAfter and PurgeBefore
// wait until it returns, so fn must not call them (nor wait for appends
// queued behind them).
func (l *Log) Iterate(fromZxid int64, fn func(Record) error) error {
	l.rw.RLock()
	defer l.rw.RUnlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()

	var prevLast int64
	for _, seg := range segs {
		if seg.last <= fromZxid {
			prevLast = seg.last
			continue
		}
		if err := l.iterateSegment(seg, prevLast, fromZxid, fn); err != nil {
			return err
		}
		prevLast = seg.last
	}
	return nil
}

// fnError marks an error returned by the caller's callback.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (l *Log) iterateSegment(seg segment, prevLast, fromZxid int64, fn func(Record) error) error {
	path := l.path(seg.name)
	f, err := l.fs.Open(path)
	if err != nil {
		return fmt.Errorf("storage: opening %s: %w", path, err)
	}
	defer f.Close()
	sc, err := scanSegment(f, seg.end, path, seg.first, prevLast, maxRecordSizeLimit, func(r Record, _ int64) error {
		if r.Zxid <= fromZxid {
			return nil
		}
		r.Payload = append([]byte(nil), r.Payload...)
		if err := fn(r); err != nil {
			return fnError{err}
		}
		return nil
	})
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	if err != nil {
		return err
	}
	if sc.tornAt >= 0 {
		return corruptf(path, sc.tornAt, "%v", sc.tornReason)
	}
	if seg.bounds {
		// Not read at open (see OpenLogAfter): now check it in full.
		if sc.count == 0 || sc.last > seg.last {
			return corruptf(path, sc.end, "records end at zxid %#x (%d records), expected at least one and none above %#x", sc.last, sc.count, seg.last)
		}
		return nil
	}
	if sc.end != seg.end || sc.last != seg.last {
		return corruptf(path, sc.end, "records end at %d (zxid %#x), expected %d (zxid %#x)", sc.end, sc.last, seg.end, seg.last)
	}
	return nil
}
