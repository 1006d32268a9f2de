package storage

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Segment files are named "log." + the zxid of their first record as 16
// lower-case hex digits; a segment being created is "log.<hex>.tmp" until
// its header is durable (see Log.roll).
const (
	segmentPrefix = "log."
	tmpSuffix     = ".tmp"
)

func segmentName(first int64) string { return fmt.Sprintf("%s%016x", segmentPrefix, uint64(first)) }

// parseZxidName parses "<prefix><16 hex>[.tmp]".
func parseZxidName(name, prefix string) (zxid int64, tmp bool, ok bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false, false
	}
	rest := name[len(prefix):]
	if strings.HasSuffix(rest, tmpSuffix) {
		rest, tmp = strings.TrimSuffix(rest, tmpSuffix), true
	}
	if len(rest) != 16 {
		return 0, false, false
	}
	v, err := strconv.ParseUint(rest, 16, 64)
	if err != nil || rest != strings.ToLower(rest) {
		return 0, false, false
	}
	return int64(v), tmp, true
}

// frameReader reads consecutive frames from [start, limit) of a file.
type frameReader struct {
	r     io.ReaderAt
	limit int64
	off   int64 // file offset of buf[0]
	buf   []byte
	pos   int // index in buf of the next frame
	err   error
}

const readChunk = 256 << 10

func newFrameReader(r io.ReaderAt, start, limit int64) *frameReader {
	return &frameReader{r: r, limit: limit, off: start}
}

// offset is the file offset of the next frame.
func (fr *frameReader) offset() int64 { return fr.off + int64(fr.pos) }

// fill makes at least n bytes available after pos, unless limit comes
// first. It reports a read error other than EOF.
func (fr *frameReader) fill(n int) error {
	avail := len(fr.buf) - fr.pos
	if avail >= n {
		return nil
	}
	remaining := fr.limit - fr.offset() - int64(avail)
	if remaining <= 0 {
		return nil
	}
	// Compact, then read what is missing (at least a chunk).
	copy(fr.buf, fr.buf[fr.pos:])
	fr.buf = fr.buf[:avail]
	fr.off += int64(fr.pos)
	fr.pos = 0
	want := int64(max(n-avail, readChunk))
	want = min(want, remaining)
	if cap(fr.buf)-avail < int(want) {
		nb := make([]byte, avail, avail+int(want))
		copy(nb, fr.buf)
		fr.buf = nb
	}
	got, err := fr.r.ReadAt(fr.buf[avail:avail+int(want)], fr.off+int64(avail))
	fr.buf = fr.buf[:avail+got]
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if int64(got) < want {
		// The file is shorter than the limit said: stop there.
		fr.limit = fr.off + int64(len(fr.buf))
	}
	return nil
}

// next decodes the frame at the current offset. At the limit it returns
// io.EOF. A decoding failure leaves the offset at the bad frame. The
// payload aliases an internal buffer valid until the next call.
func (fr *frameReader) next(maxPayload int) (Record, error) {
	if err := fr.fill(frameHeaderSize); err != nil {
		return Record{}, err
	}
	if fr.pos == len(fr.buf) {
		return Record{}, io.EOF
	}
	rec, n, err := decodeFrame(fr.buf[fr.pos:], maxPayload)
	if errors.Is(err, errFrameShort) && len(fr.buf)-fr.pos >= frameHeaderSize {
		need := frameHeaderSize + int(beUint32(fr.buf[fr.pos:]))
		if err := fr.fill(need); err != nil {
			return Record{}, err
		}
		rec, n, err = decodeFrame(fr.buf[fr.pos:], maxPayload)
	}
	if err != nil {
		return Record{}, err
	}
	fr.pos += n
	return rec, nil
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// segScan is what scanning a segment's records found.
type segScan struct {
	first, last int64 // zxids of the first and last valid records; 0 if none
	count       int
	end         int64 // offset just past the last valid record
	// tornAt is the offset of an invalid frame after which nothing valid
	// follows (a torn tail), or -1. Only the last segment may have one.
	tornAt     int64
	tornReason error
}

// errStopScan, returned by a scan callback, ends the scan early without
// error.
var errStopScan = errors.New("stop scan")

// scanSegment validates the records in [segmentHeaderSize, limit) of a
// segment whose header says its first zxid is first. prevLast is the last
// zxid of the previous segment (0 if none). fn, if not nil, sees every
// valid record with its offset; the payload is only valid during the call.
//
// The rules (see doc.go, "Recovery"): records must be valid frames with
// strictly increasing zxids, the first equal to the header's. The records
// end at the limit or where everything up to the limit is zero
// (preallocated space). An invalid frame followed by anything non-zero is a
// torn tail if no valid frame can be found after it, and corruption
// otherwise; a valid frame out of zxid order is always corruption.
func scanSegment(r io.ReaderAt, limit int64, path string, first, prevLast int64, maxPayload int, fn func(Record, int64) error) (segScan, error) {
	s := segScan{end: segmentHeaderSize, tornAt: -1}
	fr := newFrameReader(r, segmentHeaderSize, limit)
	prev := prevLast
	for {
		off := fr.offset()
		rec, err := fr.next(maxPayload)
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil && !isFrameErr(err) {
			return s, fmt.Errorf("storage: reading %s at offset %d: %w", path, off, err)
		}
		if err == nil {
			switch {
			case s.count == 0 && rec.Zxid != first:
				return s, corruptf(path, off, "first record has zxid %#x, segment header says %#x", rec.Zxid, first)
			case rec.Zxid <= prev:
				return s, corruptf(path, off, "zxid %#x does not follow %#x", rec.Zxid, prev)
			}
			if fn != nil {
				if err := fn(rec, off); err != nil {
					if errors.Is(err, errStopScan) {
						return s, nil
					}
					return s, err
				}
			}
			if s.count == 0 {
				s.first = rec.Zxid
			}
			s.count++
			s.last = rec.Zxid
			prev = rec.Zxid
			s.end = fr.offset()
			continue
		}
		// An invalid frame at off: classify what follows.
		zero, valid, rerr := inspectTail(r, off, fr.limit, prev, maxPayload)
		if rerr != nil {
			return s, fmt.Errorf("storage: reading %s at offset %d: %w", path, off, rerr)
		}
		switch {
		case zero:
			return s, nil
		case valid >= 0:
			return s, corruptf(path, off, "%v, followed by a valid record at offset %d", err, valid)
		default:
			s.tornAt, s.tornReason = off, err
			return s, nil
		}
	}
}

func isFrameErr(err error) bool {
	return errors.Is(err, errFrameShort) || errors.Is(err, errFrameZero) || errors.Is(err, errFrameLen) ||
		errors.Is(err, errFrameCRC) || errors.Is(err, errFrameZxid)
}

// inspectTail looks at [off, limit): zero reports whether it is all zero
// bytes; otherwise valid is the offset of the first position after off
// where a valid frame with a zxid above prev starts, or -1.
func inspectTail(r io.ReaderAt, off, limit, prev int64, maxPayload int) (zero bool, valid int64, err error) {
	n := limit - off
	if n <= 0 {
		return true, -1, nil
	}
	// Stream the zero check: the common case is a clean end followed by
	// megabytes of preallocated zeros.
	chunk := make([]byte, min(n, readChunk))
	zero = true
	for p := off; p < limit && zero; {
		k := int(min(int64(len(chunk)), limit-p))
		got, err := r.ReadAt(chunk[:k], p)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, -1, err
		}
		zero = allZero(chunk[:got])
		if got < k {
			break
		}
		p += int64(got)
	}
	if zero {
		return true, -1, nil
	}
	rest := make([]byte, n)
	got, err := r.ReadAt(rest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, -1, err
	}
	rest = rest[:got]
	for p := 1; p+frameHeaderSize <= len(rest); p++ {
		h := rest[p:]
		if h[8]&0x80 != 0 { // negative zxid: cheap reject
			continue
		}
		if l := beUint32(h); uint64(l) > uint64(maxPayload) || int64(l) > int64(len(h)-frameHeaderSize) {
			continue
		}
		rec, _, derr := decodeFrame(h, maxPayload)
		if derr == nil && rec.Zxid > prev {
			return false, off + int64(p), nil
		}
	}
	return false, -1, nil
}
