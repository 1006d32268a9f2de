package gossip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	m := Meta{ID: 7, Site: "eu", Role: "relay", Client: "10.0.0.7:2181", WAN: "203.0.113.7:4181",
		State: StateReadOnly, Leader: 2, Epoch: 5, Upstream: 2, Zxid: 0x500000123, LagTxns: 12, LagMs: 340, Boot: 0xfeedface12345678}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, m)
	}
	// A newer node's extra bytes are ignored.
	if got, err := DecodeMeta(append(b, 1, 2, 3)); err != nil || got != m {
		t.Fatalf("with trailing bytes: %+v %v", got, err)
	}
}

func TestMetaBadInput(t *testing.T) {
	good, _ := Meta{ID: 1, Site: "p", Role: "voter", Client: "127.0.0.1:2181"}.Encode()
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "version truncated or malformed at offset 0"},
		{"wrong version", []byte{9}, "version 9 at offset 0"},
		{"truncated", good[:4], "truncated or malformed at offset"},
		{"string longer than the rest", []byte{1, 1, 200, 'x'}, "site truncated or malformed at offset 2"},
	} {
		_, err := DecodeMeta(tc.b)
		if !errors.Is(err, ErrBadMeta) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrBadMeta with %q", tc.name, err, tc.want)
		}
	}
	if _, err := (Meta{Site: strings.Repeat("x", 256)}).Encode(); !errors.Is(err, ErrBadMeta) {
		t.Errorf("a 256-byte site encoded: %v", err)
	}
	if _, err := (Meta{Site: strings.Repeat("x", 255), Role: strings.Repeat("y", 255), Client: strings.Repeat("z", 10)}).Encode(); !errors.Is(err, ErrBadMeta) {
		t.Errorf("metadata over 512 bytes encoded: %v", err)
	}
}

// FuzzDecodeMeta: any bytes decode or fail cleanly; what decodes encodes
// back to something that decodes the same.
func FuzzDecodeMeta(f *testing.F) {
	good, _ := Meta{ID: 3, Site: "p", Role: "voter", Client: "127.0.0.1:2181", State: StateServing, Leader: 3, Epoch: 1, Zxid: 42}.Encode()
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			return // e.g. over the size limit after re-encoding is impossible; strings ≤ 255 each
		}
		m2, err := DecodeMeta(again)
		if err != nil || m2 != m {
			t.Fatalf("re-encoded %+v decodes as %+v %v", m, m2, err)
		}
	})
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	if got, err := ParseKey(append([]byte("  "), FormatKey(key)...)); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %x %v", got, err)
	}
	for _, bad := range []string{"", "abcd", strings.Repeat("zz", 32), strings.Repeat("ab", 33)} {
		if _, err := ParseKey([]byte(bad)); !errors.Is(err, ErrKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrKey", bad, err)
		}
	}
}
