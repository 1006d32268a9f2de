package zab

import (
	"encoding/binary"
	"fmt"
)

// Wire format of a Message (the transport frames it; this is the body):
//
//	byte      type (MessageType)
//	uvarint   field mask: which optional fields follow, in this order
//	            bit 0 From (uvarint)        bit 5 Leader (uvarint)
//	            bit 1 To (uvarint)          bit 6 ElectionEpoch (zigzag varint)
//	            bit 2 Zxid (zigzag varint)  bit 7 State (uvarint)
//	            bit 3 Epoch (zigzag varint) bit 8 Data (uvarint length + bytes)
//	            bit 4 Flags (uvarint)
//
// A field equal to zero (or empty Data) is left out. Decoding is strict:
// unknown types, unknown mask bits, unknown flags, invalid states and
// trailing bytes are errors. Mask bits and types are append-only.
const (
	fieldFrom = 1 << iota
	fieldTo
	fieldZxid
	fieldEpoch
	fieldFlags
	fieldLeader
	fieldElectionEpoch
	fieldState
	fieldData

	knownFields = fieldData<<1 - 1
)

// Marshal encodes m.
func Marshal(m Message) []byte { return AppendMarshal(nil, m) }

// AppendMarshal appends the encoding of m to dst.
func AppendMarshal(dst []byte, m Message) []byte {
	var mask uint64
	set := func(bit uint64, present bool) {
		if present {
			mask |= bit
		}
	}
	set(fieldFrom, m.From != 0)
	set(fieldTo, m.To != 0)
	set(fieldZxid, m.Zxid != 0)
	set(fieldEpoch, m.Epoch != 0)
	set(fieldFlags, m.Flags != 0)
	set(fieldLeader, m.Leader != 0)
	set(fieldElectionEpoch, m.ElectionEpoch != 0)
	set(fieldState, m.State != 0)
	set(fieldData, len(m.Data) > 0)

	dst = append(dst, byte(m.Type))
	dst = binary.AppendUvarint(dst, mask)
	if mask&fieldFrom != 0 {
		dst = binary.AppendUvarint(dst, m.From)
	}
	if mask&fieldTo != 0 {
		dst = binary.AppendUvarint(dst, m.To)
	}
	if mask&fieldZxid != 0 {
		dst = binary.AppendVarint(dst, m.Zxid)
	}
	if mask&fieldEpoch != 0 {
		dst = binary.AppendVarint(dst, m.Epoch)
	}
	if mask&fieldFlags != 0 {
		dst = binary.AppendUvarint(dst, uint64(m.Flags))
	}
	if mask&fieldLeader != 0 {
		dst = binary.AppendUvarint(dst, m.Leader)
	}
	if mask&fieldElectionEpoch != 0 {
		dst = binary.AppendVarint(dst, m.ElectionEpoch)
	}
	if mask&fieldState != 0 {
		dst = binary.AppendUvarint(dst, uint64(m.State))
	}
	if mask&fieldData != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(m.Data)))
		dst = append(dst, m.Data...)
	}
	return dst
}

// Unmarshal decodes one Message that fills b exactly. Data is a view into b
// (its capacity capped): the caller hands b over and must not modify it.
func Unmarshal(b []byte) (Message, error) {
	d := decoder{b: b}
	var m Message
	t := MessageType(d.byte())
	if d.err != nil {
		return Message{}, d.err
	}
	if !t.known() {
		return Message{}, fmt.Errorf("%w: %d", ErrUnknownType, uint8(t))
	}
	m.Type = t
	mask := d.uvarint()
	if d.err == nil && mask&^uint64(knownFields) != 0 {
		return Message{}, fmt.Errorf("%w: unknown field bits %#x", ErrMalformed, mask&^uint64(knownFields))
	}
	if mask&fieldFrom != 0 {
		m.From = d.uvarint()
	}
	if mask&fieldTo != 0 {
		m.To = d.uvarint()
	}
	if mask&fieldZxid != 0 {
		m.Zxid = d.varint()
	}
	if mask&fieldEpoch != 0 {
		m.Epoch = d.varint()
	}
	if mask&fieldFlags != 0 {
		f := d.uvarint()
		if d.err == nil && f&^uint64(knownFlags) != 0 {
			return Message{}, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, f)
		}
		m.Flags = Flags(f)
	}
	if mask&fieldLeader != 0 {
		m.Leader = d.uvarint()
	}
	if mask&fieldElectionEpoch != 0 {
		m.ElectionEpoch = d.varint()
	}
	if mask&fieldState != 0 {
		s := d.uvarint()
		if d.err == nil && (s < uint64(Looking) || s > uint64(Observing)) {
			return Message{}, fmt.Errorf("%w: invalid state %d", ErrMalformed, s)
		}
		m.State = ServerState(s)
	}
	if mask&fieldData != 0 {
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			return Message{}, fmt.Errorf("%w: data length %d exceeds the %d bytes left", ErrMalformed, n, len(d.b))
		}
		if d.err == nil {
			if n > 0 { // an empty Data decodes as nil, as Marshal leaves it out
				m.Data = d.b[:n:n]
			}
			d.b = d.b[n:]
		}
	}
	if d.err != nil {
		return Message{}, d.err
	}
	if len(d.b) != 0 {
		return Message{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return m, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("%w: empty", ErrMalformed)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad uvarint", ErrMalformed)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrMalformed)
		return 0
	}
	d.b = d.b[n:]
	return v
}
