package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var (
	// ErrShort reports a record that ends before all of its fields.
	ErrShort = errors.New("jute: record truncated")
	// ErrBadLength reports a negative (other than -1) or oversized length.
	ErrBadLength = errors.New("jute: invalid length")
)

// DecodeError says which field failed to decode and at which byte offset.
type DecodeError struct {
	Offset int    // byte offset into the decoded buffer
	Field  string // what was being read
	Err    error  // ErrShort or ErrBadLength
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v reading %s at byte %d", e.Err, e.Field, e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder reads jute values from a byte slice. The first error is sticky:
// after it every read returns a zero value, and Err reports it. This lets a
// record decode all of its fields and check for an error once.
type Decoder struct {
	buf    []byte
	off    int
	maxLen int
	err    error
	share  bool // Buffer returns views of buf instead of copies
}

// NewDecoder returns a decoder over buf. maxLen bounds every string, buffer
// and vector length (ZooKeeper's jute.maxbuffer); 0 means len(buf).
func NewDecoder(buf []byte, maxLen int) *Decoder {
	if maxLen <= 0 {
		maxLen = len(buf)
	}
	return &Decoder{buf: buf, maxLen: maxLen}
}

// ShareBuffers makes Buffer return views into the decoded bytes instead of
// copies (their capacity is capped, so appending to one copies it). Use it
// only when those bytes are never modified afterwards: a frame read into a
// fresh slice, a committed log entry. It returns d.
func (d *Decoder) ShareBuffers() *Decoder {
	d.share = true
	return d
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset returns the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.off:] }

func (d *Decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &DecodeError{Offset: d.off, Field: field, Err: err}
	}
}

func (d *Decoder) take(n int, field string) []byte {
	return d.takeFrom(n, field, d.off)
}

// takeFrom consumes n bytes; on a short read the error names start, where
// the field (length prefix included) began.
func (d *Decoder) takeFrom(n int, field string, start int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off {
		d.off = start
		d.fail(field, ErrShort)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Bool reads one byte; any non-zero value is true, as in Java.
func (d *Decoder) Bool(field string) bool {
	b := d.take(1, field)
	return b != nil && b[0] != 0
}

// Byte reads one byte.
func (d *Decoder) Byte(field string) byte {
	b := d.take(1, field)
	if b == nil {
		return 0
	}
	return b[0]
}

// Int reads a 32-bit big-endian integer.
func (d *Decoder) Int(field string) int32 {
	b := d.take(4, field)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Long reads a 64-bit big-endian integer.
func (d *Decoder) Long(field string) int64 {
	b := d.take(8, field)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// length reads a length prefix; -1 (null) is returned as -1.
func (d *Decoder) length(field string) int {
	start := d.off
	n := d.Int(field)
	if d.err != nil {
		return 0
	}
	if n < -1 || int(n) > d.maxLen {
		d.off = start
		d.fail(field, ErrBadLength)
		return 0
	}
	return int(n)
}

// String reads a string; null (-1) decodes as "" (Kazoo sends "" as null).
func (d *Decoder) String(field string) string {
	start := d.off
	n := d.length(field)
	if n <= 0 {
		return ""
	}
	return string(d.takeFrom(n, field, start))
}

// Buffer reads a byte buffer; null decodes as nil. The result is a copy,
// unless ShareBuffers was called.
func (d *Decoder) Buffer(field string) []byte {
	start := d.off
	n := d.length(field)
	if n < 0 || d.err != nil {
		return nil
	}
	b := d.takeFrom(n, field, start)
	if b == nil {
		return nil
	}
	if d.share {
		return b[:n:n]
	}
	return append(make([]byte, 0, n), b...)
}

// VectorLen reads a vector's element count; null decodes as 0. Each element
// takes at least minElem bytes, which bounds the count by the bytes left.
func (d *Decoder) VectorLen(field string, minElem int) int {
	start := d.off
	n := d.length(field)
	if n <= 0 {
		return 0
	}
	if minElem > 0 && n > d.Remaining()/minElem {
		d.off = start
		d.fail(field, ErrShort)
		return 0
	}
	return n
}

// Strings reads a vector of strings; null decodes as nil.
func (d *Decoder) Strings(field string) []string {
	n := d.VectorLen(field, 4)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String(field))
	}
	return out
}

// Done reports an error if bytes are left over after a complete record.
// ZooKeeper ignores trailing bytes in most places, so callers use it only
// where the protocol is strict.
func (d *Decoder) Done(field string) error {
	if d.err == nil && d.off != len(d.buf) {
		d.err = &DecodeError{Offset: d.off, Field: field, Err: errors.New("jute: trailing bytes")}
	}
	return d.err
}
