package jute

import "encoding/binary"

// Encoder appends jute-encoded values to a byte slice. It never fails; the
// caller decides what to do with the bytes (frame them, log them, hash them).
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to buf (which may be nil).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns everything encoded so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the encoder but keeps its buffer.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Bool writes a boolean as one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Byte writes one byte.
func (e *Encoder) Byte(v byte) { e.buf = append(e.buf, v) }

// Int writes a 32-bit big-endian integer.
func (e *Encoder) Int(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Long writes a 64-bit big-endian integer.
func (e *Encoder) Long(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// String writes a length-prefixed UTF-8 string. The empty string is written
// with length 0, never as null: go-zookeeper cannot decode a null string.
func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.buf = append(e.buf, s...)
}

// Buffer writes a length-prefixed byte buffer; a nil buffer is written as
// null (length -1), which every client decodes.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.buf = append(e.buf, b...)
}

// NonNullBuffer writes a buffer, encoding nil as an empty buffer.
func (e *Encoder) NonNullBuffer(b []byte) {
	e.Int(int32(len(b)))
	e.buf = append(e.buf, b...)
}

// Strings writes a vector of strings. A nil slice is written as an empty
// vector (count 0), never as null.
func (e *Encoder) Strings(v []string) {
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// VectorLen writes the element count that starts a vector.
func (e *Encoder) VectorLen(n int) { e.Int(int32(n)) }

// PatchInt overwrites the 4 bytes at offset off with v; used to fill in a
// length prefix once the length is known.
func (e *Encoder) PatchInt(off int, v int32) {
	binary.BigEndian.PutUint32(e.buf[off:off+4], uint32(v))
}
