package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// bigSegments keeps every record of a test in one segment.
func bigSegments() LogConfig {
	c := DefaultLogConfig()
	c.SegmentSize = 1 << 20
	c.Preallocate = 16 << 10
	return c
}

// writeLog creates a log in dir holding zxids and closes it.
func writeLog(t *testing.T, m *vfs.Mem, dir string, cfg LogConfig, zxids []int64) {
	t.Helper()
	l := openLog(t, m, dir, cfg)
	if err := l.AppendSync(recs(zxids...)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// frameOffset is the offset of the i-th record (0-based) of a segment that
// holds zxids.
func frameOffset(zxids []int64, i int) int64 {
	off := int64(segmentHeaderSize)
	for _, z := range zxids[:i] {
		off += int64(frameSize(len(payloadFor(z))))
	}
	return off
}

// patch overwrites bytes of a file durably.
func patch(t *testing.T, m *vfs.Mem, path string, off int64, b []byte) {
	t.Helper()
	f, err := m.OpenRW(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryTornTail(t *testing.T) {
	zx := zxidRange(1, 20)
	end := frameOffset(zx, 20)
	next := appendFrame(nil, Record{Zxid: 21, Payload: payloadFor(21)})
	cases := map[string][]byte{
		"partial header":     next[:5],
		"header only":        next[:frameHeaderSize],
		"partial payload":    next[:len(next)-3],
		"bad checksum":       append(append([]byte(nil), next[:len(next)-1]...), next[len(next)-1]^0xff),
		"garbage":            []byte("\x13\x37garbage-garbage-garbage"),
		"torn then garbage":  append(append([]byte(nil), next[:10]...), 0xde, 0xad, 0xbe, 0xef),
		"huge length field":  {0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4},
		"zero header, trash": append(make([]byte, 16), 0xaa, 0xbb),
	}
	for name, tail := range cases {
		t.Run(name, func(t *testing.T) {
			m := vfs.NewMem()
			writeLog(t, m, "log", bigSegments(), zx)
			path := filepath.Join("log", segmentName(1))
			before, _ := m.ReadFile(path)
			patch(t, m, path, end, tail)

			logger, out := captureLogger(t)
			l, err := OpenLog(m, "log", bigSegments(), logger)
			if err != nil {
				t.Fatalf("OpenLog: %v", err)
			}
			if !strings.Contains(out.String(), "[WARN]") || !strings.Contains(out.String(), "torn tail") {
				t.Errorf("no WARN line about the torn tail in:\n%s", out)
			}
			checkRecords(t, readAll(t, l, 0), zx)
			// The torn bytes are gone: the file is as before the damage.
			after, _ := m.ReadFile(path)
			if !bytes.Equal(after, before) {
				t.Errorf("tail not erased: file differs from before the damage")
			}
			if err := l.AppendSync(recs(21, 22)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l = openLog(t, m, "log", bigSegments())
			defer l.Close()
			checkRecords(t, readAll(t, l, 0), zxidRange(1, 22))
		})
	}
}

func TestRecoveryCleanTailNoWarning(t *testing.T) {
	m := vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zxidRange(1, 10))
	logger, out := captureLogger(t)
	l, err := OpenLog(m, "log", bigSegments(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if strings.Contains(out.String(), "[WARN]") {
		t.Errorf("unexpected warning on a clean log:\n%s", out)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 10))
}

func expectCorrupt(t *testing.T, err error, path string, off int64) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v is not a *CorruptError", err)
	}
	if ce.Path != path || ce.Offset != off {
		t.Fatalf("corruption reported at %s:%d, want %s:%d (%v)", ce.Path, ce.Offset, path, off, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("message does not name the file: %v", err)
	}
}

func TestRecoveryMidLogCorruption(t *testing.T) {
	zx := zxidRange(1, 20)
	m := vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zx)
	path := filepath.Join("log", segmentName(1))
	off := frameOffset(zx, 7)
	// Flip one payload bit of record 8: a valid record 9 follows.
	patch(t, m, path, off+frameHeaderSize+2, []byte{'#'})
	before, _ := m.ReadFile(path)
	_, err := OpenLog(m, "log", bigSegments(), testLogger(t))
	expectCorrupt(t, err, path, off)
	after, _ := m.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed recovery modified the file")
	}
}

func TestRecoveryCorruptNonLastSegment(t *testing.T) {
	m := vfs.NewMem()
	cfg := smallConfig()
	writeLog(t, m, "log", cfg, zxidRange(1, 100))
	names, _ := m.List("log")
	if len(names) < 3 {
		t.Fatalf("want several segments, got %v", names)
	}
	// Damage the last record of the first segment: nothing valid follows it
	// in that file, but it is not the last segment.
	first := filepath.Join("log", names[0])
	second, _, _ := parseZxidName(names[1], segmentPrefix)
	zx := zxidRange(1, second-1)
	off := frameOffset(zx, len(zx)-1)
	patch(t, m, first, off+frameHeaderSize, []byte{0xff, 0xfe})
	_, err := OpenLog(m, "log", cfg, testLogger(t))
	expectCorrupt(t, err, first, off)
}

func TestRecoveryOutOfOrderRecord(t *testing.T) {
	zx := zxidRange(1, 10)
	m := vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zx)
	path := filepath.Join("log", segmentName(1))
	end := frameOffset(zx, 10)
	patch(t, m, path, end, appendFrame(nil, Record{Zxid: 3, Payload: []byte("stale")}))
	_, err := OpenLog(m, "log", bigSegments(), testLogger(t))
	expectCorrupt(t, err, path, end)
}

func TestRecoveryBadHeaderAndNameMismatch(t *testing.T) {
	m := vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zxidRange(1, 5))
	path := filepath.Join("log", segmentName(1))
	patch(t, m, path, 0, []byte("XXXX"))
	_, err := OpenLog(m, "log", bigSegments(), testLogger(t))
	expectCorrupt(t, err, path, 0)

	m = vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zxidRange(1, 5))
	if err := m.Rename(path, filepath.Join("log", segmentName(2))); err != nil {
		t.Fatal(err)
	}
	_, err = OpenLog(m, "log", bigSegments(), testLogger(t))
	expectCorrupt(t, err, filepath.Join("log", segmentName(2)), 8)
}

func TestRecoveryRemovesTmpAndEmptyLastSegment(t *testing.T) {
	m := vfs.NewMem()
	writeLog(t, m, "log", bigSegments(), zxidRange(1, 5))
	// A segment whose creation did not finish, and a complete but empty one
	// (crash after its rename, before its first record was durable).
	tmp, _ := m.Create(filepath.Join("log", segmentName(6)+tmpSuffix))
	tmp.Write([]byte("ZG"))
	tmp.Close()
	empty, _ := m.Create(filepath.Join("log", segmentName(7)))
	initSegment(empty, 7, 4096)
	empty.Close()
	l := openLog(t, m, "log", bigSegments())
	defer l.Close()
	names, _ := m.List("log")
	if len(names) != 1 || names[0] != segmentName(1) {
		t.Fatalf("files after recovery: %v", names)
	}
	if l.LastZxid() != 5 {
		t.Fatalf("LastZxid = %d", l.LastZxid())
	}
	if err := l.AppendSync(recs(6)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 6))
}

func TestRecoveryEmptyNonLastSegmentIsCorrupt(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("log")
	empty, _ := m.Create(filepath.Join("log", segmentName(1)))
	initSegment(empty, 1, 0)
	empty.Close()
	writeLog(t, m, "log2", bigSegments(), zxidRange(5, 6))
	m.Rename(filepath.Join("log2", segmentName(5)), filepath.Join("log", segmentName(5)))
	_, err := OpenLog(m, "log", bigSegments(), testLogger(t))
	expectCorrupt(t, err, filepath.Join("log", segmentName(1)), segmentHeaderSize)
}

func TestRecoveryIgnoresOtherFiles(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("data")
	WriteEpoch(m, "data", CurrentEpochFile, 3)
	writeLog(t, m, "data", bigSegments(), zxidRange(1, 3))
	l := openLog(t, m, "data", bigSegments())
	defer l.Close()
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 3))
}

// TestLogOnOS runs append, torn-tail recovery and truncation on real files.
func TestLogOnOS(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	fsys := vfs.OS{}
	l := openLog(t, fsys, dir, cfg)
	if err := l.AppendSync(recs(zxidRange(1, 100)...)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	names, _ := fsys.List(dir)
	last := filepath.Join(dir, names[len(names)-1])
	lastFirst, _, _ := parseZxidName(names[len(names)-1], segmentPrefix)
	info, _ := fsys.Stat(last)
	if info.Size < cfg.Preallocate {
		t.Fatalf("segment %s not preallocated: %d bytes", last, info.Size)
	}
	// Tear the tail: a partial frame after the last record.
	f, err := fsys.OpenRW(last)
	if err != nil {
		t.Fatal(err)
	}
	end := frameOffset(zxidRange(lastFirst, 100), int(100-lastFirst+1))
	f.WriteAt(appendFrame(nil, Record{Zxid: 101, Payload: payloadFor(101)})[:20], end)
	f.Close()

	l = openLog(t, fsys, dir, cfg)
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 100))
	if err := l.TruncateAfter(60); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendSync(recs(61, 62)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, fsys, dir, cfg)
	defer l.Close()
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 62))
}

// TestRecoveryLargeSegment: records straddle the reader's 256 KiB chunks,
// and one record is larger than a chunk.
func TestRecoveryLargeSegment(t *testing.T) {
	cfg := DefaultLogConfig()
	cfg.SegmentSize = 4 << 20
	cfg.Preallocate = 1 << 20
	m := vfs.NewMem()
	l := openLog(t, m, "log", cfg)
	var batch []Record
	for z := int64(1); z <= 3000; z++ {
		p := payloadFor(z)
		if z == 1500 {
			p = bytes.Repeat([]byte{0xab}, 300<<10)
		}
		batch = append(batch, Record{Zxid: z, Payload: p})
	}
	if err := l.AppendSync(batch); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, m, "log", cfg)
	defer l.Close()
	got := readAll(t, l, 0)
	if len(got) != len(batch) {
		t.Fatalf("got %d records", len(got))
	}
	for i, r := range got {
		if r.Zxid != batch[i].Zxid || !bytes.Equal(r.Payload, batch[i].Payload) {
			t.Fatalf("record %d differs", i)
		}
	}
	if names, _ := m.List("log"); len(names) != 1 {
		t.Fatalf("expected one segment, got %v", names)
	}
}

// OpenLogAfter reads only the segments a recovered snapshot does not
// cover: damage in an older segment does not stop the start, and is still
// reported, with file and offset, as soon as that segment is read.
func TestOpenLogAfterSkipsSegmentsBelowTheSnapshot(t *testing.T) {
	m := vfs.NewMem()
	cfg := smallConfig()
	writeLog(t, m, "log", cfg, zxidRange(1, 100))
	names, _ := m.List("log")
	if len(names) < 3 {
		t.Fatalf("want several segments, got %v", names)
	}
	first := filepath.Join("log", names[0])
	second, _, _ := parseZxidName(names[1], segmentPrefix)
	third, _, _ := parseZxidName(names[2], segmentPrefix)
	zx := zxidRange(1, second-1)
	off := frameOffset(zx, 2)
	patch(t, m, first, off+frameHeaderSize+2, []byte{'#'}) // a valid record follows

	if _, err := OpenLog(m, "log", cfg, testLogger(t)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("full recovery: err = %v, want corruption", err)
	}
	// A snapshot covering the first segment: the start does not read it.
	l, err := OpenLogAfter(m, "log", cfg, testLogger(t), second-1)
	if err != nil {
		t.Fatalf("recovery above the damaged segment: %v", err)
	}
	if l.LastZxid() != 100 || l.FirstZxid() != 1 {
		t.Fatalf("first/last %d/%d, want 1/100", l.FirstZxid(), l.LastZxid())
	}
	var got []int64
	if err := l.Iterate(second-1, func(r Record) error { got = append(got, r.Zxid); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != int(100-second+1) || got[0] != second {
		t.Fatalf("iterate above the snapshot: %d records from %v", len(got), got[:1])
	}
	err = l.Iterate(0, func(Record) error { return nil })
	expectCorrupt(t, err, first, off)
	l.Close()

	// A segment that was not read at open can still become the active one
	// (TRUNC below the snapshot): its exact end is found, appends follow it,
	// and a full recovery afterwards reads a consistent log.
	m2 := vfs.NewMem()
	writeLog(t, m2, "log", cfg, zxidRange(1, 100))
	l, err = OpenLogAfter(m2, "log", cfg, testLogger(t), third-1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateAfter(second); err != nil {
		t.Fatalf("truncate into a segment not read at open: %v", err)
	}
	if err := l.AppendSync(recs(zxidRange(second+1, second+5)...)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, m2, "log", cfg)
	defer l.Close()
	got = got[:0]
	if err := l.Iterate(0, func(r Record) error { got = append(got, r.Zxid); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := zxidRange(1, second+5); !slices.Equal(got, want) {
		t.Fatalf("after truncate+append: %v, want %v", got, want)
	}
}
