package storage

import (
	"errors"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// TestFlushWaitsForEarlierAppends: when Flush returns, every record
// appended before it is durable; on a failed log it returns the failure.
func TestFlushWaitsForEarlierAppends(t *testing.T) {
	m := vfs.NewMem()
	l := openLog(t, m, "log", smallConfig())
	defer l.Close()
	var wg sync.WaitGroup
	for z := int64(1); z <= 50; z++ {
		wg.Add(1)
		if err := l.Append(recs(z), func(error) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := l.LastZxid(); got != 50 {
		t.Fatalf("after Flush only up to zxid %d is durable, want 50", got)
	}
	wg.Wait()
	m.InjectFault(vfs.Fault{Op: vfs.OpSync, Path: "log."})
	l.Append(recs(51), func(error) {})
	if err := l.Flush(); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("Flush on a failed log = %v, want ErrLogFailed", err)
	}
}
