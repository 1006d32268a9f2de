package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/storage/vfs"
)

// Log is the durable transaction log: a directory of segment files holding
// records in strictly increasing zxid order.
//
// One background goroutine (the writer) owns the files. Append queues
// records; the writer takes everything queued, writes it, makes it durable
// with one fsync and only then reports success to each caller (group
// commit). TruncateAfter, PurgeBefore and Close are queued behind earlier
// appends and executed by the writer in order.
//
// The log is fail-stop: after a write, fsync, truncation or segment
// creation error, every pending and later operation fails with an error
// matching ErrLogFailed. Reopening recovers from what is durable.
type Log struct {
	fs     vfs.FS
	dir    string
	cfg    LogConfig
	logger hclog.Logger

	// rw keeps TruncateAfter and PurgeBefore (write side, taken by the
	// writer) from changing files an Iterate (read side) is reading.
	rw sync.RWMutex

	mu   sync.Mutex
	cond *sync.Cond // signalled when queue grows
	// segs is the durable view: every record it describes is on disk and
	// fsynced. Readers copy it under mu.
	segs         []segment
	lastAppended int64 // zxid of the last record accepted by Append
	failed       error // sticky; matches ErrLogFailed
	closed       bool
	queue        []*request
	stats        LogStats
	exited       chan struct{}

	w writerState // owned by the writer goroutine (and OpenLog before it)
}

// segment describes one segment file.
type segment struct {
	name  string // base name, "log.<hex first>"
	first int64  // zxid of the first record
	// A segment wholly below the snapshot recovery started from is not
	// read at open (see OpenLogAfter): its last is then an upper bound
	// (the next segment's first - 1) and its end the file size.
	last int64 // zxid of the last record
	end  int64 // offset just past the last record
	// bounds: last and end are the bounds above, not exact values.
	bounds bool
}

// writerState is the writer goroutine's view of the last segment, ahead of
// the durable view while a batch is being written.
type writerState struct {
	f         vfs.File // last segment open read-write; nil if the log is empty
	seg       segment
	alloc     int64 // current size of f (records + zero-filled space)
	published bool  // seg is already part of Log.segs
	buf       []byte
}

// LogStats counts the writer's work since the log was opened.
type LogStats struct {
	Records  int64 // records made durable
	Batches  int64 // batches written (one fsync each)
	Syncs    int64 // fsyncs of segment files, including at segment rolls
	Segments int   // segment files now
}

// OpenLog opens (creating if needed) the log in dir and recovers it:
//
//   - leftover "log.<hex>.tmp" files (segments whose creation did not
//     complete) are removed;
//   - every record of every segment is validated (frame checksum, zxids
//     strictly increasing across the whole log, each segment's first record
//     matching its name and header);
//   - in the last segment only, an invalid record after which nothing valid
//     follows is a torn write: it and everything after it is erased (the
//     file is cut there and zero-filled again), with a WARN log line. A last
//     segment left with no record at all is removed;
//   - anything else invalid (an invalid record followed by a valid one, a
//     bad record or empty segment that is not the last, a bad header)
//     returns a *CorruptError (ErrCorrupt) naming the file and offset, and
//     nothing is modified.
//
// logger may be nil.
func OpenLog(fsys vfs.FS, dir string, cfg LogConfig, logger hclog.Logger) (*Log, error) {
	return OpenLogAfter(fsys, dir, cfg, logger, 0)
}

// OpenLogAfter is OpenLog for a server that already holds every
// transaction up to covered (the snapshot it recovered from): a segment
// whose successor starts at or below covered+1 holds nothing newer, so only
// its header is checked at open, not its records. That keeps a restart's
// time independent of how much history the log still holds. Such a
// segment's records are validated when they are read (Iterate,
// TruncateAfter), with the same *CorruptError. The last segment is always
// read in full.
func OpenLogAfter(fsys vfs.FS, dir string, cfg LogConfig, logger hclog.Logger, covered int64) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	l := &Log{fs: fsys, dir: dir, cfg: cfg, logger: logger.Named("txnlog"), exited: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("storage: creating log directory: %w", err)
	}
	// The directory's own entry must survive a crash too.
	if err := fsys.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, fmt.Errorf("storage: syncing parent of log directory: %w", err)
	}
	if err := l.recover(covered); err != nil {
		if l.w.f != nil {
			l.w.f.Close()
		}
		return nil, err
	}
	l.lastAppended = l.lastDurable()
	l.stats.Segments = len(l.segs)
	go l.run()
	return l, nil
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

// recover scans the directory; see OpenLog.
func (l *Log) recover(covered int64) error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("storage: listing log directory: %w", err)
	}
	type found struct {
		name  string
		first int64
	}
	var segs []found
	dirty := false
	for _, name := range names {
		first, tmp, ok := parseZxidName(name, segmentPrefix)
		if !ok {
			continue
		}
		if tmp {
			l.logger.Warn("removing incomplete segment", "file", l.path(name))
			if err := l.fs.Remove(l.path(name)); err != nil {
				return fmt.Errorf("storage: removing %s: %w", l.path(name), err)
			}
			dirty = true
			continue
		}
		segs = append(segs, found{name, first})
	}
	slices.SortFunc(segs, func(a, b found) int { return compareInt64(a.first, b.first) })

	var prevLast int64
	for i, s := range segs {
		isLast := i == len(segs)-1
		if !isLast && segs[i+1].first <= covered+1 && s.first > prevLast {
			seg, err := l.checkSegmentHeader(s.name, s.first)
			if err != nil {
				return err
			}
			seg.last = segs[i+1].first - 1
			l.segs = append(l.segs, seg)
			prevLast = seg.last
			continue
		}
		seg, f, keep, err := l.recoverSegment(s.name, s.first, prevLast, isLast)
		if err != nil {
			return err
		}
		if !keep {
			dirty = true
			continue
		}
		l.segs = append(l.segs, seg)
		prevLast = seg.last
		if f != nil {
			l.w = writerState{f: f, seg: seg, published: true}
			if l.w.alloc, err = f.Size(); err != nil {
				return fmt.Errorf("storage: %s: %w", l.path(s.name), err)
			}
		}
	}
	if dirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("storage: syncing log directory: %w", err)
		}
	}
	return l.openActive()
}

// openActive opens the last segment for writing if recovery did not.
func (l *Log) openActive() error {
	if l.w.f != nil || len(l.segs) == 0 {
		return nil
	}
	seg := l.segs[len(l.segs)-1]
	f, err := l.fs.OpenRW(l.path(seg.name))
	if err != nil {
		return fmt.Errorf("storage: opening %s: %w", l.path(seg.name), err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: %s: %w", l.path(seg.name), err)
	}
	if seg.bounds {
		// A segment recovery did not read becomes the one appended to
		// (TruncateAfter removed those after it): find its exact end.
		path := l.path(seg.name)
		sc, err := scanSegment(f, size, path, seg.first, 0, maxRecordSizeLimit, nil)
		if err == nil && (sc.tornAt >= 0 || sc.count == 0 || sc.last > seg.last) {
			err = corruptf(path, sc.end, "records end at zxid %#x (%d records, torn at %d), expected complete records up to %#x at most", sc.last, sc.count, sc.tornAt, seg.last)
		}
		if err != nil {
			f.Close()
			return err
		}
		seg.last, seg.end, seg.bounds = sc.last, sc.end, false
		l.mu.Lock()
		l.segs[len(l.segs)-1] = seg
		l.mu.Unlock()
	}
	l.w = writerState{f: f, seg: seg, alloc: size, published: true}
	return nil
}

// checkSegmentHeader validates the header of a segment recovery does not
// read (see OpenLogAfter); the segment's end is its file size.
func (l *Log) checkSegmentHeader(name string, first int64) (segment, error) {
	path := l.path(name)
	f, err := l.fs.Open(path)
	if err != nil {
		return segment{}, fmt.Errorf("storage: opening %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return segment{}, fmt.Errorf("storage: %s: %w", path, err)
	}
	if err := checkHeader(f, path, first); err != nil {
		return segment{}, err
	}
	return segment{name: name, first: first, end: size, bounds: true}, nil
}

// checkHeader validates a segment's header against the first zxid its file
// name gives.
func checkHeader(f vfs.File, path string, first int64) error {
	hdr := make([]byte, segmentHeaderSize)
	n, _ := f.ReadAt(hdr, 0)
	hfirst, herr := decodeSegmentHeader(hdr[:n])
	switch {
	case herr != nil:
		return corruptf(path, 0, "%v", herr)
	case hfirst != first:
		return corruptf(path, 8, "header says first zxid %#x, file name says %#x", hfirst, first)
	}
	return nil
}

// recoverSegment validates one segment. For the last segment it returns
// the file open read-write (after repairing a torn tail); keep is false
// when the segment was removed because it held no record.
func (l *Log) recoverSegment(name string, first, prevLast int64, isLast bool) (seg segment, _ vfs.File, keep bool, err error) {
	path := l.path(name)
	var f vfs.File
	if isLast {
		f, err = l.fs.OpenRW(path)
	} else {
		f, err = l.fs.Open(path)
	}
	if err != nil {
		return seg, nil, false, fmt.Errorf("storage: opening %s: %w", path, err)
	}
	closeF := true
	defer func() {
		if closeF {
			f.Close()
		}
	}()
	size, err := f.Size()
	if err != nil {
		return seg, nil, false, fmt.Errorf("storage: %s: %w", path, err)
	}
	if err := checkHeader(f, path, first); err != nil {
		return seg, nil, false, err
	}
	switch {
	case first <= prevLast:
		return seg, nil, false, corruptf(path, 8, "segment starts at zxid %#x, not after the previous segment's last %#x", first, prevLast)
	}
	sc, err := scanSegment(f, size, path, first, prevLast, maxRecordSizeLimit, nil)
	if err != nil {
		return seg, nil, false, err
	}
	if sc.tornAt >= 0 && !isLast {
		return seg, nil, false, corruptf(path, sc.tornAt, "%v (in a segment that is not the last)", sc.tornReason)
	}
	if sc.count == 0 {
		if !isLast {
			return seg, nil, false, corruptf(path, segmentHeaderSize, "segment holds no record")
		}
		// Crash after the segment was created, before its first record
		// was durable: nothing in it was ever acknowledged.
		l.logger.Warn("removing last segment: it holds no complete record", "file", path)
		f.Close()
		closeF = false
		if err := l.fs.Remove(path); err != nil {
			return seg, nil, false, fmt.Errorf("storage: removing %s: %w", path, err)
		}
		return seg, nil, false, nil
	}
	seg = segment{name: name, first: first, last: sc.last, end: sc.end}
	if sc.tornAt >= 0 {
		// A torn write at the tail of the last segment: it was never
		// acknowledged (acks follow the fsync). Erase it so that no stale
		// bytes can ever be mistaken for records, and make that durable.
		l.logger.Warn("truncating torn tail of the transaction log",
			"file", path, "offset", sc.tornAt, "reason", sc.tornReason, "last_zxid", fmt.Sprintf("%#x", sc.last))
		if err := eraseFrom(f, sc.end, size); err != nil {
			return seg, nil, false, fmt.Errorf("storage: truncating %s at %d: %w", path, sc.end, err)
		}
	}
	if !isLast {
		return seg, nil, true, nil
	}
	closeF = false
	return seg, f, true, nil
}

// eraseFrom cuts f at off, zero-fills it back to size and fsyncs.
func eraseFrom(f vfs.File, off, size int64) error {
	if err := f.Truncate(off); err != nil {
		return err
	}
	if size > off {
		if err := f.Preallocate(size); err != nil {
			return err
		}
	}
	return f.Sync()
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lastDurable is the zxid of the last durable record. l.mu held or no
// writer running.
func (l *Log) lastDurable() int64 {
	if len(l.segs) == 0 {
		return 0
	}
	return l.segs[len(l.segs)-1].last
}

// LastZxid returns the zxid of the last durable record, or 0 if the log is
// empty. Records still queued are not counted.
func (l *Log) LastZxid() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastDurable()
}

// LastAppended returns the zxid of the last record accepted by Append
// (durable or not), which the next Append must exceed.
func (l *Log) LastAppended() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastAppended
}

// FirstZxid returns the zxid of the first record in the log, or 0 if the
// log is empty.
func (l *Log) FirstZxid() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return 0
	}
	return l.segs[0].first
}

// Err returns the error that failed the log (matching ErrLogFailed), or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Stats returns counters of the writer's work.
func (l *Log) Stats() LogStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Segments = len(l.segs)
	return s
}

// Close waits for every queued operation, stops the writer and closes the
// files. Later calls return nil; later appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.exited
		return nil
	}
	l.closed = true
	req := &request{kind: reqClose, reply: make(chan error, 1)}
	l.queue = append(l.queue, req)
	l.cond.Signal()
	l.mu.Unlock()
	err := <-req.reply
	<-l.exited
	return err
}

// isNotExist reports whether err says a file is missing.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
