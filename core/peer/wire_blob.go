package peer

import (
	"errors"
	"fmt"
	"io"

	"github.com/zoogate/zoogate/core/zab"
)

// msgReader decodes the frames that follow the hello into messages: a
// message frame as it is; a blob header with its chunks as one message
// whose Blob is the spooled copy, returned once the whole blob is spooled.
type msgReader struct {
	fr      frameReader // fr.max bounds message frames and blob headers
	maxBlob int64       // largest blob accepted
	spool   spooler
	// check vets every decoded message, a blob's before its chunks are
	// read; nil: none.
	check func(*zab.Message) error
	at    int64 // offset of the frame last started, for error reports
	buf   []byte
}

// spooler makes the files received blobs are written to.
type spooler interface {
	create() (spoolFile, error)
}

// spoolFile receives one blob. Exactly one of commit and discard is called.
type spoolFile interface {
	io.Writer
	// commit ends the file, checks that it holds size bytes and returns
	// the Blob to deliver.
	commit(size int64) (zab.Blob, error)
	// discard drops the file.
	discard()
}

// next returns the next message. io.EOF means the stream ended cleanly
// between messages; any other error means the stream is unusable.
func (r *msgReader) next() (zab.Message, error) {
	r.at = r.fr.off
	n, ctl, err := r.fr.head()
	if err != nil {
		return zab.Message{}, err
	}
	if !ctl {
		body, err := r.fr.body(n, r.fr.max)
		if err != nil {
			return zab.Message{}, err
		}
		m, err := zab.Unmarshal(body)
		if err != nil {
			return zab.Message{}, fmt.Errorf("%w: %w", ErrBadFrame, err)
		}
		return m, r.vet(&m)
	}
	kind, n, err := r.kind(n)
	if err != nil {
		return zab.Message{}, err
	}
	switch kind {
	case ctlBlobHeader:
		body, err := r.fr.body(n, r.fr.max)
		if err != nil {
			return zab.Message{}, err
		}
		m, size, err := decodeBlobHeader(body)
		if err == nil {
			err = r.vet(&m)
		}
		if err == nil && size > r.maxBlob {
			err = fmt.Errorf("%w: a %s with a blob of %d bytes, at most %d", ErrSnapshotTooLarge, m.Type, size, r.maxBlob)
		}
		if err != nil {
			return zab.Message{}, err
		}
		return r.receiveBlob(m, size)
	case ctlBlobAbort: // the sender could not open the blob it was to send
		return zab.Message{}, r.aborted(n, "before its header")
	case ctlBlobChunk:
		return zab.Message{}, fmt.Errorf("%w: a blob chunk with no blob in progress", ErrBadFrame)
	}
	return zab.Message{}, fmt.Errorf("%w: unknown control frame kind %d", ErrBadFrame, kind)
}

func (r *msgReader) vet(m *zab.Message) error {
	if r.check == nil {
		return nil
	}
	return r.check(m)
}

// kind reads the kind byte of a control frame whose body has n bytes;
// rest is the body's length after it.
func (r *msgReader) kind(n int) (kind byte, rest int, err error) {
	if n == 0 {
		return 0, 0, ErrEmptyFrame
	}
	var k [1]byte
	if _, err := io.ReadFull(r.fr.r, k[:]); err != nil {
		return 0, 0, fmt.Errorf("control frame cut before its kind: %w", unexpected(err))
	}
	r.fr.off++
	return k[0], n - 1, nil
}

// receiveBlob spools the size bytes of chunks that follow m's header and
// returns m with the spooled Blob.
func (r *msgReader) receiveBlob(m zab.Message, size int64) (zab.Message, error) {
	w, err := r.spool.create()
	if err != nil {
		return zab.Message{}, err
	}
	fail := func(err error) (zab.Message, error) {
		w.discard()
		return zab.Message{}, err
	}
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	for got := int64(0); got < size; {
		r.at = r.fr.off
		n, ctl, err := r.fr.head()
		if err != nil {
			return fail(fmt.Errorf("blob cut after %d of %d bytes: %w", got, size, unexpected(err)))
		}
		if !ctl {
			return fail(fmt.Errorf("%w: a message frame inside a blob (%d of %d bytes received)", ErrBadFrame, got, size))
		}
		kind, n, err := r.kind(n)
		if err != nil {
			return fail(err)
		}
		switch kind {
		case ctlBlobChunk:
			if n == 0 || n > MaxSnapshotChunkSize || int64(n) > size-got {
				return fail(fmt.Errorf("%w: a chunk of %d bytes with %d of %d bytes received", ErrBadFrame, n, got, size))
			}
			k, err := io.CopyBuffer(w, io.LimitReader(r.fr.r, int64(n)), r.buf)
			r.fr.off += k
			got += k
			if err == nil && k < int64(n) {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return fail(fmt.Errorf("blob cut after %d of %d bytes: %w", got, size, err))
			}
		case ctlBlobAbort:
			return fail(r.aborted(n, fmt.Sprintf("after %d of %d bytes", got, size)))
		default:
			return fail(fmt.Errorf("%w: control frame of kind %d inside a blob", ErrBadFrame, kind))
		}
	}
	blob, err := w.commit(size)
	if err != nil {
		return zab.Message{}, err
	}
	m.Blob = blob
	return m, nil
}

// aborted reads an abort frame's reason (n bytes) and returns the error
// to end the stream with.
func (r *msgReader) aborted(n int, when string) error {
	var reason []byte
	if n > 0 {
		var err error
		if reason, err = r.fr.body(n, maxAbortReason); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w %s: %q", ErrBlobAborted, when, reason)
}

// unexpected turns an end of stream in the middle of a frame into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeBlob writes m's blob header frame, then m.Blob's bytes in chunk
// frames of at most chunkSize bytes, read one chunk at a time: the blob is
// never in memory whole. A problem with the blob itself (it cannot be
// opened or read, or its length is not its Size) is returned wrapped in
// ErrBlobRead, and then the receiver has not been sent the whole blob: the
// caller may write an abort frame and must end the stream. Any other error
// is w's, or ErrFrameTooLarge for a header above maxFrame.
func writeBlob(w io.Writer, m zab.Message, maxFrame, chunkSize int) error {
	size := m.Blob.Size()
	if size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrBlobRead, size)
	}
	hdr := appendBlobHeader(nil, m, size)
	if len(hdr)-4 > maxFrame {
		return fmt.Errorf("%w: a %s blob header of %d bytes, at most %d", ErrFrameTooLarge, m.Type, len(hdr)-4, maxFrame)
	}
	rc, err := m.Blob.Open()
	if err != nil {
		return fmt.Errorf("%w: opening: %w", ErrBlobRead, err)
	}
	defer rc.Close()
	// buf: a chunk frame's length word and kind, the chunk, and one more
	// byte to check that the blob ends where its Size says.
	buf := make([]byte, 5+int(min(int64(chunkSize), size))+1)
	if size == 0 {
		if err := checkBlobEnd(rc, buf[:1], size); err != nil {
			return err
		}
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for sent := int64(0); sent < size; {
		n := int(min(int64(chunkSize), size-sent))
		k, err := io.ReadFull(rc, buf[5:5+n])
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: it ended after %d of its %d bytes", ErrBlobRead, sent+int64(k), size)
			}
			return fmt.Errorf("%w: after %d of %d bytes: %w", ErrBlobRead, sent+int64(k), size, err)
		}
		if sent+int64(n) == size { // the last chunk: is it the end?
			if err := checkBlobEnd(rc, buf[5+n:5+n+1], size); err != nil {
				return err
			}
		}
		appendCtlHeader(buf[:0], 1+n, ctlBlobChunk)
		if _, err := w.Write(buf[:5+n]); err != nil {
			return err
		}
		sent += int64(n)
	}
	return nil
}

// checkBlobEnd checks that r, which has given size bytes, has no more.
func checkBlobEnd(r io.Reader, one []byte, size int64) error {
	k, err := io.ReadFull(r, one)
	switch {
	case k > 0:
		return fmt.Errorf("%w: longer than its Size, %d bytes", ErrBlobRead, size)
	case errors.Is(err, io.EOF):
		return nil
	}
	return fmt.Errorf("%w: after its %d bytes: %w", ErrBlobRead, size, err)
}
