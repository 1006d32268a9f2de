package wan

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

func TestFrameRoundTrip(t *testing.T) {
	var b []byte
	b = appendDataFrame(b, []byte("heartbeat"))
	b = appendDataFrame(b, nil)
	b = appendBlobFrame(b, 7, 5<<20, []byte("snap"))
	b = append(b, heartbeatFrame...)
	b = appendDataFrame(b, bytes.Repeat([]byte{1}, 3<<20)) // larger than readChunk
	fr := &frameReader{r: bufio.NewReader(bytes.NewReader(b)), max: 4 << 20}
	want := []frame{
		{Kind: kindData, Payload: []byte("heartbeat")},
		{Kind: kindData, Payload: []byte{}},
		{Kind: kindBlob, BlobID: 7, Size: 5 << 20, Payload: []byte("snap")},
		{Kind: kindHeartbeat},
		{Kind: kindData, Payload: bytes.Repeat([]byte{1}, 3<<20)},
	}
	for i, w := range want {
		f, err := fr.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.Kind != w.Kind || f.BlobID != w.BlobID || f.Size != w.Size || !bytes.Equal(f.Payload, w.Payload) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty frame", []byte{0, 0, 0, 0}, ErrBadFrame},
		{"too large", []byte{0, 0, 1, 0}, ErrFrameTooLarge},
		{"data above max", appendDataFrame(nil, make([]byte, 65)), ErrFrameTooLarge},
		{"unknown kind", []byte{0, 0, 0, 1, 9}, ErrBadFrame},
		{"short blob header", []byte{0, 0, 0, 3, kindBlob, 0, 0}, ErrBadFrame},
		{"blob size above 2^62", appendBlobFrame(nil, 1, -1, nil), ErrBadFrame},
		{"heartbeat with a body", []byte{0, 0, 0, 2, kindHeartbeat, 0}, ErrBadFrame},
		{"cut in the length", []byte{0, 0}, ErrBadFrame},
		{"cut in the body", []byte{0, 0, 0, 5, kindData, 1}, ErrBadFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := &frameReader{r: bufio.NewReader(bytes.NewReader(tc.in)), max: 64}
			if _, err := fr.next(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHello(t *testing.T) {
	h := hello{Version: wireVersion, Kind: streamRequests, Flags: helloCompressed, From: 2, To: 1, Cluster: testCluster}
	got, err := readHello(bytes.NewReader(appendHello(nil, h)))
	if err != nil || got != h {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, tc := range []struct {
		h    hello
		want string
	}{
		{hello{Version: 1, Kind: 1, From: 2, To: 1, Cluster: testCluster}, "version 1"},
		{hello{Version: 2, Kind: 3, From: 2, To: 1, Cluster: testCluster}, "unknown stream kind"},
		{hello{Version: 2, Kind: 1, Flags: 2, From: 2, To: 1, Cluster: testCluster}, "unknown hello flags"},
		{hello{Version: 2, Kind: 2, From: 2, To: 1, Cluster: testCluster}, "stream kind 2, want 1"},
		{hello{Version: 2, Kind: 1, From: 2, To: 1, Cluster: "staging"}, "cluster"},
		{hello{Version: 2, Kind: 1, From: 3, To: 1, Cluster: testCluster}, "hello 3->1"},
		{hello{Version: 2, Kind: 1, From: 2, To: 5, Cluster: testCluster}, "hello 2->5"},
	} {
		err := checkHello(tc.h, testCluster, 2, 1, streamOrdered)
		if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.h, err, tc.want)
		}
	}
	if _, err := readHello(strings.NewReader("ZGPR\x01\x01")); err == nil {
		t.Fatal("a short hello was accepted")
	}
	bad := appendHello(nil, h)
	copy(bad, "XXXX")
	if _, err := readHello(bytes.NewReader(bad)); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("bad magic: %v", err)
	}
	id, size, err := readBlobPreamble(bytes.NewReader(appendBlobPreamble(nil, 9, 1234)))
	if err != nil || id != 9 || size != 1234 {
		t.Fatalf("blob preamble: %d %d %v", id, size, err)
	}
}

// FuzzFrameReader: whatever the bytes, the reader returns frames or an
// error without panicking, never a frame above its max, and every frame it
// returns re-encodes to exactly the bytes it consumed.
func FuzzFrameReader(f *testing.F) {
	f.Add(appendDataFrame(nil, []byte("heartbeat")))
	f.Add(appendBlobFrame(appendDataFrame(nil, nil), 1, 100, []byte("hdr")))
	f.Add([]byte{0, 0, 0, 0})
	f.Add(append(append([]byte(nil), heartbeatFrame...), appendDataFrame(nil, []byte("x"))...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, kindData})
	f.Add([]byte{0, 0, 0, 17, kindBlob, 0, 0, 0, 0, 0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 256
		fr := &frameReader{r: bufio.NewReader(bytes.NewReader(in)), max: max}
		for {
			start := fr.off
			fr0, err := fr.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(fr0.Payload) > max {
				t.Fatalf("payload of %d bytes above max %d", len(fr0.Payload), max)
			}
			var re []byte
			switch fr0.Kind {
			case kindBlob:
				re = appendBlobFrame(nil, fr0.BlobID, fr0.Size, fr0.Payload)
			case kindHeartbeat:
				re = heartbeatFrame
			default:
				re = appendDataFrame(nil, fr0.Payload)
			}
			if !bytes.Equal(re, in[start:fr.off]) {
				t.Fatalf("frame %+v re-encodes to %x, read from %x", fr0, re, in[start:fr.off])
			}
		}
	})
}

// FuzzReadHello: readHello never panics, and what it accepts re-encodes to
// the bytes it read.
func FuzzReadHello(f *testing.F) {
	f.Add(appendHello(nil, hello{Version: 2, Kind: 1, Flags: helloCompressed, From: 2, To: 1, Cluster: "prod"}))
	f.Add([]byte("ZGWN"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := readHello(r)
		if err != nil {
			return
		}
		if n := len(in) - r.Len(); !bytes.Equal(appendHello(nil, h), in[:n]) {
			t.Fatalf("hello %+v re-encodes differently", h)
		}
	})
}

// FuzzCompressedLane: a lane whose sender announced compression is read
// through the inflater; whatever the bytes, the reader returns frames or
// an error of the kinds a plain lane gives, never a frame above its max.
func FuzzCompressedLane(f *testing.F) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, 1)
	fw.Write(appendDataFrame(nil, []byte("a frame")))
	fw.Flush()
	fw.Write(heartbeatFrame)
	fw.Close()
	f.Add(b.Bytes())
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 256
		r := bufio.NewReader(inflater{flate.NewReader(bufio.NewReader(bytes.NewReader(in)))})
		fr := &frameReader{r: r, max: max}
		for {
			f, err := fr.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error kind: %T %v", err, err)
				}
				return
			}
			if len(f.Payload) > max {
				t.Fatalf("payload of %d bytes above max %d", len(f.Payload), max)
			}
		}
	})
}
