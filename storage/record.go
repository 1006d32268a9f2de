package storage

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Record is one transaction log entry: an opaque payload and its zxid.
type Record struct {
	Zxid    int64
	Payload []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record frame (big-endian), see doc.go:
//
//	[0:4)   payload length  uint32
//	[4:8)   crc32c over bytes [8:16+len) (zxid and payload)
//	[8:16)  zxid            int64
//	[16:)   payload
const frameHeaderSize = 16

// frameSize is the number of bytes a record occupies on disk.
func frameSize(payloadLen int) int { return frameHeaderSize + payloadLen }

// appendFrame appends the frame of r to b.
func appendFrame(b []byte, r Record) []byte {
	var h [frameHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(r.Payload)))
	binary.BigEndian.PutUint64(h[8:16], uint64(r.Zxid))
	crc := crc32.Update(0, castagnoli, h[8:16])
	crc = crc32.Update(crc, castagnoli, r.Payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	b = append(b, h[:]...)
	return append(b, r.Payload...)
}

// Why a frame failed to decode.
var (
	errFrameShort = errors.New("incomplete frame")
	errFrameZero  = errors.New("zero-filled frame header")
	errFrameLen   = errors.New("frame length exceeds the maximum record size")
	errFrameCRC   = errors.New("frame checksum mismatch")
	errFrameZxid  = errors.New("frame zxid is not positive")
)

// decodeFrame parses the frame at the start of b. The payload aliases b.
// It returns the frame's total size. maxPayload bounds the length field.
func decodeFrame(b []byte, maxPayload int) (Record, int, error) {
	if len(b) < frameHeaderSize {
		if allZero(b) {
			return Record{}, 0, errFrameZero
		}
		return Record{}, 0, errFrameShort
	}
	h := b[:frameHeaderSize]
	if allZero(h) {
		return Record{}, 0, errFrameZero
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if uint64(n) > uint64(maxPayload) {
		return Record{}, 0, errFrameLen
	}
	zxid := int64(binary.BigEndian.Uint64(h[8:16]))
	if zxid <= 0 {
		return Record{}, 0, errFrameZxid
	}
	size := frameHeaderSize + int(n)
	if len(b) < size {
		return Record{}, 0, errFrameShort
	}
	crc := crc32.Update(0, castagnoli, h[8:16])
	crc = crc32.Update(crc, castagnoli, b[frameHeaderSize:size])
	if crc != binary.BigEndian.Uint32(h[4:8]) {
		return Record{}, 0, errFrameCRC
	}
	return Record{Zxid: zxid, Payload: b[frameHeaderSize:size]}, size, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Segment header (big-endian), see doc.go:
//
//	[0:4)   magic "ZGTL"
//	[4:8)   format version uint32 (1)
//	[8:16)  zxid of the first record in the segment, int64
//	[16:20) crc32c over [0:16)
//	[20:24) reserved, zero
const (
	segmentHeaderSize = 24
	segmentMagic      = "ZGTL"
	segmentVersion    = 1
)

func encodeSegmentHeader(first int64) []byte {
	return encodeHeader(segmentHeaderSize, segmentMagic, segmentVersion, first)
}

// encodeHeader builds the 20-byte prefix every zoogate file starts with
// (segment, snapshot, epoch): magic, format version, one int64 and a
// crc32c over the first 16 bytes, zero-padded to size.
func encodeHeader(size int, magic string, version uint32, value int64) []byte {
	b := make([]byte, size)
	copy(b[0:4], magic)
	binary.BigEndian.PutUint32(b[4:8], version)
	binary.BigEndian.PutUint64(b[8:16], uint64(value))
	binary.BigEndian.PutUint32(b[16:20], crc32.Checksum(b[0:16], castagnoli))
	return b
}

var (
	errHeaderShort    = errors.New("segment header incomplete")
	errHeaderMagic    = errors.New("bad segment magic")
	errHeaderVersion  = errors.New("unsupported segment format version")
	errHeaderCRC      = errors.New("segment header checksum mismatch")
	errHeaderZxid     = errors.New("segment first zxid is not positive")
	errHeaderReserved = errors.New("segment header reserved bytes are not zero")
)

// decodeSegmentHeader validates a segment header and returns the segment's
// first zxid.
func decodeSegmentHeader(b []byte) (int64, error) {
	if len(b) < segmentHeaderSize {
		return 0, errHeaderShort
	}
	if string(b[0:4]) != segmentMagic {
		return 0, errHeaderMagic
	}
	if crc32.Checksum(b[0:16], castagnoli) != binary.BigEndian.Uint32(b[16:20]) {
		return 0, errHeaderCRC
	}
	if v := binary.BigEndian.Uint32(b[4:8]); v != segmentVersion {
		return 0, errHeaderVersion
	}
	if binary.BigEndian.Uint32(b[20:24]) != 0 {
		return 0, errHeaderReserved
	}
	first := int64(binary.BigEndian.Uint64(b[8:16]))
	if first <= 0 {
		return 0, errHeaderZxid
	}
	return first, nil
}
