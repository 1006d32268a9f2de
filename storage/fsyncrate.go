package storage

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/zoogate/zoogate/storage/vfs"
)

// MeasureFsyncRate measures the raw rate of durable appends the disk under
// dir sustains: n times, it appends one small (64-byte payload) log frame
// to a probe file and fsyncs it. It returns fsyncs per second and removes
// the probe file. This is the ceiling a log without group commit would
// reach; the benchmark compares the group-committed log against it.
func MeasureFsyncRate(fsys vfs.FS, dir string, n int) (perSecond float64, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("storage: MeasureFsyncRate: n must be positive, got %d", n)
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	path := filepath.Join(dir, "fsync-probe.tmp")
	f, err := fsys.Create(path)
	if err != nil {
		return 0, fmt.Errorf("storage: creating probe file: %w", err)
	}
	defer func() {
		f.Close()
		if rerr := fsys.Remove(path); rerr != nil && err == nil {
			err = fmt.Errorf("storage: removing probe file: %w", rerr)
		}
	}()
	frame := appendFrame(nil, Record{Zxid: 1, Payload: make([]byte, 64)})
	var off int64
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.WriteAt(frame, off); err != nil {
			return 0, fmt.Errorf("storage: writing probe file: %w", err)
		}
		off += int64(len(frame))
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("storage: fsync of probe file: %w", err)
		}
	}
	elapsed := time.Since(start)
	if elapsed <= 0 {
		elapsed = time.Nanosecond
	}
	return float64(n) / elapsed.Seconds(), nil
}
