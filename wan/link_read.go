package wan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/quic-go/quic-go"
)

// readLane delivers the frames of one lane to the inbox until the stream
// ends. On the ordered lane a blob header waits for its blob to be spooled
// and is delivered with it. When the peer has ended both lanes (a graceful
// close), the stream ends: Broken, and the connection is closed.
func (l *link) readLane(lane Lane) {
	t := l.t
	defer t.wg.Done()
	s := l.ord
	if lane == LaneRequests {
		s = l.req
	}
	br := bufio.NewReaderSize(heardReader{s, l}, 64<<10)
	if l.peerCompressed[lane] {
		br = bufio.NewReaderSize(inflater{flate.NewReader(br)}, 64<<10)
	}
	fr := &frameReader{r: br, max: t.cfg.MaxFrameSize}
	code, reason, err := l.readLoop(lane, fr)
	t.mu.Lock()
	defer t.mu.Unlock()
	defer l.finishL()
	if errors.Is(err, io.EOF) {
		if l.eofs++; l.eofs < 2 {
			return // the other lane is still being read
		}
		t.breakL(l, codeClosed, "the peer closed the stream", nil)
		return
	}
	t.breakL(l, code, reason, err)
}

// readLoop returns why reading ended: io.EOF for a clean end of the lane.
func (l *link) readLoop(lane Lane, fr *frameReader) (code quic.ApplicationErrorCode, reason string, err error) {
	t := l.t
	for {
		f, err := fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return codeClosed, "", io.EOF
			}
			return l.readFailed(lane, fr, err)
		}
		if f.Kind == kindHeartbeat {
			if lane != LaneOrdered {
				return l.readFailed(lane, fr, fmt.Errorf("%w: a heartbeat on the %s lane", ErrBadFrame, lane))
			}
			continue
		}
		ev := Event{From: l.p.id, Lane: lane, Frame: f.Payload}
		t.mu.Lock()
		if f.Kind == kindBlob {
			if err := l.takeBlobL(lane, f, &ev); err != nil {
				t.mu.Unlock()
				return l.readFailed(lane, fr, err)
			}
		}
		if !l.dead && !l.closing && t.in.full() {
			// Waiting for the driver is not silence from the peer.
			l.inboxWaits++
			for !l.dead && !l.closing && t.in.full() {
				t.in.space.Wait()
			}
			l.inboxWaits--
			l.heard.Store(time.Now().UnixNano())
		}
		dead, push := l.dead, !l.dead && !l.closing // a stream this server closed discards what comes in
		if push {
			t.in.pushFrame(ev)
		}
		t.mu.Unlock()
		if !push {
			ev.Blob.remove()
		}
		if dead {
			return codeClosed, "stream ended", nil
		}
	}
}

// takeBlobL waits until the blob of header frame f is spooled and sets it
// in ev (nothing on a closing link: the frame is discarded anyway).
func (l *link) takeBlobL(lane Lane, f frame, ev *Event) error {
	t := l.t
	if lane != LaneOrdered {
		return fmt.Errorf("%w: a blob header on the %s lane", ErrBadFrame, lane)
	}
	if f.BlobID != l.lastHdr+1 {
		return fmt.Errorf("%w: blob header %d after %d", ErrBadFrame, f.BlobID, l.lastHdr)
	}
	if f.Size > t.cfg.MaxBlobSize {
		return fmt.Errorf("%w: blob %d of %d bytes, MaxBlobSize is %d", ErrBlobTooLarge, f.BlobID, f.Size, t.cfg.MaxBlobSize)
	}
	l.lastHdr = f.BlobID
	for !l.dead && !l.closing && l.rblobs[f.BlobID] == nil {
		l.rcond.Wait()
	}
	b := l.rblobs[f.BlobID]
	if b == nil {
		return nil // dead or closing: readLoop discards the frame
	}
	delete(l.rblobs, f.BlobID)
	l.rcond.Broadcast() // the receiver may spool the next one
	if b.size != f.Size {
		b.remove()
		return fmt.Errorf("%w: blob %d: the header says %d bytes, its stream %d", ErrBadFrame, f.BlobID, f.Size, b.size)
	}
	ev.Blob = b
	return nil
}

// receiveBlobs accepts the peer's blob streams and spools them, one at a
// time and at most one ahead of the ordered reader.
func (l *link) receiveBlobs() {
	t := l.t
	defer t.wg.Done()
	var code quic.ApplicationErrorCode
	var reason string
	var err error
	for {
		t.mu.Lock()
		for !l.dead && len(l.rblobs) > 0 {
			l.rcond.Wait()
		}
		dead := l.dead
		t.mu.Unlock()
		if dead {
			break
		}
		s, aerr := l.conn.AcceptUniStream(l.conn.Context())
		if aerr != nil {
			// The connection ended (a lane reader usually reports it
			// first; not if both lanes already ended or wait for a blob).
			if cause := context.Cause(l.conn.Context()); cause != nil {
				aerr = cause
			}
			code, reason, err = l.readFailed(0, nil, aerr)
			break
		}
		if code, reason, err = l.receiveBlob(s); reason != "" {
			break
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer l.finishL()
	if reason != "" {
		t.breakL(l, code, reason, err)
	}
}

func (l *link) receiveBlob(s *quic.ReceiveStream) (quic.ApplicationErrorCode, string, error) {
	t := l.t
	t.mu.Lock()
	closing := l.closing
	t.mu.Unlock()
	if closing {
		s.CancelRead(streamDiscarded)
		return 0, "", nil
	}
	id, size, err := readBlobPreamble(s)
	if err == nil && id != l.lastRecv+1 {
		err = fmt.Errorf("%w: blob stream %d after %d", ErrBadFrame, id, l.lastRecv)
	}
	if err == nil && size > t.cfg.MaxBlobSize {
		err = fmt.Errorf("%w: blob %d of %d bytes, MaxBlobSize is %d", ErrBlobTooLarge, id, size, t.cfg.MaxBlobSize)
	}
	var b *SpoolBlob
	if err == nil {
		b, err = t.spool.receive(heardReader{s, l}, size)
	}
	if err != nil {
		s.CancelRead(streamDiscarded)
		if se, ok := errors.AsType[*quic.StreamError](err); ok && se.Remote && se.ErrorCode == streamBlobAborted {
			return codeBroken, "the peer aborted a blob", fmt.Errorf("%w: blob %d", ErrBlobAborted, id)
		}
		return l.readFailed(0, nil, err)
	}
	l.lastRecv = id
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.dead || l.closing {
		b.remove()
	} else {
		l.rblobs[id] = b
		l.rcond.Broadcast()
	}
	return 0, "", nil
}

// readFailed classifies why reading ended, logs a protocol error, and
// returns breakL's code and reason.
func (l *link) readFailed(lane Lane, fr *frameReader, err error) (quic.ApplicationErrorCode, string, error) {
	where := "a blob stream"
	var at int64
	if fr != nil {
		where, at = fmt.Sprintf("the %s lane", lane), fr.at
	}
	if ae, ok := errors.AsType[*quic.ApplicationError](err); ok {
		if !ae.Remote {
			return codeClosed, "connection closed", nil
		}
		switch ae.ErrorCode {
		case codeClosed:
			return codeClosed, "the peer closed the connection", nil
		case codeShutdown:
			return codeClosed, "the peer is shutting down", nil
		case codeReplaced:
			return codeClosed, "the peer replaced the connection", nil
		case codeBlobRead:
			return codeClosed, "the peer could not read a blob it was sending", fmt.Errorf("%w: %s", ErrBlobAborted, ae.ErrorMessage)
		}
		return codeClosed, "the peer broke the stream", err
	}
	if _, ok := errors.AsType[*quic.IdleTimeoutError](err); ok {
		return codeClosed, "idle timeout: nothing received for IdleTimeout", nil
	}
	if _, ok := errors.AsType[*quic.StatelessResetError](err); ok {
		return codeClosed, "the peer restarted (stateless reset)", nil
	}
	switch {
	case errors.Is(err, ErrSpool):
		l.t.log.Error("cannot spool a received blob, breaking the stream", "peer", l.p.id, "dir", l.t.spool.dir, "error", err)
		return codeBroken, "spooling a blob failed", err
	case errors.Is(err, ErrBadFrame), errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrBlobTooLarge):
		l.t.log.Error("bad frame, breaking the stream", "peer", l.p.id, "in", where, "offset", at, "error", err)
		return codeBroken, fmt.Sprintf("bad frame in %s at offset %d", where, at), err
	}
	return codeBroken, fmt.Sprintf("reading %s failed", where), err
}

// heardReader records in its link when bytes last arrived.
type heardReader struct {
	r io.Reader
	l *link
}

func (h heardReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.l.heard.Store(time.Now().UnixNano())
	}
	return n, err
}

// inflater turns deflate's errors about its input into ErrBadFrame (the
// peer sent a corrupt stream); errors of the QUIC stream under it pass
// through unchanged.
type inflater struct{ r io.Reader }

func (i inflater) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		err = fmt.Errorf("%w: corrupt deflate stream: %v", ErrBadFrame, err)
	}
	return n, err
}
