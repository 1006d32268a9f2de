package wan

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zoogate/zoogate/wan/emulate"
)

// memBlob is a Blob in memory; failAt >= 0 makes its reader fail after
// that many bytes; openErr makes Open fail; extra bytes beyond size make it
// lie about its Size.
type memBlob struct {
	data    []byte
	size    int64
	failAt  int
	openErr error
}

func randomBlob(n int, seed uint64) *memBlob {
	b := make([]byte, n)
	r := mrand.New(mrand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return &memBlob{data: b, size: int64(n), failAt: -1}
}

func (b *memBlob) Size() int64 { return b.size }

func (b *memBlob) Open() (io.ReadCloser, error) {
	if b.openErr != nil {
		return nil, b.openErr
	}
	var r io.Reader = bytes.NewReader(b.data)
	if b.failAt >= 0 {
		r = io.MultiReader(bytes.NewReader(b.data[:b.failAt]), errorReader{})
	}
	return io.NopCloser(r), nil
}

type errorReader struct{}

func (errorReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func checkBlob(t testing.TB, got *SpoolBlob, want *memBlob) {
	t.Helper()
	if got.Size() != want.size {
		t.Fatalf("blob of %d bytes, want %d", got.Size(), want.size)
	}
	rc, err := got.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), sha256.New().Sum(nil)) && want.size == 0 {
		t.Fatal("empty blob has content")
	}
	if sum := sha256.Sum256(want.data[:want.size]); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatal("blob content differs")
	}
}

// TestBlobOrderedAndNotInTheWay: a 5 MiB blob over a rate-limited link
// arrives whole, in order between the ordered frames around it; frames on
// the requests lane to the same peer, and on the ordered lane to a second
// peer, are not held up by it (they arrive before it completes).
func TestBlobOrderedAndNotInTheWay(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1, spec: "delay=10ms"})
	a := h.start(nodeOpts{id: 2, spec: "delay=10ms", dial: map[uint64]string{1: p.addr()}})
	b := h.start(nodeOpts{id: 3, spec: "delay=10ms", dial: map[uint64]string{1: p.addr()}})
	connect(t, a, p)
	connect(t, b, p)
	// The link from p to a is slow: 5 MiB take more than a second.
	if err := p.emu.SetLink(a.tr.Addr(), emulate.Spec{Delay: 10 * time.Millisecond, Rate: 40e6, Limit: 300}); err != nil {
		t.Fatal(err)
	}
	blob := randomBlob(5<<20, 3)
	p.tr.Send(2, LaneOrdered, []byte("before"))
	p.tr.SendBlob(2, []byte("snapshot"), blob)
	const n = 10
	for i := range n {
		p.tr.Send(2, LaneRequests, []byte(fmt.Sprintf("req%d", i)))
		p.tr.Send(2, LaneOrdered, []byte(fmt.Sprintf("after%d", i)))
	}
	for i := range 2 * n {
		p.tr.Send(3, LaneOrdered, []byte(fmt.Sprintf("hb%d", i)))
	}
	got := collect(t, 9*time.Second, map[*Transport]int{a.tr: 2 + 2*n, b.tr: 2 * n})

	var ordered []string
	blobAt := -1
	for _, ar := range got[a.tr] {
		ev := ar.ev
		if ev.Broken || ev.From != 1 {
			t.Fatalf("a: unexpected %s", describe(ev))
		}
		if ev.Lane == LaneOrdered {
			ordered = append(ordered, string(ev.Frame))
		}
		if ev.Blob != nil {
			blobAt = ar.at
			checkBlob(t, ev.Blob, blob)
			if filepath.Dir(ev.Blob.Path()) != a.tr.cfg.SpoolDir {
				t.Fatalf("blob at %s, not in SpoolDir %s", ev.Blob.Path(), a.tr.cfg.SpoolDir)
			}
			if err := ev.Blob.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(ev.Blob.Path()); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("after Remove: %v", err)
			}
		}
	}
	want := []string{"before", "snapshot"}
	for i := range n {
		want = append(want, fmt.Sprintf("after%d", i))
	}
	if fmt.Sprint(ordered) != fmt.Sprint(want) {
		t.Fatalf("a's ordered lane: %v, want %v", ordered, want)
	}
	for _, ar := range got[a.tr] {
		if ar.ev.Lane == LaneRequests && ar.at > blobAt {
			t.Errorf("a: %s arrived after the blob (%d > %d)", describe(ar.ev), ar.at, blobAt)
		}
	}
	for i, ar := range got[b.tr] {
		if string(ar.ev.Frame) != fmt.Sprintf("hb%d", i) {
			t.Fatalf("b: %s, want hb%d", describe(ar.ev), i)
		}
		if ar.at > blobAt {
			t.Errorf("b: %s arrived after a's blob (%d > %d)", describe(ar.ev), ar.at, blobAt)
		}
	}
	t.Logf("emulator at p: %+v", p.emu.Stats())
}

// TestBlobFailureBreaksBothSides: a blob that cannot be opened, fails in
// the middle or is shorter than its Size breaks the stream on both sides;
// the receiver never gets it, nor anything sent after it, and keeps no
// spool file.
func TestBlobFailureBreaksBothSides(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		blob *memBlob
	}{
		{"open fails", &memBlob{size: 10, openErr: errors.New("no such snapshot")}},
		{"read fails midway", func() *memBlob { b := randomBlob(2<<20, 4); b.failAt = 1 << 20; return b }()},
		{"shorter than its size", func() *memBlob {
			b := randomBlob(1<<20, 5)
			b.size = 2 << 20
			b.data = append(b.data, make([]byte, 1<<20)...)
			b.data = b.data[:1<<20]
			return b
		}()},
		{"longer than its size", func() *memBlob { b := randomBlob(1<<20, 6); b.size = 1000; return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			p := h.start(nodeOpts{id: 1})
			a := h.start(nodeOpts{id: 2, dial: map[uint64]string{1: p.addr()}})
			connect(t, a, p)
			p.tr.Send(2, LaneOrdered, []byte("before"))
			p.tr.SendBlob(2, []byte("bad"), tc.blob)
			p.tr.Send(2, LaneOrdered, []byte("after"))
			// "before" may be lost with the stream (the connection is
			// closed at once); the blob and "after" never arrive.
			ev := next(t, a.tr, 5*time.Second)
			if !ev.Broken && string(ev.Frame) == "before" && ev.Blob == nil {
				ev = next(t, a.tr, 5*time.Second)
			}
			if !ev.Broken || ev.From != 1 {
				t.Fatalf("a got %s, want Broken(1)", describe(ev))
			}
			expectBroken(t, p.tr, 2, 5*time.Second)
			p.log.waitLine(t, time.Second, "cannot read a blob to send")
			deadline := time.Now().Add(2 * time.Second)
			for {
				entries, _ := os.ReadDir(a.tr.cfg.SpoolDir)
				if len(entries) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("spool files left: %v", entries)
				}
				time.Sleep(10 * time.Millisecond) // the receiver removes its partial file as it stops
			}
		})
	}
}

// TestBlobTooLarge: a blob above the receiver's MaxBlobSize breaks the
// stream on both sides.
func TestBlobTooLarge(t *testing.T) {
	h := newHarness(t)
	p := h.start(nodeOpts{id: 1})
	a := h.start(nodeOpts{id: 2, dial: map[uint64]string{1: p.addr()}, mod: func(c *Config) { c.MaxBlobSize = 1 << 20 }})
	connect(t, a, p)
	p.tr.SendBlob(2, []byte("big"), randomBlob(1<<20+1, 8))
	expectBroken(t, a.tr, 1, 5*time.Second)
	expectBroken(t, p.tr, 2, 5*time.Second)
	a.log.waitLine(t, time.Second, "blob too large")
}
