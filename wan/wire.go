package wan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire format (integers big-endian; constants append-only). See
// docs/wan.md for the whole protocol.
//
// Hello: the first bytes of each bidirectional stream, written by the
// stream's opener (the dialer); the acceptor answers with its own hello
// (kind 1, ids swapped) on the ordered stream only:
//
//	[4]byte magic "ZGWN"
//	uint8   version (2)
//	uint8   stream kind: 1 ordered lane, 2 requests lane
//	uint8   flags: bit 0 (1), the sender's frames on this stream (for the
//	        acceptor's answer: on both lanes) are deflate-compressed
//	uint64  sender id
//	uint64  receiver id
//	uint8   cluster name length n, then n bytes of name
//
// Frames follow the hello on both bidirectional streams, both ways; when
// the sender's hello has the compressed flag, its frames are one raw
// deflate stream (RFC 1951), flushed (a sync flush) after each batch:
//
//	uint32  body length L, 1 <= L <= MaxFrameSize+17
//	uint8   kind
//	kind 1, data: the frame, L-1 bytes (at most MaxFrameSize)
//	kind 2, blob header (ordered stream only): uint64 blob id, uint64 blob
//	        size, then the header, L-17 bytes (at most MaxFrameSize)
//	kind 3, heartbeat (ordered stream only): L = 1, nothing else; sent
//	        when the sender wrote nothing for Config.Heartbeat
//
// Blob stream: one unidirectional stream per blob, opened by its sender:
//
//	[4]byte magic "ZGWB"
//	uint8   version (2)
//	uint64  blob id (the one in its header frame)
//	uint64  blob size (the one in its header frame)
//	then exactly size bytes, then the end of the stream (FIN)
const (
	helloMagic    = "ZGWN"
	blobMagic     = "ZGWB"
	wireVersion   = 2
	helloFixedLen = 4 + 1 + 1 + 1 + 8 + 8 + 1
	blobPreLen    = 4 + 1 + 8 + 8

	streamOrdered  = 1 // hello stream kinds
	streamRequests = 2

	helloCompressed = 1 << 0 // hello flags

	kindData      = 1 // frame kinds
	kindBlob      = 2
	kindHeartbeat = 3
	blobFixedLen  = 1 + 8 + 8 // kind, id, size
	frameOverhead = blobFixedLen

	maxFrameLimit = 1<<31 - 1 - frameOverhead
	// readChunk bounds how far a frame's buffer grows ahead of the bytes
	// actually received, so a lying length prefix cannot allocate much.
	readChunk = 1 << 20
)

// Application error codes. Connection close (CONNECTION_CLOSE), append-only:
const (
	codeClosed   = 0x0 // graceful end of the stream (CloseStream, or both lanes ended)
	codeBroken   = 0x1 // the stream broke on this side (bad frame, queue bound, spool error...)
	codeRefused  = 0x2 // the hello exchange failed
	codeReplaced = 0x3 // a newer connection from the same peer replaced this one
	codeShutdown = 0x4 // the transport is closing
	codeBlobRead = 0x5 // the sender could not read a blob it was sending
	codeStalled  = 0x6 // nothing was received for StallTimeout
)

// Stream error codes (RESET_STREAM, STOP_SENDING), append-only:
const (
	streamBlobAborted = 0x1 // the blob's sender could not read it
	streamDiscarded   = 0x2 // the receiver does not want it (stream closing)
)

type hello struct {
	Version uint8
	Kind    uint8
	Flags   uint8
	From    uint64
	To      uint64
	Cluster string
}

func appendHello(dst []byte, h hello) []byte {
	dst = append(dst, helloMagic...)
	dst = append(dst, h.Version, h.Kind, h.Flags)
	dst = binary.BigEndian.AppendUint64(dst, h.From)
	dst = binary.BigEndian.AppendUint64(dst, h.To)
	dst = append(dst, byte(len(h.Cluster)))
	return append(dst, h.Cluster...)
}

// readHello reads one hello; it checks the format only.
func readHello(r io.Reader) (hello, error) {
	var fixed [helloFixedLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return hello{}, fmt.Errorf("%w: reading a hello: %w", ErrHandshake, err)
	}
	if string(fixed[:4]) != helloMagic {
		return hello{}, fmt.Errorf("%w: hello magic %q, want %q", ErrBadFrame, fixed[:4], helloMagic)
	}
	h := hello{
		Version: fixed[4],
		Kind:    fixed[5],
		Flags:   fixed[6],
		From:    binary.BigEndian.Uint64(fixed[7:]),
		To:      binary.BigEndian.Uint64(fixed[15:]),
	}
	name := make([]byte, fixed[23])
	if _, err := io.ReadFull(r, name); err != nil {
		return hello{}, fmt.Errorf("%w: reading a hello's cluster name: %w", ErrHandshake, err)
	}
	h.Cluster = string(name)
	return h, nil
}

// checkHello reports whether h is acceptable from peer from to this server
// to of cluster, on a stream of kind (0: ordered or requests).
func checkHello(h hello, cluster string, from, to uint64, kind uint8) error {
	switch {
	case h.Version != wireVersion:
		return fmt.Errorf("%w: version %d, this server speaks %d", ErrHandshake, h.Version, wireVersion)
	case h.Flags&^helloCompressed != 0:
		return fmt.Errorf("%w: unknown hello flags %#x", ErrHandshake, h.Flags)
	case h.Kind != streamOrdered && h.Kind != streamRequests:
		return fmt.Errorf("%w: unknown stream kind %d", ErrHandshake, h.Kind)
	case kind != 0 && h.Kind != kind:
		return fmt.Errorf("%w: stream kind %d, want %d", ErrHandshake, h.Kind, kind)
	case h.Cluster != cluster:
		return fmt.Errorf("%w: cluster %q, want %q", ErrHandshake, h.Cluster, cluster)
	case h.From != from || h.To != to:
		return fmt.Errorf("%w: hello %d->%d on a connection %d->%d (certificates)", ErrHandshake, h.From, h.To, from, to)
	}
	return nil
}

// frame is one decoded frame.
type frame struct {
	Kind    uint8
	BlobID  uint64 // kindBlob
	Size    int64  // kindBlob
	Payload []byte // the data frame, or the blob's header
}

// appendDataHeader appends what precedes a data frame of n bytes.
func appendDataHeader(dst []byte, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+n))
	return append(dst, kindData)
}

// appendBlobHeader appends what precedes the n-byte header of blob id.
func appendBlobHeader(dst []byte, id uint64, size int64, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(blobFixedLen+n))
	dst = append(dst, kindBlob)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return binary.BigEndian.AppendUint64(dst, uint64(size))
}

// heartbeatFrame is a whole heartbeat frame.
var heartbeatFrame = []byte{0, 0, 0, 1, kindHeartbeat}

func appendDataFrame(dst, payload []byte) []byte {
	return append(appendDataHeader(dst, len(payload)), payload...)
}

func appendBlobFrame(dst []byte, id uint64, size int64, header []byte) []byte {
	return append(appendBlobHeader(dst, id, size, len(header)), header...)
}

// decodeFrame parses a frame's body (what follows the length word).
func decodeFrame(body []byte, maxFrame int) (frame, error) {
	if len(body) == 0 {
		return frame{}, fmt.Errorf("%w: empty frame", ErrBadFrame)
	}
	switch body[0] {
	case kindData:
		if len(body)-1 > maxFrame {
			return frame{}, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, len(body)-1, maxFrame)
		}
		return frame{Kind: kindData, Payload: body[1:]}, nil
	case kindBlob:
		if len(body) < blobFixedLen {
			return frame{}, fmt.Errorf("%w: blob header frame of %d bytes", ErrBadFrame, len(body))
		}
		if len(body)-blobFixedLen > maxFrame {
			return frame{}, fmt.Errorf("%w: blob header of %d bytes, at most %d", ErrFrameTooLarge, len(body)-blobFixedLen, maxFrame)
		}
		size := binary.BigEndian.Uint64(body[9:])
		if size > 1<<62 {
			return frame{}, fmt.Errorf("%w: blob size %d", ErrBadFrame, size)
		}
		return frame{Kind: kindBlob, BlobID: binary.BigEndian.Uint64(body[1:]), Size: int64(size), Payload: body[blobFixedLen:]}, nil
	case kindHeartbeat:
		if len(body) != 1 {
			return frame{}, fmt.Errorf("%w: heartbeat frame of %d bytes", ErrBadFrame, len(body))
		}
		return frame{Kind: kindHeartbeat}, nil
	}
	return frame{}, fmt.Errorf("%w: unknown frame kind %d", ErrBadFrame, body[0])
}

// frameReader reads length-prefixed frames.
type frameReader struct {
	r   *bufio.Reader
	max int   // MaxFrameSize
	off int64 // bytes consumed, for error messages
	at  int64 // offset of the frame being read
}

// next returns the next frame; its Payload is valid until the next call
// only if the caller does not keep it (it is a fresh slice every time).
func (fr *frameReader) next() (frame, error) {
	fr.at = fr.off
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: the stream ended inside a length word", ErrBadFrame)
		}
		return frame{}, err // io.EOF: a clean end between frames
	}
	fr.off += 4
	n := int64(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 {
		return frame{}, fmt.Errorf("%w: empty frame", ErrBadFrame)
	}
	if n > int64(fr.max)+frameOverhead {
		return frame{}, fmt.Errorf("%w: length %d, at most %d", ErrFrameTooLarge, n, int64(fr.max)+frameOverhead)
	}
	body := make([]byte, 0, min(n, readChunk))
	for int64(len(body)) < n {
		k := min(n-int64(len(body)), readChunk)
		start := len(body)
		body = append(body, make([]byte, k)...)
		m, err := io.ReadFull(fr.r, body[start:])
		fr.off += int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: the stream ended inside a frame of %d bytes", ErrBadFrame, n)
			}
			return frame{}, err
		}
	}
	return decodeFrame(body, fr.max)
}

func appendBlobPreamble(dst []byte, id uint64, size int64) []byte {
	dst = append(dst, blobMagic...)
	dst = append(dst, wireVersion)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return binary.BigEndian.AppendUint64(dst, uint64(size))
}

func readBlobPreamble(r io.Reader) (id uint64, size int64, err error) {
	var b [blobPreLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, 0, fmt.Errorf("%w: reading a blob preamble: %w", ErrBadFrame, err)
	}
	if string(b[:4]) != blobMagic || b[4] != wireVersion {
		return 0, 0, fmt.Errorf("%w: blob preamble %q version %d", ErrBadFrame, b[:4], b[4])
	}
	s := binary.BigEndian.Uint64(b[13:])
	if s > 1<<62 {
		return 0, 0, fmt.Errorf("%w: blob size %d", ErrBadFrame, s)
	}
	return binary.BigEndian.Uint64(b[5:]), int64(s), nil
}
