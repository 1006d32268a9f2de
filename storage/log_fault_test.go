package storage

import (
	"errors"
	"sync"
	"syscall"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// appendAll appends each zxid in its own call without waiting and returns
// the callback results in order.
func appendAll(t *testing.T, l *Log, zxids []int64) []error {
	t.Helper()
	var wg sync.WaitGroup
	res := make([]error, len(zxids))
	for i, z := range zxids {
		wg.Add(1)
		if err := l.Append(recs(z), func(err error) { res[i] = err; wg.Done() }); err != nil {
			res[i] = err
			wg.Done()
		}
	}
	wg.Wait()
	return res
}

func TestFaultFsyncFailsLog(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", bigSegments())
	defer l.Close()
	if err := l.AppendSync(recs(1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	m.InjectFault(vfs.Fault{Op: vfs.OpSync, Path: "log.", Times: 1})
	res := appendAll(t, l, zxidRange(4, 10))
	for i, err := range res {
		if !errors.Is(err, ErrLogFailed) {
			t.Fatalf("append %d: err = %v, want ErrLogFailed", i+4, err)
		}
	}
	if !errors.Is(l.Err(), ErrLogFailed) || !errors.Is(l.Err(), syscall.EIO) {
		t.Fatalf("Err() = %v", l.Err())
	}
	// Sticky, even though the fault fired only once.
	if err := l.AppendSync(recs(11)); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after failure: %v", err)
	}
	if err := l.TruncateAfter(2); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("TruncateAfter after failure: %v", err)
	}
	if l.LastZxid() != 3 {
		t.Fatalf("LastZxid = %d: an unsynced record counted as durable", l.LastZxid())
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close of a failed log: %v", err)
	}
	// Reopening recovers what is durable and the log works again.
	l2 := openLog(t, m, "log", bigSegments())
	defer l2.Close()
	got := readAll(t, l2, 0)
	if len(got) < 3 {
		t.Fatalf("acknowledged records lost: %v", zxidsOf(got))
	}
	checkRecords(t, got[:3], []int64{1, 2, 3})
}

func TestFaultDiskFullAndShortWrite(t *testing.T) {
	for name, fault := range map[string]vfs.Fault{
		"ENOSPC":      {Op: vfs.OpWrite, Path: "log.", Err: syscall.ENOSPC},
		"short write": {Op: vfs.OpWrite, Path: "log.", ShortWrite: 20},
		"preallocate": {Op: vfs.OpPreallocate, Err: syscall.ENOSPC},
	} {
		t.Run(name, func(t *testing.T) {
			m := vfs.NewMem()
			cfg := smallConfig()
			l := openLog(t, m, "log", cfg)
			if err := l.AppendSync(recs(1, 2)); err != nil {
				t.Fatal(err)
			}
			id := m.InjectFault(fault)
			// Enough records to need more preallocated space.
			res := appendAll(t, l, zxidRange(3, 40))
			if m.FaultsFired(id) == 0 {
				t.Fatal("fault never fired")
			}
			// The writer may have taken the first appends as a batch of
			// their own that met no fault; from the first failure on,
			// every append fails.
			acked := 2
			for acked-2 < len(res) && res[acked-2] == nil {
				acked++
			}
			if acked-2 == len(res) {
				t.Fatal("no append failed")
			}
			for i, err := range res[acked-2:] {
				if !errors.Is(err, ErrLogFailed) {
					t.Fatalf("append %d: %v", i+acked+1, err)
				}
			}
			if fault.Err != nil && !errors.Is(l.Err(), fault.Err) {
				t.Fatalf("Err() = %v, want it to wrap %v", l.Err(), fault.Err)
			}
			l.Close()
			m.ClearFaults()
			l2 := openLog(t, m, "log", cfg)
			defer l2.Close()
			got := readAll(t, l2, 0)
			if len(got) < acked {
				t.Fatalf("%d records after reopen, %d were acknowledged", len(got), acked)
			}
			checkRecords(t, got[:acked], zxidRange(1, int64(acked)))
			// Whatever else survived is a contiguous prefix of what was sent.
			checkRecords(t, got, zxidRange(1, int64(len(got))))
			if err := l2.AppendSync(recs(100)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFaultDuringSegmentRoll(t *testing.T) {
	for name, fault := range map[string]vfs.Fault{
		"create":  {Op: vfs.OpCreate, Path: ".tmp"},
		"rename":  {Op: vfs.OpRename},
		"syncdir": {Op: vfs.OpSyncDir, Path: "log"},
		"header":  {Op: vfs.OpSync, Path: ".tmp"},
	} {
		t.Run(name, func(t *testing.T) {
			m := vfs.NewMem()
			l := openLog(t, m, "log", smallConfig())
			if err := l.AppendSync(recs(1)); err != nil {
				t.Fatal(err)
			}
			m.InjectFault(fault)
			var err error
			z := int64(2)
			for ; err == nil && z < 1000; z++ {
				err = l.AppendSync(recs(z))
			}
			if !errors.Is(err, ErrLogFailed) {
				t.Fatalf("err = %v after %d appends", err, z)
			}
			acked := z - 2 // 1 .. z-2 were acknowledged
			l.Close()
			m.ClearFaults()
			l2 := openLog(t, m, "log", smallConfig())
			defer l2.Close()
			got := readAll(t, l2, 0)
			if int64(len(got)) < acked {
				t.Fatalf("acknowledged records lost: have %d, acked %d", len(got), acked)
			}
			checkRecords(t, got, zxidRange(1, int64(len(got))))
		})
	}
}

func TestFaultDuringTruncateFailsLog(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", smallConfig())
	defer l.Close()
	if err := l.AppendSync(recs(zxidRange(1, 100)...)); err != nil {
		t.Fatal(err)
	}
	m.InjectFault(vfs.Fault{Op: vfs.OpTruncate, Times: 1})
	if err := l.TruncateAfter(50); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("TruncateAfter = %v", err)
	}
	if err := l.AppendSync(recs(51)); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after failed truncate: %v", err)
	}
	l.Close()
	l2 := openLog(t, m, "log", smallConfig())
	defer l2.Close()
	got := readAll(t, l2, 0)
	// A prefix of the old log, at least up to the truncation point.
	if len(got) < 50 {
		t.Fatalf("records at or below the truncation point lost: %d left", len(got))
	}
	checkRecords(t, got, zxidRange(1, int64(len(got))))
	if err := l2.TruncateAfter(50); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, l2, 0), zxidRange(1, 50))
}
