package storage

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf []byte
	in := recs(1, 2, 0x100000003)
	in = append(in, Record{Zxid: 0x100000004}) // empty payload
	for _, r := range in {
		buf = appendFrame(buf, r)
	}
	for _, want := range in {
		got, n, err := decodeFrame(buf, 1<<20)
		if err != nil {
			t.Fatalf("decode %#x: %v", want.Zxid, err)
		}
		if n != frameSize(len(want.Payload)) || got.Zxid != want.Zxid || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("decode %#x: got %#x len %d", want.Zxid, got.Zxid, n)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left", len(buf))
	}
}

func TestFrameErrors(t *testing.T) {
	good := appendFrame(nil, Record{Zxid: 5, Payload: []byte("payload")})
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	negZxid := appendFrame(nil, Record{Zxid: -1, Payload: []byte("x")})
	cases := []struct {
		name string
		b    []byte
		max  int
		want error
	}{
		{"empty", nil, 100, errFrameZero},
		{"zeros", make([]byte, 40), 100, errFrameZero},
		{"short zeros", make([]byte, 5), 100, errFrameZero},
		{"short header", good[:10], 100, errFrameShort},
		{"short payload", good[:len(good)-1], 100, errFrameShort},
		{"too long", good, 3, errFrameLen},
		{"crc field", flip(5), 100, errFrameCRC},
		{"zxid bit", flip(12), 100, errFrameCRC},
		{"payload bit", flip(18), 100, errFrameCRC},
		{"negative zxid", negZxid, 100, errFrameZxid},
	}
	for _, c := range cases {
		if _, _, err := decodeFrame(c.b, c.max); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSegmentHeader(t *testing.T) {
	h := encodeSegmentHeader(0x100000001)
	if first, err := decodeSegmentHeader(h); err != nil || first != 0x100000001 {
		t.Fatalf("decode = %#x, %v", first, err)
	}
	bad := func(mut func([]byte)) []byte { b := append([]byte(nil), h...); mut(b); return b }
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"short":   {h[:10], errHeaderShort},
		"magic":   {bad(func(b []byte) { b[0] = 'X' }), errHeaderMagic},
		"crc":     {bad(func(b []byte) { b[9] ^= 1 }), errHeaderCRC},
		"zeros":   {make([]byte, segmentHeaderSize), errHeaderMagic},
		"zero id": {encodeSegmentHeader(0), errHeaderZxid},
	} {
		if _, err := decodeSegmentHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestParseZxidName(t *testing.T) {
	for _, c := range []struct {
		name string
		zxid int64
		tmp  bool
		ok   bool
	}{
		{"log.000000010000002a", 0x10000002a, false, true},
		{"log.000000010000002a.tmp", 0x10000002a, true, true},
		{"log.000000010000002A", 0, false, false},
		{"log.10000002a", 0, false, false},
		{"log.00000001000000zz", 0, false, false},
		{"snapshot.0000000000000001", 0, false, false},
		{"acceptedEpoch", 0, false, false},
	} {
		z, tmp, ok := parseZxidName(c.name, segmentPrefix)
		if ok != c.ok || (ok && (z != c.zxid || tmp != c.tmp)) {
			t.Errorf("%s: got %#x %v %v", c.name, z, tmp, ok)
		}
	}
	if segmentName(0x10000002a) != "log.000000010000002a" {
		t.Errorf("segmentName = %s", segmentName(0x10000002a))
	}
}

// FuzzDecodeFrame: the decoder never panics, and what it accepts re-encodes
// to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, Record{Zxid: 1, Payload: []byte("hello")}))
	f.Add(appendFrame(nil, Record{Zxid: 0x100000000, Payload: nil}))
	f.Add(make([]byte, 16))
	f.Add([]byte{0, 0, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeFrame(b, 1<<16)
		if err != nil {
			return
		}
		if n > len(b) || r.Zxid <= 0 || len(r.Payload) > 1<<16 {
			t.Fatalf("accepted invalid frame: n=%d zxid=%d", n, r.Zxid)
		}
		if re := appendFrame(nil, r); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzScanSegment: scanning arbitrary bytes after a valid header never
// panics, and what it reports is consistent.
func FuzzScanSegment(f *testing.F) {
	var seg []byte
	for _, r := range recs(7, 8, 9) {
		seg = appendFrame(seg, r)
	}
	f.Add(seg)
	f.Add(append(append([]byte(nil), seg...), make([]byte, 64)...))
	f.Add(append(append([]byte(nil), seg[:40]...), 1, 2, 3))
	f.Add(append(append(append([]byte(nil), seg[:20]...), 0xee), seg[40:]...))
	f.Fuzz(func(t *testing.T, body []byte) {
		m := vfs.NewMem()
		file, _ := m.Create("seg")
		file.Write(encodeSegmentHeader(7))
		file.Write(body)
		size, _ := file.Size()
		var seen []int64
		sc, err := scanSegment(file, size, "seg", 7, 0, 1<<12, func(r Record, off int64) error {
			seen = append(seen, r.Zxid)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("non-corruption error: %v", err)
			}
			return
		}
		if sc.count != len(seen) || sc.end > size || sc.end < segmentHeaderSize {
			t.Fatalf("inconsistent scan: %+v, %d seen, size %d", sc, len(seen), size)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("zxids out of order: %v", seen)
			}
		}
		if len(seen) > 0 && seen[0] != 7 {
			t.Fatalf("first zxid %d", seen[0])
		}
	})
}

// FuzzSegmentHeader: the segment header decoder never panics and accepts
// only what it would write.
func FuzzSegmentHeader(f *testing.F) {
	f.Add(encodeSegmentHeader(1))
	f.Add(encodeSegmentHeader(0x7fffffffffffffff))
	f.Add([]byte("ZGTL"))
	f.Fuzz(func(t *testing.T, b []byte) {
		first, err := decodeSegmentHeader(b)
		if err == nil && !bytes.Equal(encodeSegmentHeader(first), b[:segmentHeaderSize]) {
			t.Fatal("accepted a header it would not write")
		}
	})
}
