package storage

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func writeSnap(t *testing.T, s *SnapshotStore, zxid int64, payload []byte) {
	t.Helper()
	w, err := s.Create(zxid)
	if err != nil {
		t.Fatal(err)
	}
	// Several writes, to cross the buffer.
	for len(payload) > 0 {
		n := min(len(payload), 100_000)
		if _, err := w.Write(payload[:n]); err != nil {
			t.Fatal(err)
		}
		payload = payload[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func snapPayload(zxid int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int64(i)*131 + zxid)
	}
	return b
}

func readSnap(t *testing.T, s *SnapshotStore, zxid int64) ([]byte, error) {
	t.Helper()
	r, err := s.Open(zxid)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Zxid() != zxid {
		t.Fatalf("Zxid() = %d", r.Zxid())
	}
	return io.ReadAll(r)
}

func TestSnapshotRoundTripAndList(t *testing.T) {
	m := vfs.NewMem()
	s, err := OpenSnapshotStore(m, "snap", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int64]int{0x100000005: 0, 0x100000009: 10, 0x200000001: 600_000}
	for z, n := range sizes {
		writeSnap(t, s, z, snapPayload(z, n))
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Zxid != 0x200000001 || list[2].Zxid != 0x100000005 {
		t.Fatalf("List = %+v", list)
	}
	if list[0].Path != filepath.Join("snap", "snapshot.0000000200000001") {
		t.Fatalf("path %s", list[0].Path)
	}
	for z, n := range sizes {
		got, err := readSnap(t, s, z)
		if err != nil || !bytes.Equal(got, snapPayload(z, n)) {
			t.Fatalf("snapshot %#x: %d bytes, %v", z, len(got), err)
		}
	}
	if _, err := s.Open(0x42); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Open missing: %v", err)
	}
	info, ok, err := s.Latest(false)
	if err != nil || !ok || info.Zxid != 0x200000001 {
		t.Fatalf("Latest = %+v %v %v", info, ok, err)
	}
}

func TestSnapshotAbortAndLeftovers(t *testing.T) {
	m := vfs.NewMem()
	s, _ := OpenSnapshotStore(m, "snap", nil)
	w, _ := s.Create(7)
	w.Write([]byte("partial"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after Abort succeeded")
	}
	if err := w.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	// A crash mid-snapshot leaves a .tmp file: invisible, then cleaned up.
	w2, _ := s.Create(8)
	w2.Write([]byte("never committed"))
	if list, _ := s.List(); len(list) != 0 {
		t.Fatalf("uncommitted snapshot listed: %+v", list)
	}
	if _, ok, err := s.Latest(false); ok || err != nil {
		t.Fatalf("Latest with none: %v %v", ok, err)
	}
	if _, err := OpenSnapshotStore(m, "snap", nil); err != nil {
		t.Fatal(err)
	}
	if names, _ := m.List("snap"); len(names) != 0 {
		t.Fatalf("leftovers not removed: %v", names)
	}
}

func TestSnapshotChecksumMismatch(t *testing.T) {
	m := vfs.NewMem()
	s, _ := OpenSnapshotStore(m, "snap", nil)
	writeSnap(t, s, 5, snapPayload(5, 1000))
	writeSnap(t, s, 9, snapPayload(9, 1000))
	path := filepath.Join("snap", snapshotName(9))
	f, _ := m.OpenRW(path)
	f.WriteAt([]byte{0xff}, snapHeaderSize+500)
	f.Close()

	_, err := readSnap(t, s, 9)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || ce.Offset != snapHeaderSize+1000 {
		t.Fatalf("err = %v, want CorruptError at %s:%d", err, path, snapHeaderSize+1000)
	}
	if !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("message: %v", err)
	}
	if err := s.Verify(9); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify = %v", err)
	}
	// Latest refuses, unless asked to skip invalid snapshots.
	if _, _, err := s.Latest(false); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Latest(false) = %v", err)
	}
	logger, out := captureLogger(t)
	s2, _ := OpenSnapshotStore(m, "snap", logger)
	info, ok, err := s2.Latest(true)
	if err != nil || !ok || info.Zxid != 5 {
		t.Fatalf("Latest(true) = %+v %v %v", info, ok, err)
	}
	if !strings.Contains(out.String(), "[WARN]") {
		t.Fatalf("no warning for the skipped snapshot:\n%s", out)
	}
}

func TestSnapshotDamagedHeaderTrailer(t *testing.T) {
	for name, c := range map[string]struct {
		off  int64 // from the start, or from the end if negative
		b    []byte
		want int64 // reported offset, -1: from the end
	}{
		"header magic":  {0, []byte("X"), 0},
		"header zxid":   {9, []byte{0x77}, 0},
		"trailer magic": {-1, []byte("X"), -snapTrailerSize},
		"trailer len":   {-snapTrailerSize + 7, []byte{0x33}, -snapTrailerSize},
	} {
		t.Run(name, func(t *testing.T) {
			m := vfs.NewMem()
			s, _ := OpenSnapshotStore(m, "snap", nil)
			writeSnap(t, s, 5, snapPayload(5, 100))
			path := filepath.Join("snap", snapshotName(5))
			size := int64(snapHeaderSize + 100 + snapTrailerSize)
			off := c.off
			if off < 0 {
				off += size
			}
			f, _ := m.OpenRW(path)
			f.WriteAt(c.b, off)
			f.Close()
			want := c.want
			if want < 0 {
				want += size
			}
			_, err := s.Open(5)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path || ce.Offset != want {
				t.Fatalf("err = %v, want CorruptError at offset %d", err, want)
			}
		})
	}
	// Truncated file (crash without trailer, renamed by hand).
	m := vfs.NewMem()
	s, _ := OpenSnapshotStore(m, "snap", nil)
	w, _ := s.Create(6)
	w.Write(snapPayload(6, 50))
	w.bw.Flush()
	w.f.Close()
	m.Rename(w.tmp, w.final)
	if _, err := s.Open(6); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("snapshot without trailer: %v", err)
	}
}

func TestSnapshotRetain(t *testing.T) {
	m := vfs.NewMem()
	s, _ := OpenSnapshotStore(m, "snap", nil)
	if z, err := s.Retain(2); err != nil || z != 0 {
		t.Fatalf("Retain on empty = %d %v", z, err)
	}
	for _, z := range []int64{10, 20, 30, 40} {
		writeSnap(t, s, z, snapPayload(z, 10))
	}
	if _, err := s.Retain(0); err == nil {
		t.Fatal("Retain(0) accepted")
	}
	z, err := s.Retain(5)
	if err != nil || z != 10 {
		t.Fatalf("Retain(5) = %d %v", z, err)
	}
	z, err = s.Retain(2)
	if err != nil || z != 30 {
		t.Fatalf("Retain(2) = %d %v", z, err)
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].Zxid != 40 || list[1].Zxid != 30 {
		t.Fatalf("after Retain: %+v", list)
	}
}

func TestSnapshotCommitFaults(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpWrite, vfs.OpSync, vfs.OpRename} {
		m := vfs.NewMem()
		s, _ := OpenSnapshotStore(m, "snap", nil)
		m.InjectFault(vfs.Fault{Op: op, Path: "snapshot."})
		w, err := s.Create(3)
		if err == nil {
			w.Write(snapPayload(3, 1000))
			err = w.Commit()
		}
		if err == nil {
			t.Fatalf("%v fault: Commit succeeded", op)
		}
		m.ClearFaults()
		if names, _ := m.List("snap"); len(names) != 0 {
			t.Fatalf("%v fault: files left: %v", op, names)
		}
	}
}

// TestSnapshotCrashDuringCommit: a crash at any point leaves either no
// snapshot or a complete valid one; after Commit returns, a valid one.
func TestSnapshotCrashDuringCommit(t *testing.T) {
	rng := newRand(testSeed(t))
	for i := 0; i < 200; i++ {
		m := vfs.NewMem()
		s, _ := OpenSnapshotStore(m, "snap", nil)
		crashAt := m.Ops() + 1 + rng.Int63n(10)
		var clone *vfs.Mem
		m.SetHook(func(vfs.Op, string) {
			if clone == nil && m.Ops()+1 >= crashAt {
				clone = m.CrashClone(rng)
			}
		})
		writeSnap(t, s, 11, snapPayload(11, 3000))
		m.SetHook(nil)
		returned := clone == nil
		if returned {
			clone = m.CrashClone(rng)
		}
		s2, err := OpenSnapshotStore(clone, "snap", nil)
		if err != nil {
			t.Fatal(err)
		}
		info, ok, err := s2.Latest(false)
		if err != nil {
			t.Fatalf("iteration %d: crash left an invalid snapshot: %v", i, err)
		}
		if returned && (!ok || info.Zxid != 11) {
			t.Fatalf("iteration %d: committed snapshot lost", i)
		}
	}
}

// FuzzSnapshotHeader: the header and trailer decoders and the reader never
// panic on arbitrary bytes.
func FuzzSnapshotHeader(f *testing.F) {
	good := append(encodeSnapHeader(9), []byte("payload")...)
	good = append(good, encodeSnapTrailer(7, 0)...)
	f.Add(good)
	f.Add(encodeSnapHeader(1))
	f.Add([]byte("ZGSN"))
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		if z, err := decodeSnapHeader(b); err == nil {
			if !bytes.Equal(encodeSnapHeader(z), b[:snapHeaderSize]) {
				t.Fatal("header re-encoding differs")
			}
		}
		if n, c, err := decodeSnapTrailer(b); err == nil {
			if !bytes.Equal(encodeSnapTrailer(n, c), b[:snapTrailerSize]) {
				t.Fatal("trailer re-encoding differs")
			}
		}
		m := vfs.NewMem()
		file, _ := m.Create("s")
		file.Write(b)
		r, err := newSnapshotReader(file, "s", 9)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r)
	})
}

// FuzzDecodeEpoch: the epoch decoder never panics and accepts only what it
// would write.
func FuzzDecodeEpoch(f *testing.F) {
	f.Add(encodeEpoch(0))
	f.Add(encodeEpoch(12345))
	f.Add([]byte("7\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEpoch(b)
		if err == nil && !bytes.Equal(encodeEpoch(e), b) {
			t.Fatal("accepted bytes it would not write")
		}
	})
}
