package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire format. Every frame is a 4-byte big-endian length followed by that
// many bytes. The first frame each way is a hello:
//
//	[4]byte  magic "ZGPR"
//	uint16   version (1)
//	uint64   sender id
//	uint64   receiver id
//	uint8    cluster name length, then the name's bytes
//
// (integers big-endian). The dialer sends its hello first; the acceptor
// answers with its own once it has checked the dialer's. Every later frame's
// body is one zab.Marshal encoding. Constants are append-only.
const (
	helloMagic      = "ZGPR"
	protocolVersion = 1
	helloFixedLen   = 4 + 2 + 8 + 8 + 1
	maxHelloLen     = helloFixedLen + maxClusterName
	maxFrameLimit   = 1<<31 - 1
	// readChunk bounds how much a frame's buffer grows ahead of the bytes
	// actually received, so a lying length prefix cannot allocate much.
	readChunk = 1 << 20
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

// appendFrame appends a frame header for a body of n bytes.
func appendFrameHeader(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// frameReader reads frames and tracks the stream offset for error reports.
type frameReader struct {
	r   io.Reader
	max int
	off int64 // offset of the frame being read (or the next one)
}

// next returns the next frame's body. io.EOF means the stream ended cleanly
// between frames; any other error means the stream is unusable.
func (fr *frameReader) next() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("truncated frame header: %w", err)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	switch {
	case n == 0:
		return nil, ErrEmptyFrame
	case n > fr.max:
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, fr.max)
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
	fr.off += 4 + int64(n)
	return buf, nil
}
