package jute

import "testing"

func TestBufferCopiesUnlessShared(t *testing.T) {
	e := NewEncoder(nil)
	e.Buffer([]byte("abc"))
	e.Buffer([]byte("de"))
	in := e.Bytes()

	d := NewDecoder(in, 0)
	b := d.Buffer("copy")
	in[4] = 'X'
	if string(b) != "abc" {
		t.Fatalf("default Buffer aliases its input: %q", b)
	}
	in[4] = 'a'

	d = NewDecoder(in, 0).ShareBuffers()
	b = d.Buffer("shared")
	if string(b) != "abc" || cap(b) != 3 {
		t.Fatalf("shared Buffer = %q cap %d, want \"abc\" cap 3", b, cap(b))
	}
	in[4] = 'X'
	if b[0] != 'X' {
		t.Fatal("shared Buffer is not a view of the input")
	}
	_ = append(b, 'Z') // must reallocate: the next field follows in the input
	if next := d.Buffer("next"); string(next) != "de" || d.Err() != nil {
		t.Fatalf("next field = %q, err %v", next, d.Err())
	}
}
