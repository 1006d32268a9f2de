package wan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/quic-go/quic-go"
)

// Stream priorities (RFC 9218 urgency, lower first): the lanes before the
// bulk bytes of blobs, so a snapshot in flight never delays the protocol
// or the requests on the same connection.
const (
	laneUrgency = 2
	blobUrgency = 5
	blobBuffer  = 256 << 10
)

// writeLane sends the queue of one lane; for the ordered lane it writes
// blob headers and hands the blobs to sendBlobs. When the link is closing
// and the queue is empty it ends its QUIC stream (FIN).
func (l *link) writeLane(lane Lane) {
	t := l.t
	defer t.wg.Done()
	s := l.ord
	if lane == LaneRequests {
		s = l.req
	}
	bw := bufio.NewWriterSize(s, 64<<10)
	var w io.Writer = bw
	var fw *flate.Writer
	if t.cfg.Compress {
		// Level 1 of klauspost/compress: per small flushed frame it saves
		// as much as the standard library's level 9 (the repeats are in the
		// headers of successive frames), in 12 µs where compress/flate
		// takes 31 (it rebuilds Huffman tables on every flush).
		fw, _ = flate.NewWriter(bw, 1)
		w = fw
	}
	var buf []byte
	var spare []outItem // the previous batch's array, reused for the queue
	var nextID uint64   // blob ids, from 1 (ordered lane only)
	t.mu.Lock()
	defer t.mu.Unlock()
	defer l.finishL()
	queue := func() *[]outItem {
		if lane == LaneOrdered {
			return &l.ordQ
		}
		return &l.reqQ
	}
	for {
		for !l.dead && !l.closing && len(*queue()) == 0 {
			l.wcond.Wait()
		}
		if l.dead {
			return
		}
		if len(*queue()) == 0 { // closing, and everything was written
			if lane == LaneOrdered {
				l.ordDone = true
				l.wcond.Broadcast()
			}
			t.mu.Unlock()
			var err error
			if fw != nil {
				if err = fw.Close(); err == nil { // the final block: a clean end
					err = bw.Flush()
				}
			}
			if err == nil {
				err = s.Close()
			}
			t.mu.Lock()
			if err != nil {
				t.breakL(l, codeBroken, "ending a lane stream failed", err)
				return
			}
			l.finishedWritingL()
			return
		}
		batch, bytes := *queue(), 0
		*queue() = spare[:0]
		t.mu.Unlock()
		var err error
		var blobs []outItem
		for i := range batch {
			it := &batch[i]
			bytes += len(it.data) + 48
			if err != nil {
				continue
			}
			// The header, then the payload: bufio passes a large payload
			// straight through instead of copying it.
			if it.beat {
				_, err = w.Write(heartbeatFrame)
				continue
			}
			if it.blob != nil {
				nextID++
				it.id = nextID
				buf = appendBlobHeader(buf[:0], it.id, it.blob.Size(), len(it.data))
				blobs = append(blobs, *it)
			} else {
				buf = appendDataHeader(buf[:0], len(it.data))
			}
			if _, err = w.Write(buf); err == nil {
				_, err = w.Write(it.data)
			}
		}
		if err == nil && fw != nil {
			err = fw.Flush()
		}
		if err == nil {
			err = bw.Flush()
		}
		clear(batch) // drop the payloads for the GC
		spare = batch
		t.mu.Lock()
		l.qbytes -= bytes
		if lane == LaneOrdered {
			l.wrote = time.Now()
		}
		if err != nil {
			t.breakL(l, codeBroken, fmt.Sprintf("writing the %s lane failed", lane), err)
			return
		}
		if len(blobs) > 0 && !l.dead {
			l.blobs = append(l.blobs, blobs...)
			l.wcond.Broadcast()
		}
	}
}

// sendBlobs sends the blobs whose headers were written, one at a time, each
// on a unidirectional stream of its own.
func (l *link) sendBlobs() {
	t := l.t
	defer t.wg.Done()
	t.mu.Lock()
	defer t.mu.Unlock()
	defer l.finishL()
	for {
		for !l.dead && len(l.blobs) == 0 && !(l.closing && l.ordDone) {
			l.wcond.Wait()
		}
		if l.dead {
			return
		}
		if len(l.blobs) == 0 { // closing, and the ordered lane has ended
			l.finishedWritingL()
			return
		}
		it := l.blobs[0]
		l.blobs[0] = outItem{}
		l.blobs = l.blobs[1:]
		t.mu.Unlock()
		err := l.sendBlob(it)
		t.mu.Lock()
		if err != nil {
			if errors.Is(err, ErrBlobRead) {
				t.log.Error("cannot read a blob to send: breaking the stream", "peer", l.p.id, "blob", it.id, "error", err)
				t.breakL(l, codeBlobRead, "reading a blob to send failed", err)
			} else {
				t.breakL(l, codeBroken, "sending a blob failed", err)
			}
			return
		}
	}
}

// sendBlob opens a stream, writes the preamble and exactly Size bytes of
// the blob, and ends the stream. A blob that cannot be read, or whose
// length is not its Size, resets the stream and returns ErrBlobRead.
func (l *link) sendBlob(it outItem) error {
	s, err := l.conn.OpenUniStreamSync(l.conn.Context())
	if err != nil {
		return err
	}
	s.SetPriority(blobUrgency, true)
	size := it.blob.Size()
	abort := func(err error) error {
		s.CancelWrite(streamBlobAborted)
		return fmt.Errorf("%w: blob %d: %w", ErrBlobRead, it.id, err)
	}
	rc, err := it.blob.Open()
	if err != nil {
		return abort(err)
	}
	defer rc.Close()
	if _, err := s.Write(appendBlobPreamble(nil, it.id, size)); err != nil {
		return err
	}
	n, err := io.CopyBuffer(writerOnly{s}, &errReader{r: io.LimitReader(rc, size)}, make([]byte, blobBuffer))
	var re *readErr
	switch {
	case errors.As(err, &re):
		return abort(re.err)
	case err != nil:
		return err
	case n < size:
		return abort(fmt.Errorf("it ended after %d of its %d bytes", n, size))
	}
	var one [1]byte
	if k, err := rc.Read(one[:]); k > 0 || (err != nil && err != io.EOF) {
		if err == nil || k > 0 {
			err = fmt.Errorf("it is longer than its Size %d", size)
		}
		return abort(err)
	}
	return s.Close()
}

// writerOnly hides a stream's ReadFrom, if any, from io.CopyBuffer so the
// copy uses our buffer (and errReader sees every read).
type writerOnly struct{ w *quic.SendStream }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
