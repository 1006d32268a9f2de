package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// segmentFirsts returns the first zxid of every segment file in dir.
func segmentFirsts(t *testing.T, m *vfs.Mem, dir string) []int64 {
	t.Helper()
	names, err := m.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, n := range names {
		if z, tmp, ok := parseZxidName(n, segmentPrefix); ok && !tmp {
			out = append(out, z)
		}
	}
	return out
}

func TestTruncateAfterAcrossSegments(t *testing.T) {
	cfg := smallConfig()
	m := vfs.NewMem()
	l := openLog(t, m, "log", cfg)
	if err := l.AppendSync(recs(zxidRange(1, 300)...)); err != nil {
		t.Fatal(err)
	}
	firsts := segmentFirsts(t, m, "log")
	if len(firsts) < 4 {
		t.Fatalf("want >= 4 segments, got %v", firsts)
	}
	// Cut in the middle of the second segment: later segments disappear.
	cut := firsts[1] + 3
	if err := l.TruncateAfter(cut); err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != cut || l.LastAppended() != cut {
		t.Fatalf("LastZxid %d LastAppended %d, want %d", l.LastZxid(), l.LastAppended(), cut)
	}
	if got := segmentFirsts(t, m, "log"); len(got) != 2 {
		t.Fatalf("segments after truncate: %v", got)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, cut))

	// Truncating exactly at a segment boundary removes the whole later
	// segment and leaves the previous one untouched.
	if err := l.TruncateAfter(firsts[1] - 1); err != nil {
		t.Fatal(err)
	}
	if got := segmentFirsts(t, m, "log"); len(got) != 1 {
		t.Fatalf("segments after boundary truncate: %v", got)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, firsts[1]-1))

	// The same zxids can be appended again, with other contents (ZAB's
	// TRUNC followed by the leader's DIFF), and nothing stale reappears.
	newer := []Record{{Zxid: firsts[1], Payload: []byte("new")}, {Zxid: firsts[1] + 1, Payload: []byte("newer")}}
	if err := l.AppendSync(newer); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, m, "log", cfg)
	defer l.Close()
	got := readAll(t, l, firsts[1]-1)
	if len(got) != 2 || string(got[0].Payload) != "new" || string(got[1].Payload) != "newer" {
		t.Fatalf("after re-append and reopen: %v", zxidsOf(got))
	}
	checkRecords(t, readAll(t, l, 0)[:firsts[1]-1], zxidRange(1, firsts[1]-1))
}

func TestTruncateAfterWithinSegmentErasesBytes(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", bigSegments())
	defer l.Close()
	zx := zxidRange(1, 10)
	if err := l.AppendSync(recs(zx...)); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateAfter(4); err != nil {
		t.Fatal(err)
	}
	b, _ := m.ReadFile(filepath.Join("log", segmentName(1)))
	if !bytes.Equal(b[frameOffset(zx, 4):], make([]byte, len(b)-int(frameOffset(zx, 4)))) {
		t.Fatal("bytes of truncated records are still in the file")
	}
	// Truncating above the end is a no-op; 0 empties the log.
	if err := l.TruncateAfter(100); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 4))
	if err := l.TruncateAfter(0); err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != 0 || l.FirstZxid() != 0 || len(segmentFirsts(t, m, "log")) != 0 {
		t.Fatalf("TruncateAfter(0) left first %d last %d", l.FirstZxid(), l.LastZxid())
	}
	if err := l.AppendSync(recs(2, 3)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), []int64{2, 3})
}

func TestTruncateAfterOrderedWithQueuedAppends(t *testing.T) {
	l := openLog(t, vfs.NewMem(), "log", smallConfig())
	defer l.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	if err := l.Append(recs(zxidRange(1, 50)...), func(err error) {
		if err != nil {
			t.Error(err)
		}
		wg.Done()
	}); err != nil {
		t.Fatal(err)
	}
	// Queued behind the append: it must see (and cut) those records.
	if err := l.TruncateAfter(20); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := l.Append(recs(20), nil); !errors.Is(err, ErrZxidOrder) {
		t.Fatalf("append at the truncation point: %v", err)
	}
	if err := l.AppendSync(recs(21)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 21))
}

func TestPurgeBeforeAcrossSegments(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(recs(zxidRange(1, 300)...)); err != nil {
		t.Fatal(err)
	}
	firsts := segmentFirsts(t, m, "log")
	if len(firsts) < 4 {
		t.Fatalf("segments %v", firsts)
	}
	// zxid inside the third segment: the first two go; the third holds the
	// successor and stays.
	snap := firsts[2] + 1
	n, err := l.PurgeBefore(snap)
	if err != nil || n != 2 {
		t.Fatalf("PurgeBefore = %d, %v; want 2", n, err)
	}
	if got := segmentFirsts(t, m, "log"); got[0] != firsts[2] {
		t.Fatalf("segments after purge: %v", got)
	}
	if l.FirstZxid() != firsts[2] {
		t.Fatalf("FirstZxid = %d", l.FirstZxid())
	}
	checkRecords(t, readAll(t, l, snap), zxidRange(snap+1, 300))

	// A zxid that is the last record of a segment: that segment goes, the
	// next (holding zxid+1) stays.
	n, err = l.PurgeBefore(firsts[3] - 1)
	if err != nil || n != 1 || l.FirstZxid() != firsts[3] {
		t.Fatalf("PurgeBefore(last of segment) = %d, %v, first %d", n, err, l.FirstZxid())
	}
	// Purging beyond the end never removes the last segment.
	n, err = l.PurgeBefore(1 << 40)
	if err != nil || l.LastZxid() != 300 {
		t.Fatalf("PurgeBefore(huge) = %d, %v; last %d", n, err, l.LastZxid())
	}
	if got := segmentFirsts(t, m, "log"); len(got) != 1 {
		t.Fatalf("segments: %v", got)
	}
	// Reopen: the purged log is a valid log starting later.
	l.Close()
	l2 := openLog(t, m, "log", smallConfig())
	defer l2.Close()
	if l2.LastZxid() != 300 || l2.FirstZxid() != segmentFirsts(t, m, "log")[0] {
		t.Fatalf("after reopen first %d last %d", l2.FirstZxid(), l2.LastZxid())
	}
}

func TestPurgeRemoveFailureDoesNotFailLog(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(recs(zxidRange(1, 200)...)); err != nil {
		t.Fatal(err)
	}
	m.InjectFault(vfs.Fault{Op: vfs.OpRemove, Times: 1})
	if _, err := l.PurgeBefore(150); err == nil {
		t.Fatal("PurgeBefore hid the remove error")
	}
	if l.Err() != nil {
		t.Fatalf("log failed: %v", l.Err())
	}
	if _, err := l.PurgeBefore(150); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendSync(recs(201)); err != nil {
		t.Fatal(err)
	}
}
