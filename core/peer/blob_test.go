package peer

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/zoogate/zoogate/core/zab"
)

// Blobs: a SNAP's snapshot streamed in chunks, spooled by the receiver.

// testBlob is a Blob held in memory whose reader can fail on purpose and
// records how it is read.
type testBlob struct {
	data    []byte
	size    int64 // what Size reports
	failAt  int   // the reader fails once this many bytes were read (< 0: never)
	openErr error
	opens   atomic.Int32
	maxRead atomic.Int64 // largest buffer a Read was given
}

func newTestBlob(seed uint64, n int) *testBlob {
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return &testBlob{data: data, size: int64(n), failAt: -1}
}

var errDisk = errors.New("disk on fire")

func (b *testBlob) Size() int64 { return b.size }

func (b *testBlob) Open() (io.ReadCloser, error) {
	b.opens.Add(1)
	if b.openErr != nil {
		return nil, b.openErr
	}
	return &testBlobReader{b: b}, nil
}

type testBlobReader struct {
	b   *testBlob
	off int
}

func (r *testBlobReader) Read(p []byte) (int, error) {
	for {
		old := r.b.maxRead.Load()
		if int64(len(p)) <= old || r.b.maxRead.CompareAndSwap(old, int64(len(p))) {
			break
		}
	}
	if r.b.failAt >= 0 && r.off >= r.b.failAt {
		return 0, errDisk
	}
	end := len(r.b.data)
	if r.b.failAt >= 0 {
		end = min(end, r.b.failAt)
	}
	if r.off >= len(r.b.data) {
		return 0, io.EOF
	}
	n := copy(p, r.b.data[r.off:end])
	r.off += n
	return n, nil
}

func (r *testBlobReader) Close() error { return nil }

// sendMsg sends m numbered as d.send numbers its messages.
func (d *drv) sendMsg(to uint64, m zab.Message) (gen, seq int64) {
	s := d.sender(to)
	m.Epoch, m.Zxid = s.gen, s.seq
	d.ep.Send(to, m)
	s.seq++
	return s.gen, s.seq - 1
}

// find returns the message (gen, seq) from peer, or nil.
func (d *drv) find(from uint64, gen, seq int64) *zab.Message {
	for _, ev := range d.got {
		if ev.Msg != nil && ev.Msg.From == from && ev.Msg.Epoch == gen && ev.Msg.Zxid == seq {
			return ev.Msg
		}
	}
	return nil
}

// blobBytes reads a delivered blob whole.
func blobBytes(t *testing.T, b zab.Blob) []byte {
	t.Helper()
	rc, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// spoolFiles lists the spool files in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func blobFixture(t *testing.T, tweak func(*TCPConfig)) *tcpFixture {
	f := newTCPFixture(t, []uint64{1, 2}, 0)
	f.tweak = func(c *TCPConfig) {
		c.SnapshotChunkSize = 64 << 10
		if tweak != nil {
			tweak(c)
		}
	}
	t.Cleanup(func() { f.closeAll(); checkNoLeaks(t) })
	return f
}

// TestTCPBlobSnapshot: a 5 MiB blob queued while the peer is down counts
// by its header only, is read lazily in chunks of at most 64 KiB once the
// connection is up, and arrives whole as a SpoolBlob in SpoolDir, in its
// place in the stream, without counting in the inbox bound. A SNAP with
// its snapshot in Data still travels as one frame.
func TestTCPBlobSnapshot(t *testing.T) {
	f := blobFixture(t, nil)
	a := newDrv(t, 1, f.start(1))
	blob := newTestBlob(testSeed(t), 5<<20)
	a.send(2, 10)
	_, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: blob})
	a.send(2, 10)
	_, last := a.send(2, 10)
	if q := a.ep.QueuedBytes(2); q > 4*100 {
		t.Fatalf("%d bytes queued for a 5 MiB blob and three small messages", q)
	}
	if n := blob.opens.Load(); n != 0 {
		t.Fatalf("the blob was opened %d times before its turn", n)
	}
	tr2 := f.start(2).(*TCP)
	waitFor(t, waitLong, "four messages waiting", func() bool {
		tr2.mu.Lock()
		defer tr2.mu.Unlock()
		return tr2.in.len() == 4
	})
	tr2.mu.Lock()
	inboxBytes := tr2.in.bytes
	tr2.mu.Unlock()
	if inboxBytes > 4*100 {
		t.Fatalf("the inbox counts %d bytes for a 5 MiB blob and three small messages", inboxBytes)
	}
	b := newDrv(t, 2, tr2)
	b.pumpUntil(waitLong, "everything", func() bool { return b.has(1, 0, last) })
	checkStreams(t, 2, b.got)
	if len(b.got) != 4 {
		t.Fatalf("got %s", summarize(b.got))
	}
	m := b.got[1].Msg
	if m.Type != zab.MsgSnap || m.Zxid != snap || m.Data != nil {
		t.Fatalf("second message %v, want the SNAP with no Data", m)
	}
	sb, ok := m.Blob.(*SpoolBlob)
	if !ok {
		t.Fatalf("Blob is %T, want *SpoolBlob", m.Blob)
	}
	if got := blobBytes(t, sb); sb.Size() != int64(len(blob.data)) || !bytes.Equal(got, blob.data) {
		t.Fatalf("blob of %d bytes (Size %d) differs from the %d sent", len(got), sb.Size(), len(blob.data))
	}
	if n := blob.maxRead.Load(); n > 64<<10+1 {
		t.Fatalf("the blob was read %d bytes at a time, chunks are 64 KiB", n)
	}
	if dir := filepath.Dir(sb.Path()); dir != f.spool {
		t.Fatalf("spooled in %s, want %s", dir, f.spool)
	}
	if err := sb.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sb.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	if err := sb.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	// A SNAP with its snapshot in Data: one frame, delivered as Data.
	data := make([]byte, 2<<20)
	_, seq := a.sendMsg(2, zab.Message{Type: zab.MsgSnap})
	b.pumpUntil(waitLong, "the empty SNAP", func() bool { return b.has(1, 0, seq) })
	s := a.sender(2)
	for i := range data {
		data[i] = byte(s.seq + int64(i))
	}
	_, seq = a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Data: data})
	b.pumpUntil(waitLong, "the Data SNAP", func() bool { return b.has(1, 0, seq) })
	if m := b.find(1, 0, seq); m.Blob != nil || !bytes.Equal(m.Data, data) {
		t.Fatalf("Data SNAP arrived as %v", m)
	}
	checkStreams(t, 2, b.got)
	if n := a.brokens(2) + b.brokens(1); n != 0 {
		t.Fatalf("%d Broken events", n)
	}
}

// TestTCPBlobReadFails: a blob that cannot be opened, fails mid-way, or is
// shorter or longer than its Size breaks the stream on both sides; the
// receiver never gets the SNAP (nor what was sent after it) and keeps no
// spool file; the next stream works.
func TestTCPBlobReadFails(t *testing.T) {
	cases := map[string]func(b *testBlob){
		"open":   func(b *testBlob) { b.openErr = errDisk },
		"midway": func(b *testBlob) { b.failAt = 1 << 20 },
		"short":  func(b *testBlob) { b.size += 1 << 20 },
		"long":   func(b *testBlob) { b.size -= 1000 },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			f := blobFixture(t, nil)
			a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
			_, s := a.send(2, 10)
			b.pumpUntil(waitLong, "the first message", func() bool { return b.has(1, 0, s) })
			blob := newTestBlob(testSeed(t), 3<<20)
			spoil(blob)
			_, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: blob})
			_, after := a.send(2, 10)
			a.pumpUntil(waitLong, "Broken(2)", func() bool { return a.brokens(2) == 1 })
			b.pumpUntil(waitLong, "Broken(1)", func() bool { return b.brokens(1) == 1 })
			if b.has(1, 0, snap) || b.has(1, 0, after) {
				t.Fatalf("delivered after a failed blob: %s", summarize(b.got))
			}
			if files := spoolFiles(t, f.spool); len(files) != 0 {
				t.Fatalf("spool files left: %v", files)
			}
			if !f.sink.contains("stream broken", "peer=2", "reading a blob to send failed") {
				t.Fatal("no log line on the sender")
			}
			exchange(t, a, b)
		})
	}
}

// TestTCPBlobTooLarge: a blob above the receiver's MaxSnapshotSize breaks
// the stream (logged), is not spooled nor delivered; a smaller one goes
// through on the next stream.
func TestTCPBlobTooLarge(t *testing.T) {
	f := blobFixture(t, func(c *TCPConfig) { c.MaxSnapshotSize = 1 << 20 })
	a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
	seed := testSeed(t)
	_, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: newTestBlob(seed, 1<<20+1)})
	a.pumpUntil(waitLong, "Broken(2)", func() bool { return a.brokens(2) == 1 })
	b.pumpUntil(waitLong, "Broken(1)", func() bool { return b.brokens(1) == 1 })
	if b.has(1, 0, snap) {
		t.Fatal("the oversized SNAP was delivered")
	}
	if !f.sink.contains("bad frame", "peer=1", "snapshot too large") {
		t.Fatal("no log line on the receiver")
	}
	if files := spoolFiles(t, f.spool); len(files) != 0 {
		t.Fatalf("spool files left: %v", files)
	}
	ok := newTestBlob(seed, 1<<20)
	g, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: ok})
	b.pumpUntil(waitLong, "the SNAP at the bound", func() bool { return b.has(1, g, snap) })
	if got := blobBytes(t, b.find(1, g, snap).Blob); !bytes.Equal(got, ok.data) {
		t.Fatal("blob differs")
	}
}

// TestTCPSpoolCleanup: a transport removes its own leftover spool files
// when it starts, those of a SNAP discarded by CloseStream, and those
// still there when it closes; other files in the directory stay.
func TestTCPSpoolCleanup(t *testing.T) {
	f := blobFixture(t, nil)
	own := newDirSpool(f.spool, 2, "test", f.addrs[2])
	leftover := filepath.Join(f.spool, own.prefix+"123"+spoolSuffix)
	foreign := []string{
		filepath.Join(f.spool, newDirSpool(f.spool, 3, "test", f.addrs[2]).prefix+"1"+spoolSuffix),
		filepath.Join(f.spool, "notes.txt"),
	}
	for _, p := range append(foreign, leftover) {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := newDrv(t, 1, f.start(1)), newDrv(t, 2, f.start(2))
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover spool file still there: %v", err)
	}
	blob := newTestBlob(testSeed(t), 200<<10)
	// Delivered and kept by the driver: removed on Close.
	_, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: blob})
	b.pumpUntil(waitLong, "the SNAP", func() bool { return b.has(1, 0, snap) })
	kept := b.find(1, 0, snap).Blob.(*SpoolBlob).Path()
	// Waiting in the inbox when the driver closes the stream: removed.
	_, snap = a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: blob})
	tr2 := f.eps[2]
	waitFor(t, waitLong, "the second SNAP waiting", func() bool {
		tr2.mu.Lock()
		defer tr2.mu.Unlock()
		return tr2.in.len() == 1
	})
	if files := spoolFiles(t, f.spool); len(files) != 3 {
		t.Fatalf("spool files %v, want the kept one, the waiting one and the foreign one", files)
	}
	tr2.CloseStream(1)
	if files := spoolFiles(t, f.spool); len(files) != 2 {
		t.Fatalf("after CloseStream: spool files %v", files)
	}
	f.stop(2)
	if _, err := os.Stat(kept); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spool file still there after Close: %v", err)
	}
	for _, p := range foreign {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a file that is not this transport's was touched: %v", err)
		}
	}
}

// TestMemBlobPassThrough: Mem hands the sender's Blob over (same bytes,
// opened by the receiver), without the sender's Removable.
func TestMemBlobPassThrough(t *testing.T) {
	nw := NewMemNetwork()
	t.Cleanup(func() { nw.Close(); checkNoLeaks(t) })
	a, b := newDrv(t, 1, nw.Transport(1)), newDrv(t, 2, nw.Transport(2))
	blob := &removableBlob{testBlob: newTestBlob(testSeed(t), 100<<10)}
	_, snap := a.sendMsg(2, zab.Message{Type: zab.MsgSnap, Blob: blob})
	b.pumpUntil(waitLong, "the SNAP", func() bool { return b.has(1, 0, snap) })
	got := b.find(1, 0, snap).Blob
	if _, ok := got.(Removable); ok {
		t.Fatal("the receiver can remove the sender's blob")
	}
	if got.Size() != blob.Size() || !bytes.Equal(blobBytes(t, got), blob.data) {
		t.Fatal("blob differs")
	}
}

type removableBlob struct{ *testBlob }

func (removableBlob) Remove() error { return errors.New("must not be called") }
