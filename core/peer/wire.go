package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/zoogate/zoogate/core/zab"
)

// Wire format. Every frame is a 4-byte big-endian length word followed by
// that many bytes. The first frame each way is a hello:
//
//	[4]byte  magic "ZGPR"
//	uint16   version (see protocolVersion)
//	uint64   sender id
//	uint64   receiver id
//	uint8    cluster name length, then the name's bytes
//
// (integers big-endian). The dialer sends its hello first; the acceptor
// answers with its own once it has checked the dialer's. Both ends must
// speak the same version.
//
// Every later frame is a message frame or a control frame. A message
// frame's length word has its top bit clear; its body is one zab.Marshal
// encoding. A control frame's length word has its top bit set (ctlBit), its
// low 31 bits being the body's length; the body's first byte is its kind:
//
//	1 blob header: uint64 big-endian blob size N, then zab.Marshal of the
//	  message that carries the blob (its Blob is not in that encoding).
//	  Chunk frames carrying exactly N bytes follow (none when N is 0), with
//	  no other frame between them but an abort. The receiver delivers the
//	  message once all N bytes have arrived, with a Blob of its own.
//	2 blob chunk: the next bytes of the blob in progress, at least one and
//	  at most MaxSnapshotChunkSize.
//	3 blob abort: the sender could not read the blob in progress, or open
//	  the one it was about to announce; the rest of the body is a UTF-8
//	  reason of at most maxAbortReason bytes. The sender then closes the
//	  connection; the blob is never delivered.
//
// Versions: 1, message frames only; 2, adds control frames (a version 1
// server is refused at the handshake rather than sent frames it cannot
// read). Constants are append-only.
const (
	helloMagic      = "ZGPR"
	protocolVersion = 2
	helloFixedLen   = 4 + 2 + 8 + 8 + 1
	maxHelloLen     = helloFixedLen + maxClusterName
	maxFrameLimit   = 1<<31 - 1
	// readChunk bounds how much a frame's buffer grows ahead of the bytes
	// actually received, so a lying length prefix cannot allocate much.
	readChunk = 1 << 20

	ctlBit          = 1 << 31 // in a length word: a control frame
	ctlBlobHeader   = 1       // control frame kinds (append-only)
	ctlBlobChunk    = 2
	ctlBlobAbort    = 3
	blobHeaderFixed = 1 + 8 // kind, size
	maxAbortReason  = 1024
)

type hello struct {
	Version uint16
	From    uint64
	To      uint64
	Cluster string
}

func appendHello(dst []byte, h hello) []byte {
	dst = append(dst, helloMagic...)
	dst = binary.BigEndian.AppendUint16(dst, h.Version)
	dst = binary.BigEndian.AppendUint64(dst, h.From)
	dst = binary.BigEndian.AppendUint64(dst, h.To)
	dst = append(dst, byte(len(h.Cluster)))
	return append(dst, h.Cluster...)
}

// decodeHello parses a hello body. It checks the format only; whether the
// hello is acceptable is checkHello's business.
func decodeHello(b []byte) (hello, error) {
	if len(b) < helloFixedLen {
		return hello{}, fmt.Errorf("%w: %d bytes, at least %d", ErrBadHello, len(b), helloFixedLen)
	}
	if string(b[:4]) != helloMagic {
		return hello{}, fmt.Errorf("%w: magic %q", ErrBadHello, b[:4])
	}
	h := hello{
		Version: binary.BigEndian.Uint16(b[4:]),
		From:    binary.BigEndian.Uint64(b[6:]),
		To:      binary.BigEndian.Uint64(b[14:]),
	}
	n := int(b[22])
	if len(b) != helloFixedLen+n {
		return hello{}, fmt.Errorf("%w: cluster name of %d bytes in a body of %d", ErrBadHello, n, len(b))
	}
	h.Cluster = string(b[helloFixedLen:])
	return h, nil
}

// checkHello verifies that h comes from peer from, is meant for to and
// belongs to cluster.
func checkHello(h hello, cluster string, from, to uint64) error {
	switch {
	case h.Version != protocolVersion:
		return fmt.Errorf("%w: version %d, this server speaks %d", ErrHandshake, h.Version, protocolVersion)
	case h.Cluster != cluster:
		return fmt.Errorf("%w: cluster %q, this server is in %q", ErrHandshake, h.Cluster, cluster)
	case h.To != to:
		return fmt.Errorf("%w: meant for server %d, this is %d", ErrHandshake, h.To, to)
	case from != 0 && h.From != from:
		return fmt.Errorf("%w: sent by server %d, expected %d", ErrHandshake, h.From, from)
	}
	return nil
}

// appendFrameHeader appends a message frame's length word for a body of n
// bytes.
func appendFrameHeader(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// appendCtlHeader appends a control frame's length word and kind byte for
// a body of n bytes (the kind included).
func appendCtlHeader(dst []byte, n int, kind byte) []byte {
	return append(binary.BigEndian.AppendUint32(dst, uint32(n)|ctlBit), kind)
}

// appendBlobHeader appends the blob header frame announcing m and a blob
// of size bytes.
func appendBlobHeader(dst []byte, m zab.Message, size int64) []byte {
	m.Blob = nil
	start := len(dst)
	dst = appendCtlHeader(dst, 0, ctlBlobHeader)
	dst = binary.BigEndian.AppendUint64(dst, uint64(size))
	dst = zab.AppendMarshal(dst, m)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4)|ctlBit)
	return dst
}

// decodeBlobHeader parses a blob header's body after its kind byte.
func decodeBlobHeader(b []byte) (zab.Message, int64, error) {
	if len(b) < blobHeaderFixed-1 {
		return zab.Message{}, 0, fmt.Errorf("%w: blob header of %d bytes", ErrBadFrame, len(b))
	}
	size := binary.BigEndian.Uint64(b)
	if size > math.MaxInt64 {
		return zab.Message{}, 0, fmt.Errorf("%w: blob size %d", ErrBadFrame, size)
	}
	m, err := zab.Unmarshal(b[8:])
	if err != nil {
		return zab.Message{}, 0, fmt.Errorf("%w: blob header: %w", ErrBadFrame, err)
	}
	return m, int64(size), nil
}

// appendAbort appends a blob abort frame with reason (cut to
// maxAbortReason bytes).
func appendAbort(dst []byte, reason string) []byte {
	if len(reason) > maxAbortReason {
		reason = reason[:maxAbortReason]
	}
	dst = appendCtlHeader(dst, 1+len(reason), ctlBlobAbort)
	return append(dst, reason...)
}

// frameReader reads frames and tracks the stream offset for error reports.
type frameReader struct {
	r   io.Reader
	max int
	off int64 // bytes of the stream consumed by complete frame parts
}

// next returns the next frame's body; a control frame is an error (its
// length word reads as too large). io.EOF means the stream ended cleanly
// between frames; any other error means the stream is unusable.
func (fr *frameReader) next() ([]byte, error) {
	n, ctl, err := fr.head()
	if err != nil {
		return nil, err
	}
	if ctl {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, uint64(n)|ctlBit, fr.max)
	}
	return fr.body(n, fr.max)
}

// head reads a length word: the body's length, and whether it is a
// control frame's.
func (fr *frameReader) head() (n int, ctl bool, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, false, fmt.Errorf("truncated frame header: %w", err)
		}
		return 0, false, err
	}
	fr.off += 4
	w := binary.BigEndian.Uint32(hdr[:])
	return int(w &^ ctlBit), w&ctlBit != 0, nil
}

// body reads a body of n bytes, n at most limit.
func (fr *frameReader) body(n, limit int) ([]byte, error) {
	switch {
	case n == 0:
		return nil, ErrEmptyFrame
	case n > limit:
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, limit)
	}
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		step := min(n-len(buf), max(len(buf), readChunk))
		if cap(buf)-len(buf) < step {
			nb := make([]byte, len(buf), len(buf)+step)
			copy(nb, buf)
			buf = nb
		}
		got, err := io.ReadFull(fr.r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("frame of %d bytes cut after %d: %w", n, len(buf), err)
		}
	}
	fr.off += int64(n)
	return buf, nil
}
