package storage

import (
	"fmt"
	"time"
)

type reqKind int

const (
	reqAppend reqKind = iota
	reqTruncate
	reqPurge
	reqClose
)

// request is one queued operation for the writer.
type request struct {
	kind  reqKind
	recs  []Record
	bytes int         // encoded size of recs
	done  func(error) // reqAppend
	zxid  int64       // reqTruncate, reqPurge
	reply chan error  // control requests
	n     int         // reqPurge: segments removed
}

// Append queues records for writing and returns at once. The zxids must be
// positive and strictly increasing, within recs and across calls (above
// LastAppended). If Append returns an error nothing was queued and done is
// never called. Otherwise done is called exactly once, from the writer
// goroutine, in the order of the Append calls: with nil once every record
// of recs (and of every earlier call) is durable, or with an error matching
// ErrLogFailed (or ErrClosed) if they may not be. done may be nil; it must
// not block for long: it delays every later batch. An empty recs is a barrier: done
// reports when everything appended before it is durable.
//
// The log keeps recs and their payloads until done is called; the caller
// must not modify them before.
func (l *Log) Append(recs []Record, done func(error)) error {
	size := 0
	for _, r := range recs {
		if len(r.Payload) > l.cfg.MaxRecordSize {
			return fmt.Errorf("%w: zxid %#x has %d bytes, limit %d", ErrRecordTooLarge, r.Zxid, len(r.Payload), l.cfg.MaxRecordSize)
		}
		size += frameSize(len(r.Payload))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.failed != nil:
		return l.failed
	}
	prev := l.lastAppended
	for _, r := range recs {
		if r.Zxid <= prev || r.Zxid <= 0 {
			return fmt.Errorf("%w: got %#x after %#x", ErrZxidOrder, r.Zxid, prev)
		}
		prev = r.Zxid
	}
	l.lastAppended = prev
	l.queue = append(l.queue, &request{kind: reqAppend, recs: recs, bytes: size, done: done})
	l.cond.Signal()
	return nil
}

// AppendSync appends recs and waits until they are durable.
func (l *Log) AppendSync(recs []Record) error {
	ch := make(chan error, 1)
	if err := l.Append(recs, func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}

// Flush returns once every record appended before the call is durable (or
// with the error that prevents it).
func (l *Log) Flush() error { return l.AppendSync(nil) }

// control queues a non-append request and waits for its reply.
func (l *Log) control(req *request, adjust func()) error {
	req.reply = make(chan error, 1)
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case l.failed != nil:
		err := l.failed
		l.mu.Unlock()
		return err
	}
	if adjust != nil {
		adjust()
	}
	l.queue = append(l.queue, req)
	l.cond.Signal()
	l.mu.Unlock()
	return <-req.reply
}

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.exited)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 {
			l.cond.Wait()
		}
		batch := l.takeBatch()
		failed := l.failed
		l.mu.Unlock()

		if batch[0].kind != reqAppend {
			req := batch[0]
			switch {
			case req.kind == reqClose:
				var err error
				if l.w.f != nil {
					err = l.w.f.Close()
					l.w.f = nil
				}
				req.reply <- err
				return
			case failed != nil:
				req.reply <- failed
			case req.kind == reqTruncate:
				req.reply <- l.doTruncate(req.zxid)
			case req.kind == reqPurge:
				req.reply <- l.doPurge(req)
			}
			continue
		}
		err := failed
		if err == nil {
			err = l.writeBatch(batch)
		}
		for _, req := range batch {
			if req.done != nil {
				req.done(err)
			}
		}
	}
}

// takeBatch removes from the queue either one control request or a run of
// appends of at most MaxBatchBytes (at least one). l.mu is held.
func (l *Log) takeBatch() []*request {
	if l.queue[0].kind != reqAppend {
		req := l.queue[0]
		l.queue = l.queue[1:]
		return []*request{req}
	}
	n, bytes := 0, 0
	for n < len(l.queue) && l.queue[n].kind == reqAppend {
		if n > 0 && bytes+l.queue[n].bytes > l.cfg.MaxBatchBytes {
			break
		}
		bytes += l.queue[n].bytes
		n++
	}
	batch := make([]*request, n)
	copy(batch, l.queue)
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	return batch
}

// fail makes the log fail-stop and returns the sticky error.
func (l *Log) fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrLogFailed, err)
		l.logger.Error("transaction log failed; no further writes are accepted", "error", err)
	}
	return l.failed
}

// writeBatch writes the records of a batch and makes them durable.
//
// Durability contract: a batch is reported durable (done(nil)) only after
// (1) every frame of it was written, (2) the segment file holding the tail
// was fsynced, and (3) any segment created for it was made durable
// (header fsynced, then renamed into place, then the directory fsynced)
// before records were written into it. Any error before that makes the
// whole batch, and the log, fail.
func (l *Log) writeBatch(batch []*request) error {
	w := &l.w
	w.buf = w.buf[:0]
	records := 0
	for _, req := range batch {
		for _, r := range req.recs {
			if w.f == nil || w.seg.end+int64(len(w.buf)) >= l.cfg.SegmentSize {
				if err := l.roll(r.Zxid); err != nil {
					return l.fail(err)
				}
			}
			w.buf = appendFrame(w.buf, r)
			w.seg.last = r.Zxid
			records++
		}
	}
	if err := l.flush(); err != nil {
		return l.fail(err)
	}
	if records > 0 {
		start := time.Now()
		if err := w.f.Sync(); err != nil {
			return l.fail(fmt.Errorf("fsync %s: %w", w.f.Name(), err))
		}
		if l.cfg.OnSync != nil {
			l.cfg.OnSync(time.Since(start))
		}
	}
	l.mu.Lock()
	l.publishLocked()
	l.stats.Records += int64(records)
	l.stats.Batches++
	if records > 0 {
		l.stats.Syncs++
	}
	l.mu.Unlock()
	return nil
}

// flush writes the buffered frames at the end of the last segment, growing
// the preallocated space first when they would not fit.
func (l *Log) flush() error {
	w := &l.w
	if len(w.buf) == 0 {
		return nil
	}
	end := w.seg.end + int64(len(w.buf))
	if end > w.alloc && l.cfg.Preallocate > 0 {
		want := max(end, w.alloc+l.cfg.Preallocate)
		if w.alloc >= l.cfg.SegmentSize {
			// The segment is full and this batch is its last: reserve
			// only what it needs (this used to double 64 MiB segments).
			want = end
		}
		if err := w.f.Preallocate(want); err != nil {
			return fmt.Errorf("preallocating %s: %w", w.f.Name(), err)
		}
		w.alloc = want
	}
	n, err := w.f.WriteAt(w.buf, w.seg.end)
	if err == nil && n != len(w.buf) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(w.buf))
	}
	if err != nil {
		return fmt.Errorf("writing %s at %d: %w", w.f.Name(), w.seg.end, err)
	}
	w.seg.end = end
	w.alloc = max(w.alloc, end)
	w.buf = w.buf[:0]
	return nil
}

// publishLocked copies the writer's view of the last segment into the
// durable view. Call only when everything written is fsynced. l.mu held.
func (l *Log) publishLocked() {
	w := &l.w
	if w.f == nil || w.seg.last == 0 {
		return
	}
	if w.published {
		l.segs[len(l.segs)-1] = w.seg
	} else {
		l.segs = append(l.segs, w.seg)
		w.published = true
	}
}

// roll finishes the current segment (flush, fsync, publish, close) and
// starts a new one whose first record will be first.
//
// A new segment is created as "log.<hex>.tmp", gets its header and its
// preallocated space, is fsynced, renamed to "log.<hex>" and the directory
// is fsynced. So a segment file under its final name always has a durable
// valid header, and recovery deletes leftover .tmp files.
func (l *Log) roll(first int64) error {
	w := &l.w
	if w.f != nil {
		if err := l.flush(); err != nil {
			return err
		}
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", w.f.Name(), err)
		}
		l.mu.Lock()
		l.publishLocked()
		l.stats.Syncs++
		l.mu.Unlock()
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", w.f.Name(), err)
		}
		w.f = nil
	}
	name := segmentName(first)
	tmp := l.path(name + tmpSuffix)
	f, err := l.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating segment: %w", err)
	}
	if err := initSegment(f, first, l.cfg.Preallocate); err != nil {
		f.Close()
		return fmt.Errorf("initializing %s: %w", tmp, err)
	}
	if err := l.fs.Rename(tmp, l.path(name)); err != nil {
		f.Close()
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		return fmt.Errorf("syncing log directory: %w", err)
	}
	alloc := max(int64(segmentHeaderSize), l.cfg.Preallocate)
	*w = writerState{f: f, seg: segment{name: name, first: first, end: segmentHeaderSize}, alloc: alloc, buf: w.buf}
	l.mu.Lock()
	l.stats.Syncs++
	l.mu.Unlock()
	l.logger.Debug("new segment", "file", l.path(name))
	return nil
}

// initSegment writes the header, preallocates and fsyncs.
func initSegment(f interface {
	WriteAt([]byte, int64) (int, error)
	Preallocate(int64) error
	Sync() error
}, first, prealloc int64) error {
	hdr := encodeSegmentHeader(first)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return err
	}
	if prealloc > int64(len(hdr)) {
		if err := f.Preallocate(prealloc); err != nil {
			return err
		}
	}
	return f.Sync()
}
