package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
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
		"version": checkHello(hello{Version: protocolVersion + 1, From: 1, To: 2, Cluster: "test"}, "test", 1, 2),
		"v1":      checkHello(hello{Version: 1, From: 1, To: 2, Cluster: "test"}, "test", 1, 2),
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

// memSpool is a spooler in memory for the decoder's tests: it counts the
// files open and bounds what one may hold.
type memSpool struct {
	open, committed int
	max             int
}

type memSpoolFile struct {
	s   *memSpool
	buf bytes.Buffer
}

type bytesBlob []byte

func (b bytesBlob) Size() int64                  { return int64(len(b)) }
func (b bytesBlob) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }

func (s *memSpool) create() (spoolFile, error) {
	s.open++
	return &memSpoolFile{s: s}, nil
}

func (f *memSpoolFile) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.s.max {
		return 0, fmt.Errorf("%w: memSpool full", ErrSpool)
	}
	return f.buf.Write(p)
}

func (f *memSpoolFile) commit(size int64) (zab.Blob, error) {
	f.s.open--
	if int64(f.buf.Len()) != size {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrSpool, f.buf.Len(), size)
	}
	f.s.committed++
	return bytesBlob(f.buf.Bytes()), nil
}

func (f *memSpoolFile) discard() { f.s.open-- }

// encodeStream writes msgs as a connection's writer does (after the
// hello): blobs in chunks of chunk bytes.
func encodeStream(t testing.TB, chunk int, msgs ...zab.Message) []byte {
	t.Helper()
	var w bytes.Buffer
	for _, m := range msgs {
		if m.Blob != nil {
			if err := writeBlob(&w, m, 1<<20, chunk); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w.Write(frame(zab.Marshal(m)))
	}
	return w.Bytes()
}

func newMsgReader(b []byte, sp *memSpool) *msgReader {
	return &msgReader{fr: frameReader{r: bytes.NewReader(b), max: 1 << 16}, maxBlob: 1 << 20, spool: sp, buf: make([]byte, 512)}
}

// readAll decodes a stream to its end or first error.
func readAll(r *msgReader) ([]zab.Message, error) {
	var msgs []zab.Message
	for {
		m, err := r.next()
		if err == io.EOF {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

// TestBlobFramesRoundTrip: messages and blobs (one of them empty) written
// as the link writes them decode to the same messages, blob bytes equal;
// the blob travels in chunk frames no larger than the chunk size.
func TestBlobFramesRoundTrip(t *testing.T) {
	big := bytesBlob(bytes.Repeat([]byte("0123456789abcdef"), 1000)[:10007])
	msgs := []zab.Message{
		{Type: zab.MsgPing, From: 1, To: 2, Data: []byte("x")},
		{Type: zab.MsgSnap, From: 1, To: 2, Zxid: 9, Blob: big},
		{Type: zab.MsgProposal, From: 1, To: 2, Zxid: 10, Data: []byte("tx")},
		{Type: zab.MsgSnap, From: 1, To: 2, Zxid: 11, Blob: bytesBlob{}},
		{Type: zab.MsgCommit, From: 1, To: 2, Zxid: 10},
	}
	stream := encodeStream(t, 1000, msgs...)
	// Frame by frame: the chunks are at most 1000 bytes.
	chunks := 0
	for b := stream; len(b) > 0; {
		n := binary.BigEndian.Uint32(b)
		body := int(n &^ ctlBit)
		if n&ctlBit != 0 && b[4] == ctlBlobChunk {
			chunks++
			if body-1 > 1000 {
				t.Fatalf("a chunk of %d bytes", body-1)
			}
		}
		b = b[4+body:]
	}
	if chunks != 11 {
		t.Fatalf("%d chunks for 10007 bytes in 1000-byte chunks", chunks)
	}
	sp := &memSpool{max: 1 << 20}
	got, err := readAll(newMsgReader(stream, sp))
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("%d messages, %v", len(got), err)
	}
	for i, m := range msgs {
		g := got[i]
		if g.String() != m.String() || !bytes.Equal(g.Data, m.Data) || (g.Blob == nil) != (m.Blob == nil) {
			t.Fatalf("message %d: %v, want %v", i, g, m)
		}
		if m.Blob != nil && !bytes.Equal(g.Blob.(bytesBlob), m.Blob.(bytesBlob)) {
			t.Fatalf("message %d: blob differs", i)
		}
	}
	if sp.open != 0 || sp.committed != 2 {
		t.Fatalf("spool: %d open, %d committed", sp.open, sp.committed)
	}
}

// TestMsgReaderErrors: every malformed or out-of-place control frame is
// an error of the right kind, and a blob in progress is discarded.
func TestMsgReaderErrors(t *testing.T) {
	ping := frame(zab.Marshal(zab.Message{Type: zab.MsgPing, From: 1, To: 2}))
	hdr := func(size int64) []byte {
		return appendBlobHeader(nil, zab.Message{Type: zab.MsgSnap, From: 1, To: 2}, size)
	}
	chunk := func(b ...byte) []byte { return append(appendCtlHeader(nil, 1+len(b), ctlBlobChunk), b...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"chunk alone":      {cat(ping, chunk(1)), ErrBadFrame},
		"unknown kind":     {appendCtlHeader(nil, 1, 99), ErrBadFrame},
		"empty control":    {binary.BigEndian.AppendUint32(nil, ctlBit), ErrEmptyFrame},
		"short header":     {append(appendCtlHeader(nil, 4, ctlBlobHeader), 0, 0, 0), ErrBadFrame},
		"bad header msg":   {append(appendCtlHeader(nil, 11, ctlBlobHeader), 0, 0, 0, 0, 0, 0, 0, 1, 200, 0), ErrBadFrame},
		"header too large": {append(binary.BigEndian.AppendUint32(nil, ctlBit|1<<17), ctlBlobHeader), ErrFrameTooLarge},
		"too large":        {hdr(1<<20 + 1), ErrSnapshotTooLarge},
		"message inside":   {cat(hdr(3), chunk(1), ping), ErrBadFrame},
		"chunk overflow":   {cat(hdr(3), chunk(1, 2, 3, 4)), ErrBadFrame},
		"empty chunk":      {cat(hdr(3), chunk()), ErrBadFrame},
		"other inside":     {cat(hdr(3), hdr(3)), ErrBadFrame},
		"aborted":          {cat(hdr(3), chunk(1), appendAbort(nil, "disk")), ErrBlobAborted},
		"aborted early":    {cat(ping, appendAbort(nil, "")), ErrBlobAborted},
		"cut":              {cat(hdr(3), chunk(1)), io.ErrUnexpectedEOF},
		"cut in chunk":     {cat(hdr(3), chunk(1, 2, 3)[:6]), io.ErrUnexpectedEOF},
		"cut in kind":      {cat(hdr(3), chunk(1)[:4]), io.ErrUnexpectedEOF},
		"spool full":       {cat(hdr(3), chunk(1, 2, 3)), ErrSpool},
	} {
		sp := &memSpool{max: 1 << 20}
		if name == "spool full" {
			sp.max = 2
		}
		_, err := readAll(newMsgReader(c.in, sp))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if sp.open != 0 || sp.committed != 0 {
			t.Errorf("%s: spool %d open, %d committed", name, sp.open, sp.committed)
		}
	}
	long := appendAbort(nil, string(bytes.Repeat([]byte("x"), 2*maxAbortReason)))
	if len(long) != 5+maxAbortReason {
		t.Fatalf("abort frame of %d bytes", len(long))
	}
}

// FuzzMsgReader feeds arbitrary bytes to the decoder of what follows the
// hello (message frames, blob headers, chunks, aborts).
func FuzzMsgReader(f *testing.F) {
	// Small seeds: the engine minimizes every new input, at a cost that
	// grows with its length.
	blob := bytesBlob(bytes.Repeat([]byte{7}, 150))
	valid := encodeStream(f, 64,
		zab.Message{Type: zab.MsgPing, From: 1, To: 2},
		zab.Message{Type: zab.MsgSnap, From: 1, To: 2, Zxid: 4, Blob: blob},
		zab.Message{Type: zab.MsgSnap, From: 1, To: 2, Blob: bytesBlob{}},
		zab.Message{Type: zab.MsgProposal, From: 1, To: 2, Zxid: 5, Data: []byte("tx")},
	)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(valid[:30])
	f.Add(append(appendBlobHeader(nil, zab.Message{Type: zab.MsgSnap}, 5), appendAbort(nil, "no")...))
	f.Add(appendBlobHeader(nil, zab.Message{Type: zab.MsgSnap}, 1<<40))
	f.Add(append(appendCtlHeader(nil, 3, ctlBlobChunk), 1, 2))
	f.Add(binary.BigEndian.AppendUint32(nil, ctlBit))
	f.Fuzz(func(t *testing.T, b []byte) {
		sp := &memSpool{max: 1 << 20}
		r := newMsgReader(b, sp)
		r.maxBlob = 1 << 16
		msgs, err := readAll(r)
		if sp.open != 0 {
			t.Fatalf("%d spool files left open (err %v)", sp.open, err)
		}
		if sp.committed > len(msgs) {
			t.Fatalf("%d blobs committed, %d messages returned", sp.committed, len(msgs))
		}
		if r.fr.off > int64(len(b)) {
			t.Fatalf("offset %d beyond the %d bytes", r.fr.off, len(b))
		}
		// Whatever decoded re-encodes and decodes to the same.
		back, err := readAll(newMsgReader(encodeStream(t, MinSnapshotChunkSize, msgs...), &memSpool{max: 1 << 20}))
		if err != nil || len(back) != len(msgs) {
			t.Fatalf("re-encoding %d messages: %d back, %v", len(msgs), len(back), err)
		}
		for i, m := range msgs {
			g := back[i]
			if g.String() != m.String() || !bytes.Equal(g.Data, m.Data) || (g.Blob == nil) != (m.Blob == nil) {
				t.Fatalf("message %d: %v, then %v", i, m, g)
			}
			if m.Blob != nil && (m.Blob.Size() > 1<<16 || !bytes.Equal(g.Blob.(bytesBlob), m.Blob.(bytesBlob))) {
				t.Fatalf("message %d: blob of %d bytes does not round-trip", i, m.Blob.Size())
			}
		}
	})
}
