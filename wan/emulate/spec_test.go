package emulate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
	}{
		{"", Spec{}},
		{"  ", Spec{}},
		{"delay=40ms,jitter=2ms,loss=0.01,rate=10mbit", Spec{Delay: 40 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01, Rate: 10e6}},
		{" rate=1.5kbit , delay=1s", Spec{Delay: time.Second, Rate: 1500}},
		{"loss=1%", Spec{Loss: 0.01}},
		{"loss=100%", Spec{Loss: 1}},
		{"rate=2MBPS", Spec{Rate: 16e6}},
		{"rate=1gbit,limit=50", Spec{Rate: 1e9, Limit: 50}},
		{"rate=100bps", Spec{Rate: 800}},
		{"delay=0s", Spec{}},
	} {
		got, err := ParseSpec(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in     string
		field  string
		offset int
		want   string
	}{
		{"delay=40", "delay", 6, "not a duration"},
		{"delay=-1ms", "delay", 6, "must be in"},
		{"delay=1ms,jitter=11m", "jitter", 17, "must be in"},
		{"loss=2", "loss", 5, "must be in [0, 1]"},
		{"loss=150%", "loss", 5, "must be in"},
		{"loss=NaN", "loss", 5, "not a number"},
		{"rate=10", "rate", 5, "no unit"},
		{"rate=10mbits", "rate", 5, "no unit"},
		{"rate=xmbit", "rate", 5, "not a number"},
		{"rate=0bit", "rate", 5, "must be in"},
		{"limit=0", "limit", 6, "must be an integer"},
		{"delay=1ms,,loss=0", "item", 10, "empty item"},
		{"delay=1ms,", "item", 10, "empty item"},
		{"delay=1ms, bogus=1", "bogus", 11, "unknown field"},
		{"delay", "delay", 0, "expected key=value"},
		{"delay=1ms,delay=2ms", "delay", 10, "given twice"},
	} {
		_, err := ParseSpec(tc.in)
		var se *SpecError
		if !errors.As(err, &se) || se.Field != tc.field || se.Offset != tc.offset || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSpec(%q): %v; want field %q at offset %d with %q", tc.in, err, tc.field, tc.offset, tc.want)
		}
	}
}

func TestSpecStringRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		{},
		{Delay: 40 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01, Rate: 10e6, Limit: 10},
		{Rate: 1500},
		{Rate: 1234567},
		{Loss: 1.0 / 3},
	} {
		got, err := ParseSpec(s.String())
		if err != nil || got != s {
			t.Errorf("%+v -> %q -> %+v, %v", s, s.String(), got, err)
		}
	}
}

// FuzzParseSpec: ParseSpec never panics; what it accepts is valid and
// survives String and ParseSpec unchanged; what it refuses is a
// *SpecError whose offset is inside the input.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"", "delay=40ms,jitter=2ms,loss=0.01,rate=10mbit", "loss=1%", "rate=1.5kbit,limit=7",
		"delay=1ms,,", "rate=0x1p3mbit", "delay=1h,jitter=9m59s", "=", "loss=1e-400",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("ParseSpec(%q): %v (%T)", s, err, err)
			}
			return
		}
		if err := sp.Validate(); err != nil {
			t.Fatalf("ParseSpec(%q) = %+v, invalid: %v", s, sp, err)
		}
		again, err := ParseSpec(sp.String())
		if err != nil || again != sp {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, sp, sp.String(), again, err)
		}
	})
}
