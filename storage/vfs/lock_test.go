package vfs

import (
	"errors"
	"math/rand"
	"path/filepath"
	"testing"
)

// testLock checks Locker's contract on one implementation: a second Lock
// fails at once with ErrLocked, the file is created and never truncated,
// and Close releases the lock.
func testLock(t *testing.T, fsys FS, dir string) {
	lk, ok := fsys.(Locker)
	if !ok {
		t.Fatalf("%T does not implement Locker", fsys)
	}
	if err := fsys.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "LOCK")
	first, err := lk.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.WriteAt([]byte("pid 1\n"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := lk.Lock(name); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	// Readers are not blocked.
	r, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := lk.Lock(name)
	if err != nil {
		t.Fatalf("Lock after the holder closed: %v", err)
	}
	defer again.Close()
	if sz, _ := again.Size(); sz != 6 {
		t.Fatalf("Lock truncated the file: size %d, want 6", sz)
	}
	if _, err := lk.Lock(name); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock while re-locked = %v, want ErrLocked", err)
	}
}

func TestLockOS(t *testing.T)  { testLock(t, OS{}, t.TempDir()) }
func TestLockMem(t *testing.T) { testLock(t, NewMem(), "/data") }

// TestMemCrashReleasesLocks: a lock file left on the disk by a crashed
// holder does not block the next one.
func TestMemCrashReleasesLocks(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/data")
	f, err := m.Lock("/data/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.SyncDir("/data")
	crashed := m.CrashClone(rand.New(rand.NewSource(1)))
	if _, err := crashed.Stat("/data/LOCK"); err != nil {
		t.Fatalf("lock file lost by the crash: %v", err)
	}
	g, err := crashed.Lock("/data/LOCK")
	if err != nil {
		t.Fatalf("Lock after a crash: %v", err)
	}
	g.Close()
}

func TestMemLockFault(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/data")
	m.InjectFault(Fault{Op: OpLock})
	if _, err := m.Lock("/data/LOCK"); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("Lock under a fault = %v", err)
	}
}
