package jute

import (
	"errors"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	e := NewEncoder(nil)
	e.Bool(true)
	e.Byte(7)
	e.Int(math.MinInt32)
	e.Long(math.MaxInt64)
	e.String("héllo")
	e.String("")
	e.Buffer(nil)
	e.Buffer([]byte{})
	e.Buffer([]byte{1, 2})
	e.Strings([]string{"a", "", "c"})
	e.Strings(nil)
	d := NewDecoder(e.Bytes(), 0)
	if !d.Bool("b") || d.Byte("y") != 7 || d.Int("i") != math.MinInt32 || d.Long("l") != math.MaxInt64 {
		t.Fatal("scalars")
	}
	if d.String("s") != "héllo" || d.String("e") != "" {
		t.Fatal("strings")
	}
	if d.Buffer("nil") != nil {
		t.Fatal("null buffer should decode as nil")
	}
	if b := d.Buffer("empty"); b == nil || len(b) != 0 {
		t.Fatal("empty buffer should decode as empty, not nil")
	}
	if b := d.Buffer("b"); len(b) != 2 || b[1] != 2 {
		t.Fatal("buffer")
	}
	if v := d.Strings("v"); len(v) != 3 || v[2] != "c" {
		t.Fatalf("vector %v", v)
	}
	if v := d.Strings("nil"); len(v) != 0 {
		t.Fatal("empty vector")
	}
	if err := d.Done("end"); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyValuesAreNeverNull(t *testing.T) {
	// go-zookeeper cannot decode a -1 string or vector length.
	e := NewEncoder(nil)
	e.String("")
	e.Strings(nil)
	for i, b := range e.Bytes() {
		if b != 0 {
			t.Fatalf("byte %d is %#x: empty string/vector must be length 0", i, b)
		}
	}
}

func TestNullStringDecodesEmpty(t *testing.T) {
	// Kazoo sends "" as a null string.
	d := NewDecoder([]byte{0xff, 0xff, 0xff, 0xff}, 0)
	if s := d.String("s"); s != "" || d.Err() != nil {
		t.Fatalf("%q %v", s, d.Err())
	}
}

func TestErrorsNameFieldAndOffset(t *testing.T) {
	d := NewDecoder([]byte{0, 0, 0, 1, 0, 0, 0, 9, 'x'}, 0)
	d.Int("first")
	_ = d.String("path")
	var de *DecodeError
	if !errors.As(d.Err(), &de) || de.Field != "path" || de.Offset != 4 || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("error %v", d.Err())
	}
	// Sticky: later reads return zero values.
	if d.Long("after") != 0 || d.Err() != de {
		t.Fatal("error not sticky")
	}
	d = NewDecoder([]byte{0xff, 0xff, 0xff, 0xfe}, 0)
	d.Buffer("buf")
	if !errors.Is(d.Err(), ErrBadLength) {
		t.Fatalf("negative length: %v", d.Err())
	}
	d = NewDecoder([]byte{0, 0, 0x10, 0, 1}, 100)
	d.String("big")
	if !errors.Is(d.Err(), ErrBadLength) {
		t.Fatalf("length over max: %v", d.Err())
	}
	// A vector count larger than the bytes left cannot allocate a huge slice.
	d = NewDecoder([]byte{0x7f, 0, 0, 0}, 1<<30)
	if n := d.VectorLen("v", 4); n != 0 || d.Err() == nil {
		t.Fatalf("huge vector accepted: %d", n)
	}
}

func FuzzDecoder(f *testing.F) {
	e := NewEncoder(nil)
	e.Int(3)
	e.String("abc")
	e.Strings([]string{"x", "y"})
	e.Buffer([]byte{9})
	f.Add(e.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b, 1<<20)
		for d.Err() == nil && d.Remaining() > 0 {
			switch d.Byte("k") % 6 {
			case 0:
				d.String("s")
			case 1:
				d.Buffer("b")
			case 2:
				d.Strings("v")
			case 3:
				d.Long("l")
			case 4:
				d.Bool("t")
			case 5:
				d.VectorLen("n", 1)
			}
		}
		if d.Offset() > len(b) {
			t.Fatalf("offset %d past %d", d.Offset(), len(b))
		}
	})
}
