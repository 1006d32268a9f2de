package storage

import (
	"errors"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// TestCommitCurrentEpochOrder: at the moment the epoch file starts being
// written, every transaction appended before is already durable; and a log
// failure keeps the epoch from being written at all.
func TestCommitCurrentEpochOrder(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("data")
	l := openLog(t, m, "data/log", smallConfig())
	defer l.Close()
	var wg sync.WaitGroup
	for z := int64(1); z <= 50; z++ {
		wg.Add(1)
		if err := l.Append(recs(z), func(error) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	var durableAtEpoch int64 = -1
	m.SetHook(func(op vfs.Op, path string) {
		if op == vfs.OpCreate && durableAtEpoch < 0 && path == "data/"+CurrentEpochFile+tmpSuffix {
			durableAtEpoch = l.LastZxid()
		}
	})
	if err := CommitCurrentEpoch(l, m, "data", 2); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if durableAtEpoch != 50 {
		t.Fatalf("epoch written when only up to zxid %d was durable", durableAtEpoch)
	}
	if e, ok, err := ReadEpoch(m, "data", CurrentEpochFile); err != nil || !ok || e != 2 {
		t.Fatalf("epoch = %d %v %v", e, ok, err)
	}

	m.InjectFault(vfs.Fault{Op: vfs.OpSync, Path: "log."})
	l.Append(recs(51), func(error) {})
	if err := CommitCurrentEpoch(l, m, "data", 3); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("CommitCurrentEpoch on a failed log = %v", err)
	}
	if e, _, _ := ReadEpoch(m, "data", CurrentEpochFile); e != 2 {
		t.Fatalf("epoch advanced to %d although the transactions were not durable", e)
	}
}
