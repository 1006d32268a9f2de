package storage

import (
	"errors"
	"fmt"
)

// TruncateAfter removes every record with a zxid above zxid (ZAB's TRUNC)
// and returns once that is durable. Appends queued before the call are
// written first (and then removed if above zxid); the next Append must be
// above min(zxid, LastAppended()). TruncateAfter(0) empties the log.
//
// Crash safety: whole segments are removed newest first and the directory
// fsynced before the segment holding zxid is cut, so a crash part-way
// leaves a prefix of the old log (never a log with a hole); calling
// TruncateAfter again after recovery finishes the job. An error fails the
// log (ErrLogFailed).
func (l *Log) TruncateAfter(zxid int64) error {
	return l.control(&request{kind: reqTruncate, zxid: zxid}, func() {
		l.lastAppended = min(l.lastAppended, max(zxid, 0))
	})
}

// PurgeBefore removes whole segments all of whose records have zxids at or
// below zxid (typically the zxid of the oldest snapshot kept). The segment
// holding the first record above zxid, and the last segment, are always
// kept, so the log still starts at or before zxid+1. It returns how many
// segment files were removed. A failure to remove a file is returned but
// does not fail the log.
func (l *Log) PurgeBefore(zxid int64) (int, error) {
	req := &request{kind: reqPurge, zxid: zxid}
	err := l.control(req, nil)
	return req.n, err
}

// doTruncate runs on the writer goroutine.
func (l *Log) doTruncate(zxid int64) error {
	l.rw.Lock()
	defer l.rw.Unlock()
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()

	// 1. Remove whole segments above zxid, newest first.
	keep := len(segs)
	for keep > 0 && segs[keep-1].first > zxid {
		keep--
	}
	if keep < len(segs) {
		if l.w.f != nil {
			l.w.f.Close()
			l.w = writerState{buf: l.w.buf}
		}
		for i := len(segs) - 1; i >= keep; i-- {
			if err := l.fs.Remove(l.path(segs[i].name)); err != nil && !isNotExist(err) {
				return l.fail(fmt.Errorf("removing %s: %w", segs[i].name, err))
			}
			l.mu.Lock()
			l.segs = l.segs[:i]
			l.mu.Unlock()
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return l.fail(fmt.Errorf("syncing log directory: %w", err))
		}
		l.logger.Info("truncated log: removed segments", "count", len(segs)-keep, "after", fmt.Sprintf("%#x", zxid))
	}
	if keep == 0 {
		return nil
	}
	// 2. Cut the segment that now ends the log, if it goes beyond zxid.
	if err := l.openActive(); err != nil {
		return l.fail(err)
	}
	seg := l.w.seg // exact now, even for a segment recovery did not read
	if seg.last <= zxid {
		return nil
	}
	path := l.path(seg.name)
	cut, lastKept := int64(-1), int64(0)
	_, err := scanSegment(l.w.f, seg.end, path, seg.first, 0, maxRecordSizeLimit, func(r Record, off int64) error {
		if r.Zxid > zxid {
			cut = off
			return errStopScan
		}
		lastKept = r.Zxid
		return nil
	})
	if err != nil {
		return l.fail(err)
	}
	if cut < 0 || lastKept == 0 {
		return l.fail(corruptf(path, seg.end, "record above %#x not found while truncating", zxid))
	}
	if err := eraseFrom(l.w.f, cut, l.w.alloc); err != nil {
		return l.fail(fmt.Errorf("truncating %s at %d: %w", path, cut, err))
	}
	l.w.seg.last, l.w.seg.end = lastKept, cut
	l.mu.Lock()
	l.publishLocked()
	l.stats.Syncs++
	l.mu.Unlock()
	l.logger.Info("truncated log", "file", path, "offset", cut, "last_zxid", fmt.Sprintf("%#x", lastKept))
	return nil
}

// doPurge runs on the writer goroutine.
func (l *Log) doPurge(req *request) error {
	l.rw.Lock()
	defer l.rw.Unlock()
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()
	var errs []error
	for i := 0; i+1 < len(segs) && segs[i].last <= req.zxid; i++ {
		err := l.fs.Remove(l.path(segs[i].name))
		if err != nil && !isNotExist(err) {
			errs = append(errs, fmt.Errorf("storage: removing %s: %w", l.path(segs[i].name), err))
			break
		}
		l.mu.Lock()
		l.segs = l.segs[1:]
		l.mu.Unlock()
		req.n++
	}
	if req.n > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			errs = append(errs, fmt.Errorf("storage: syncing log directory: %w", err))
		}
		l.logger.Info("purged log segments", "count", req.n, "upto", fmt.Sprintf("%#x", req.zxid))
	}
	return errors.Join(errs...)
}
