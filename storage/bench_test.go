package storage

import (
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func TestMeasureFsyncRate(t *testing.T) {
	for name, fsys := range map[string]vfs.FS{"mem": vfs.NewMem(), "os": vfs.OS{}} {
		dir := t.TempDir()
		if name == "mem" {
			dir = "/probe"
		}
		rate, err := MeasureFsyncRate(fsys, dir, 20)
		if err != nil || rate <= 0 {
			t.Fatalf("%s: rate %f, %v", name, rate, err)
		}
		names, _ := fsys.List(dir)
		if len(names) != 0 {
			t.Fatalf("%s: probe file left: %v", name, names)
		}
		t.Logf("%s: %.0f fsyncs/s", name, rate)
	}
	if _, err := MeasureFsyncRate(vfs.NewMem(), "/p", 0); err == nil {
		t.Fatal("n=0 accepted")
	}
	m := vfs.NewMem()
	m.InjectFault(vfs.Fault{Op: vfs.OpSync})
	if _, err := MeasureFsyncRate(m, "/p", 5); err == nil {
		t.Fatal("fsync error not reported")
	}
}

// BenchmarkAppendGroupCommit: concurrent callers each wait for their own
// record to be durable, on the real disk. Reports records per fsync.
func BenchmarkAppendGroupCommit(b *testing.B) {
	l, err := OpenLog(vfs.OS{}, b.TempDir(), DefaultLogConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var next int64
	payload := make([]byte, 100)
	b.SetParallelism(16) // 16 * GOMAXPROCS callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan error, 1)
		for pb.Next() {
			mu.Lock()
			next++
			err := l.Append([]Record{{Zxid: next, Payload: payload}}, func(err error) { done <- err })
			mu.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
			if err := <-done; err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportBatching(b, l)
}

// BenchmarkAppendSerial: one caller, one record, one fsync at a time: the
// baseline group commit is measured against.
func BenchmarkAppendSerial(b *testing.B) {
	l, err := OpenLog(vfs.OS{}, b.TempDir(), DefaultLogConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	payload := make([]byte, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.AppendSync([]Record{{Zxid: int64(i + 1), Payload: payload}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportBatching(b, l)
}

func reportBatching(b *testing.B, l *Log) {
	st := l.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Records)/float64(st.Batches), "records/fsync")
	}
}

// BenchmarkRawFsync: the disk's raw append+fsync rate.
func BenchmarkRawFsync(b *testing.B) {
	rate, err := MeasureFsyncRate(vfs.OS{}, b.TempDir(), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "fsyncs/s")
}
