package peer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// link is one stream with a peer: a send queue and, once it has come up,
// the connection that carries it. Fields are guarded by TCP.mu.
type link struct {
	t    *TCP
	p    *tpeer
	conn net.Conn // nil until a connection is attached (plain or *tlsConn)
	off  int64    // bytes of the stream the handshake read (decrypted, on TLS)

	queue  []zab.Message
	qbytes int // bytes queued and not yet written (including a batch being written)

	closing bool // graceful close asked by this server: no Broken for it
	dead    bool
	// blobErr, once set, is why the stream is ending (a blob to send
	// could not be read), whichever goroutine ends it.
	blobErr error
	running int           // reader and writer goroutines still running
	done    chan struct{} // closed once dead with no goroutine left
	timer   *time.Timer   // ConnectWait, while no connection is attached
	wcond   *sync.Cond
}

// newLinkL starts a stream that waits for a connection.
func (t *TCP) newLinkL(p *tpeer) *link {
	l := &link{t: t, p: p, done: make(chan struct{}), wcond: sync.NewCond(&t.mu)}
	p.links = append(p.links, l)
	l.timer = time.AfterFunc(t.cfg.ConnectWait, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.closed && !l.dead && l.conn == nil {
			t.breakL(l, fmt.Sprintf("no connection within %v", t.cfg.ConnectWait), nil)
		}
	})
	return l
}

// attachL gives conn, whose handshake is done, to the oldest stream with p
// (or a new one) and starts its reader and writer.
// off is the number of bytes the handshake read, so that offsets in
// logs are offsets in the connection's byte stream.
func (t *TCP) attachL(p *tpeer, conn net.Conn, off int64) {
	l := p.head()
	if l == nil || l.conn != nil {
		l = t.newLinkL(p)
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.conn = conn
	l.off = off
	l.running = 2
	t.wg.Add(2)
	go l.read()
	go l.write()
	t.log.Debug("stream up", "peer", p.id, "remote", conn.RemoteAddr().String(), "queued", len(l.queue))
}

// killL marks l dead, closes its connection and drops its queue.
func (t *TCP) killL(l *link) {
	if l.dead {
		return
	}
	l.dead = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.queue, l.qbytes = nil, 0
	if l.conn != nil {
		l.conn.Close()
	} else {
		close(l.done)
	}
	l.wcond.Broadcast()
	t.in.space.Broadcast()
}

// breakL ends l. Unless this server closed it (closing), the driver is owed
// a Broken event, queued now so that it precedes every message of a later
// stream with the peer.
func (t *TCP) breakL(l *link, reason string, err error) {
	if l.dead || t.closed {
		return
	}
	if l.blobErr != nil { // the peer may have reacted to the abort first
		reason, err = "reading a blob to send failed", l.blobErr
	}
	t.killL(l)
	l.p.links = slices.DeleteFunc(l.p.links, func(x *link) bool { return x == l })
	if l.closing {
		t.log.Debug("stream closed", "peer", l.p.id, "reason", reason, "error", err)
		return
	}
	if err != nil {
		t.log.Warn("stream broken", "peer", l.p.id, "reason", reason, "error", err)
	} else {
		t.log.Info("stream broken", "peer", l.p.id, "reason", reason)
	}
	t.in.owe(l.p.id)
	t.in.pushBroken(l.p.id)
}

// finishL records the exit of one of l's goroutines.
func (l *link) finishL() {
	l.running--
	if l.running == 0 {
		close(l.done)
	}
}

// read delivers l's messages to the inbox until the connection ends.
func (l *link) read() {
	t := l.t
	defer t.wg.Done()
	r := &msgReader{
		fr:      frameReader{r: bufio.NewReaderSize(l.conn, 64<<10), max: t.cfg.MaxFrameSize, off: l.off},
		maxBlob: t.cfg.MaxSnapshotSize,
		spool:   t.spool,
		check: func(m *zab.Message) error {
			if m.From != l.p.id || (m.To != 0 && m.To != t.cfg.ID) {
				return fmt.Errorf("%w: message %d->%d on the stream with %d", ErrUnexpectedSender, m.From, m.To, l.p.id)
			}
			return nil
		},
	}
	reason, err := l.readLoop(r)
	t.mu.Lock()
	t.breakL(l, reason, err)
	l.finishL()
	t.mu.Unlock()
}

func (l *link) readLoop(r *msgReader) (string, error) {
	t := l.t
	for {
		m, err := r.next()
		if err != nil {
			return l.readFailed(r, err)
		}
		t.mu.Lock()
		for !l.dead && !l.closing && t.in.full() {
			t.in.space.Wait()
		}
		dead, push := l.dead, !l.dead && !l.closing // a stream this server closed discards what comes in
		if push {
			t.in.pushMsg(m)
		}
		t.mu.Unlock()
		if !push {
			removeBlob(&m)
		}
		if dead {
			return "stream ended", nil
		}
	}
}

// readFailed logs why reading ended and returns breakL's reason.
func (l *link) readFailed(r *msgReader, err error) (string, error) {
	log := l.t.log.With("peer", l.p.id, "offset", r.at, "error", err)
	switch {
	case errors.Is(err, io.EOF):
		return "the peer closed the connection", nil
	case isClosedErr(err):
		return "connection closed", nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "read deadline (replaced or lingering)", nil
	case errors.Is(err, ErrSpool):
		log.Error("cannot spool a received blob, breaking the stream", "dir", l.t.spool.dir)
		return "spooling a blob failed", err
	case errors.Is(err, ErrBlobAborted):
		log.Warn("the peer aborted the blob it was sending, breaking the stream")
		return "the peer aborted a blob", err
	case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrEmptyFrame), errors.Is(err, ErrBadFrame),
		errors.Is(err, ErrUnexpectedSender), errors.Is(err, ErrSnapshotTooLarge):
		log.Error("bad frame, breaking the stream")
		return fmt.Sprintf("bad frame at offset %d", r.at), err
	}
	log.Warn("read failed, breaking the stream")
	return fmt.Sprintf("read failed in the frame at offset %d", r.at), err
}

// write sends l's queue, then, if l is closing, half-closes the connection
// and lets the reader wait for the peer's end.
func (l *link) write() {
	t := l.t
	defer t.wg.Done()
	bw := bufio.NewWriterSize(&deadlineWriter{c: l.conn, timeout: t.cfg.WriteTimeout}, 64<<10)
	var buf []byte
	var spare []zab.Message // the previous batch's array, reused for the queue
	t.mu.Lock()
	defer t.mu.Unlock()
	defer l.finishL()
	for {
		for !l.dead && !l.closing && len(l.queue) == 0 {
			l.wcond.Wait()
		}
		if l.dead {
			return
		}
		if len(l.queue) == 0 { // closing, and everything was written
			conn := l.conn
			t.mu.Unlock()
			err := halfClose(conn)
			if err == nil {
				err = conn.SetReadDeadline(time.Now().Add(t.cfg.CloseLinger))
			}
			t.mu.Lock()
			if err != nil {
				t.breakL(l, "half-close failed", err)
			}
			return
		}
		batch, bytes := l.queue, 0
		l.queue = spare[:0]
		t.mu.Unlock()
		var err error
		for _, m := range batch {
			bytes += msgSize(&m)
			if err != nil {
				continue
			}
			if m.Blob != nil {
				// Read lazily, now that it is its turn, a chunk at a time.
				if err = writeBlob(bw, m, t.cfg.MaxFrameSize, t.cfg.SnapshotChunkSize); errors.Is(err, ErrBlobRead) {
					t.mu.Lock()
					l.blobErr = err
					t.mu.Unlock()
					bw.Write(appendAbort(nil, err.Error())) // best effort: the stream ends anyway
					bw.Flush()
				}
				continue
			}
			buf = zab.AppendMarshal(buf[:0], m)
			if len(buf) > t.cfg.MaxFrameSize {
				err = fmt.Errorf("%w: a %s of %d bytes, at most %d", ErrFrameTooLarge, m.Type, len(buf), t.cfg.MaxFrameSize)
				continue
			}
			var hdr [4]byte
			if _, err = bw.Write(appendFrameHeader(hdr[:0], len(buf))); err == nil {
				_, err = bw.Write(buf)
			}
			if cap(buf) > readChunk {
				buf = nil
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		clear(batch) // drop the payloads for the GC
		spare = batch
		t.mu.Lock()
		l.qbytes -= bytes
		if err != nil {
			t.breakL(l, "write failed", err) // or blobErr's reason
			return
		}
	}
}

// deadlineWriter gives every chunk written its own write deadline, so that
// WriteTimeout bounds a lack of progress, not the time a large frame takes.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), readChunk)]
		if err := w.c.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return n, err
		}
		k, err := w.c.Write(chunk)
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func halfClose(c net.Conn) error {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
