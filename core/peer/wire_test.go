package peer

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/zoogate/zoogate/core/zab"
)

func TestHelloRoundTrip(t *testing.T) {
	for _, h := range []hello{good(1, 2), {Version: 7, From: 1 << 60, To: 3, Cluster: string(bytes.Repeat([]byte("x"), maxClusterName))}} {
		got, err := decodeHello(appendHello(nil, h))
		if err != nil || got != h {
			t.Fatalf("%+v -> %+v, %v", h, got, err)
		}
	}
	b := appendHello(nil, good(1, 2))
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append(b[:len(b):len(b)], 'x')} {
		if _, err := decodeHello(bad); !errors.Is(err, ErrBadHello) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	checks := map[string]error{
		"ok":      checkHello(good(1, 2), "test", 1, 2),
		"any":     checkHello(good(1, 2), "test", 0, 2),
		"cluster": checkHello(good(1, 2), "other", 1, 2),
		"from":    checkHello(good(1, 2), "test", 3, 2),
		"to":      checkHello(good(1, 2), "test", 1, 3),
		"version": checkHello(hello{Version: 2, From: 1, To: 2, Cluster: "test"}, "test", 1, 2),
	}
	for name, err := range checks {
		if want := name == "ok" || name == "any"; (err == nil) != want || (err != nil && !errors.Is(err, ErrHandshake)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFrameReader(t *testing.T) {
	var stream []byte
	bodies := [][]byte{{1}, bytes.Repeat([]byte{2}, 3<<20+5), {3, 3}}
	for _, b := range bodies {
		stream = append(stream, frame(b)...)
	}
	fr := frameReader{r: bytes.NewReader(stream), max: 4 << 20}
	for i, want := range bodies {
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	if fr.off != int64(len(stream)) {
		t.Fatalf("offset %d, want %d", fr.off, len(stream))
	}
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"empty":     {[]byte{0, 0, 0, 0}, ErrEmptyFrame},
		"oversize":  {[]byte{0, 0x50, 0, 0}, ErrFrameTooLarge},
		"header":    {[]byte{0, 0}, io.ErrUnexpectedEOF},
		"truncated": {[]byte{0, 0, 0, 9, 1, 2}, io.ErrUnexpectedEOF},
	} {
		fr := frameReader{r: bytes.NewReader(c.in), max: 4 << 20}
		if _, err := fr.next(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// TestFrameReaderLyingLength: a length prefix claiming 1 GiB with only a
// few bytes behind it does not allocate anywhere near that.
func TestFrameReaderLyingLength(t *testing.T) {
	in := append([]byte{0x40, 0, 0, 0}, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fr := frameReader{r: bytes.NewReader(in), max: 1 << 30}
	if _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Fatalf("allocated %d bytes for a 100-byte body", n)
	}
}

// decodeStream is what a connection's reader does with the bytes it gets:
// a hello frame, then message frames. It is the fuzz target's subject.
func decodeStream(b []byte, max int) (hello, []zab.Message, error) {
	r := bytes.NewReader(b)
	fr := frameReader{r: r, max: maxHelloLen}
	body, err := fr.next()
	if err != nil {
		return hello{}, nil, err
	}
	h, err := decodeHello(body)
	if err != nil {
		return hello{}, nil, err
	}
	fr.max = max
	var msgs []zab.Message
	for {
		body, err := fr.next()
		if err == io.EOF {
			return h, msgs, nil
		}
		if err != nil {
			return h, msgs, err
		}
		m, err := zab.Unmarshal(body)
		if err != nil {
			return h, msgs, err
		}
		msgs = append(msgs, m)
	}
}

func FuzzDecodeStream(f *testing.F) {
	valid := frame(appendHello(nil, good(1, 2)))
	valid = append(valid, frame(zab.Marshal(zab.Message{Type: zab.MsgProposal, From: 1, To: 2, Zxid: 5, Data: []byte("tx")}))...)
	valid = append(valid, frame(zab.Marshal(zab.Message{Type: zab.MsgVote, From: 1, Leader: 3, State: zab.Looking, ElectionEpoch: 2}))...)
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(frame(appendHello(nil, hello{Version: 1, Cluster: "c"})))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add(append(frame(appendHello(nil, good(1, 2))), 0, 0, 1, 0, 200))
	f.Add([]byte("ZGPR"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, msgs, err := decodeStream(b, 1<<16)
		if err != nil && h == (hello{}) && len(msgs) > 0 {
			t.Fatal("messages without a hello")
		}
		if h != (hello{}) {
			// A decoded hello re-encodes to the same bytes.
			if got := appendHello(nil, h); !bytes.Equal(frame(got), b[:4+len(got)]) {
				t.Fatalf("hello %+v does not round-trip", h)
			}
		}
		for _, m := range msgs {
			back, err := zab.Unmarshal(zab.Marshal(m))
			if err != nil || back.String() != m.String() || !bytes.Equal(back.Data, m.Data) {
				t.Fatalf("message %v does not round-trip: %v", m, err)
			}
		}
	})
}
