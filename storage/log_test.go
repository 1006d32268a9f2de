package storage

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func TestLogConfigValidate(t *testing.T) {
	if err := DefaultLogConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	err := LogConfig{SegmentSize: 1, Preallocate: -1, MaxRecordSize: 0, MaxBatchBytes: 0}.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, field := range []string{"SegmentSize", "Preallocate", "MaxRecordSize", "MaxBatchBytes"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if _, err := OpenLog(vfs.NewMem(), "log", LogConfig{}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("OpenLog with zero config: %v", err)
	}
}

func TestLogAppendIterateReopen(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "/data/log", smallConfig())
	if l.FirstZxid() != 0 || l.LastZxid() != 0 {
		t.Fatalf("empty log: first %d last %d", l.FirstZxid(), l.LastZxid())
	}
	want := zxidRange(1, 200)
	for i := 0; i < len(want); i += 10 {
		if err := l.AppendSync(recs(want[i : i+10]...)); err != nil {
			t.Fatal(err)
		}
	}
	checkRecords(t, readAll(t, l, 0), want)
	checkRecords(t, readAll(t, l, 150), want[150:])
	checkRecords(t, readAll(t, l, 200), nil)
	if l.FirstZxid() != 1 || l.LastZxid() != 200 || l.LastAppended() != 200 {
		t.Fatalf("first %d last %d appended %d", l.FirstZxid(), l.LastZxid(), l.LastAppended())
	}
	st := l.Stats()
	if st.Segments < 3 {
		t.Fatalf("expected several segments with 4 KiB segments, got %d", st.Segments)
	}
	if st.Records != 200 {
		t.Fatalf("Stats.Records = %d", st.Records)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Append(recs(201), func(error) { t.Error("done called after a rejected Append") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	// Segment files are named by their first zxid.
	names, _ := m.List("/data/log")
	for _, n := range names {
		if _, tmp, ok := parseZxidName(n, segmentPrefix); !ok || tmp {
			t.Fatalf("unexpected file %q", n)
		}
	}
	if names[0] != segmentName(1) {
		t.Fatalf("first segment %q", names[0])
	}

	l2 := openLog(t, m, "/data/log", smallConfig())
	defer l2.Close()
	checkRecords(t, readAll(t, l2, 0), want)
	if l2.LastZxid() != 200 || l2.FirstZxid() != 1 {
		t.Fatalf("after reopen first %d last %d", l2.FirstZxid(), l2.LastZxid())
	}
	if err := l2.AppendSync(recs(0x100000001)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l2, 199), []int64{200, 0x100000001})
}

func TestLogRejectsBadAppends(t *testing.T) {
	l := openLog(t, vfs.NewMem(), "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(recs(5, 6)); err != nil {
		t.Fatal(err)
	}
	never := func(error) { t.Error("done called after a rejected Append") }
	for _, bad := range [][]int64{{6}, {4}, {8, 7}, {9, 9}} {
		if err := l.Append(recs(bad...), never); !errors.Is(err, ErrZxidOrder) {
			t.Errorf("Append(%v) = %v, want ErrZxidOrder", bad, err)
		}
	}
	if err := l.Append([]Record{{Zxid: 0}}, never); !errors.Is(err, ErrZxidOrder) {
		t.Errorf("zxid 0: %v", err)
	}
	big := Record{Zxid: 10, Payload: make([]byte, smallConfig().MaxRecordSize+1)}
	if err := l.Append([]Record{big}, never); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// A rejected call consumed nothing: 7 is still next.
	if err := l.AppendSync(recs(7)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l, 0), []int64{5, 6, 7})
	if l.Err() != nil {
		t.Fatalf("log failed: %v", l.Err())
	}
}

func TestLogLargeRecordsSpanPreallocation(t *testing.T) {
	cfg := smallConfig()
	l := openLog(t, vfs.NewMem(), "log", cfg)
	defer l.Close()
	var want []int64
	for z := int64(1); z <= 5; z++ {
		r := Record{Zxid: z, Payload: []byte(strings.Repeat(fmt.Sprint(z), cfg.MaxRecordSize))}
		if err := l.AppendSync([]Record{r}); err != nil {
			t.Fatal(err)
		}
		want = append(want, z)
	}
	got := readAll(t, l, 0)
	if len(got) != 5 {
		t.Fatalf("got %v", zxidsOf(got))
	}
	for _, r := range got {
		if len(r.Payload) != cfg.MaxRecordSize || r.Payload[0] != byte('0'+r.Zxid) {
			t.Fatalf("record %d payload wrong", r.Zxid)
		}
	}
}

// TestLogGroupCommit: many concurrent callers share fsyncs, and each done
// is called once, in order.
func TestLogGroupCommit(t *testing.T) {
	m := vfs.NewMem()
	// Slow every fsync a little by making the hook yield, so that callers
	// pile up behind the writer regardless of scheduling.
	var gate sync.Mutex
	m.SetHook(func(op vfs.Op, path string) {
		if op == vfs.OpSync {
			gate.Lock()
			gate.Unlock()
		}
	})
	l := openLog(t, m, "log", DefaultLogConfigForTest())
	defer l.Close()
	const callers, each = 8, 50
	var (
		mu     sync.Mutex
		next   int64
		order  []int64
		wg     sync.WaitGroup
		errsMu sync.Mutex
		errs   []error
	)
	var started sync.WaitGroup // each caller has appended twice
	started.Add(callers)
	gate.Lock() // hold the first fsync until everybody has queued something
	released := false
	defer func() {
		if !released { // let the writer finish so that Close returns
			gate.Unlock()
		}
	}()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signalled := false
			signal := func() {
				if !signalled {
					signalled = true
					started.Done()
				}
			}
			defer signal() // also on an early return
			for i := 0; i < each; i++ {
				done := make(chan struct{})
				mu.Lock()
				next++
				z := next
				err := l.Append(recs(z), func(err error) {
					mu.Lock()
					order = append(order, z)
					mu.Unlock()
					if err != nil {
						errsMu.Lock()
						errs = append(errs, err)
						errsMu.Unlock()
					}
					close(done)
				})
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					continue // do not wait: let the first records pile up
				}
				if i == 1 {
					signal()
				}
				<-done
			}
		}()
	}
	started.Wait() // the writer is stuck in its first fsync meanwhile
	released = true
	gate.Unlock()
	wg.Wait()
	l.AppendSync(nil) // barrier
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != callers*each {
		t.Fatalf("%d callbacks, want %d", len(order), callers*each)
	}
	for i, z := range order {
		if z != int64(i+1) {
			t.Fatalf("callback %d was for zxid %d: not in append order", i, z)
		}
	}
	st := l.Stats()
	if st.Batches >= int64(callers*each) {
		t.Fatalf("no group commit: %d batches for %d records", st.Batches, callers*each)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, callers*each))
}

// DefaultLogConfigForTest is the default config with small preallocation,
// to keep in-memory files small.
func DefaultLogConfigForTest() LogConfig {
	c := DefaultLogConfig()
	c.Preallocate = 64 << 10
	return c
}

func TestLogBarrierAndEmptyAppend(t *testing.T) {
	l := openLog(t, vfs.NewMem(), "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(nil); err != nil {
		t.Fatalf("empty AppendSync: %v", err)
	}
	var got []int64
	var mu sync.Mutex
	for z := int64(1); z <= 5; z++ {
		z := z
		if err := l.Append(recs(z), func(err error) {
			mu.Lock()
			got = append(got, z)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AppendSync(nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("barrier returned before earlier dones: %v", got)
	}
	if l.LastZxid() != 5 {
		t.Fatalf("LastZxid = %d after barrier", l.LastZxid())
	}
}

func TestLogCloseWaitsForQueued(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", smallConfig())
	var acked []int64
	var mu sync.Mutex
	for z := int64(1); z <= 100; z++ {
		z := z
		if err := l.Append(recs(z), func(err error) {
			if err == nil {
				mu.Lock()
				acked = append(acked, z)
				mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(acked) != 100 {
		t.Fatalf("%d of 100 queued appends acknowledged before Close returned", len(acked))
	}
	if err := l.Iterate(0, func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Iterate after Close: %v", err)
	}
	if err := l.TruncateAfter(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("TruncateAfter after Close: %v", err)
	}
}

func TestIterateCallbackErrorAndConcurrentAppend(t *testing.T) {
	l := openLog(t, vfs.NewMem(), "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(recs(zxidRange(1, 100)...)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err := l.Iterate(0, func(r Record) error {
		n++
		if r.Zxid == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Fatalf("Iterate = %v after %d records", err, n)
	}
	// Appending while iterating: the iteration sees the records durable
	// when it started; new ones are durable afterwards.
	var seen []int64
	err = l.Iterate(50, func(r Record) error {
		if r.Zxid == 60 {
			if err := l.AppendSync(recs(zxidRange(101, 150)...)); err != nil {
				return err
			}
		}
		seen = append(seen, r.Zxid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 50 || seen[49] != 100 {
		t.Fatalf("seen %v", seen)
	}
	checkRecords(t, readAll(t, l, 0), zxidRange(1, 150))
}

// A full segment is not grown by another Preallocate step for its last
// batch: it ends at most that batch past SegmentSize.
func TestSegmentEndsNearSegmentSize(t *testing.T) {
	m := vfs.NewMem()
	cfg := smallConfig()
	l := openLog(t, m, "log", cfg)
	for z := int64(1); z <= 300; z++ {
		if err := l.AppendSync(recs(z)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	names, _ := m.List("log")
	if len(names) < 3 {
		t.Fatalf("want several segments, have %v", names)
	}
	for _, n := range names[:len(names)-1] {
		info, _ := m.Stat("log/" + n)
		if limit := cfg.SegmentSize + int64(frameSize(len(payloadFor(300)))+300); info.Size > limit {
			t.Fatalf("%s is %d bytes, more than %d", n, info.Size, limit)
		}
	}
}
