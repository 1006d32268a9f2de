package vfs

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"math/rand"
	"syscall"
	"testing"
	"time"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: time-based)")

func testSeed(t *testing.T) int64 {
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with -seed=%d", s)
		}
	})
	return s
}

func mustWrite(t *testing.T, f File, p []byte, off int64) {
	t.Helper()
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

func TestMemOpenHandleSurvivesRemove(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("x")
	f.Write([]byte("data"))
	if err := m.Remove("x"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "data" {
		t.Fatalf("ReadAt after remove = %q, %v", b, err)
	}
	if _, err := f.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
}

func TestMemCrashKeepsSyncedDropsUnsyncedEntries(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d")
	f, _ := m.Create("/d/synced")
	mustWrite(t, f, []byte("durable"), 0)
	f.Sync()
	m.SyncDir("/d")
	mustWrite(t, f, []byte("-extra"), 7)

	// A file created after the last SyncDir: its entry is pending.
	g, _ := m.Create("/d/new")
	mustWrite(t, g, []byte("x"), 0)
	g.Sync()

	sawNew, sawNoNew, sawExtra, sawPlain := false, false, false, false
	for seed := int64(0); seed < 200; seed++ {
		c := m.CrashClone(rand.New(rand.NewSource(seed)))
		got, err := c.ReadFile("/d/synced")
		if err != nil {
			t.Fatalf("seed %d: synced file lost: %v", seed, err)
		}
		if !bytes.HasPrefix(got, []byte("durable")) || len(got) > len("durable-extra") {
			t.Fatalf("seed %d: synced file = %q", seed, got)
		}
		switch string(got) {
		case "durable-extra":
			sawExtra = true
		case "durable":
			sawPlain = true
		}
		if b, err := c.ReadFile("/d/new"); err == nil {
			sawNew = true
			if string(b) != "x" {
				t.Fatalf("seed %d: new file = %q (its data was synced)", seed, b)
			}
		} else {
			sawNoNew = true
		}
	}
	if !sawNew || !sawNoNew || !sawExtra || !sawPlain {
		t.Errorf("crash outcomes not all reached: new=%v nonew=%v extra=%v plain=%v", sawNew, sawNoNew, sawExtra, sawPlain)
	}
	// The original is unchanged by cloning.
	if b, _ := m.ReadFile("/d/synced"); string(b) != "durable-extra" {
		t.Fatalf("original changed: %q", b)
	}
}

// TestMemCrashPrefix checks that what survives of un-synced writes is a
// prefix of them, the first missing one possibly torn.
func TestMemCrashPrefix(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	for iter := 0; iter < 300; iter++ {
		m := NewMem()
		f, _ := m.Create("f")
		f.Preallocate(64)
		f.Sync()
		m.SyncDir(".")
		// Append 8 writes of 8 distinct non-zero bytes each.
		var want []byte
		for i := 0; i < 8; i++ {
			chunk := bytes.Repeat([]byte{byte(i + 1)}, 8)
			mustWrite(t, f, chunk, int64(i*8))
			want = append(want, chunk...)
		}
		c := m.CrashClone(rng)
		got, _ := c.ReadFile("f")
		if len(got) != 64 {
			t.Fatalf("size %d", len(got))
		}
		// Find the longest prefix of whole writes that matches.
		k := 0
		for k < 8 && bytes.Equal(got[k*8:k*8+8], want[k*8:k*8+8]) {
			k++
		}
		if k < 8 {
			// Chunk k may be torn: its own bytes then garbage; after that zeros.
			rest := got[(k+1)*8:]
			if !bytes.Equal(rest, make([]byte, len(rest))) {
				t.Fatalf("iter %d: data after the first lost write survived: %v", iter, got)
			}
			// The torn chunk itself may hold any mix of its bytes and garbage.
		}
	}
}

func TestMemCrashRenameAtomic(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("a.tmp")
	f.Write([]byte("new"))
	f.Sync()
	old, _ := m.Create("a")
	old.Write([]byte("old"))
	old.Sync()
	m.SyncDir(".")
	if err := m.Rename("a.tmp", "a"); err != nil {
		t.Fatal(err)
	}
	for seed := int64(0); seed < 50; seed++ {
		c := m.CrashClone(rand.New(rand.NewSource(seed)))
		b, err := c.ReadFile("a")
		if err != nil || (string(b) != "old" && string(b) != "new") {
			t.Fatalf("seed %d: a = %q, %v", seed, b, err)
		}
		_, tmpErr := c.ReadFile("a.tmp")
		if string(b) == "new" && tmpErr == nil {
			t.Fatalf("seed %d: both names present after rename", seed)
		}
	}
	m.SyncDir(".")
	c := m.CrashClone(rand.New(rand.NewSource(1)))
	if b, _ := c.ReadFile("a"); string(b) != "new" {
		t.Fatalf("after SyncDir the rename must be durable, got %q", b)
	}
}

func TestMemCrashDeterministic(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("f")
	for i := 0; i < 20; i++ {
		f.Write(bytes.Repeat([]byte{byte(i)}, 13))
	}
	a := m.CrashClone(rand.New(rand.NewSource(7))).String()
	b := m.CrashClone(rand.New(rand.NewSource(7))).String()
	da, _ := m.CrashClone(rand.New(rand.NewSource(7))).ReadFile("f")
	db, _ := m.CrashClone(rand.New(rand.NewSource(7))).ReadFile("f")
	if a != b || !bytes.Equal(da, db) {
		t.Fatal("same seed gave different crashes")
	}
}

func TestMemFaults(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("/log")
	id := m.InjectFault(Fault{Op: OpSync, Path: "log", Times: 1})
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fault with Times=1 fired twice: %v", err)
	}
	if m.FaultsFired(id) != 1 {
		t.Fatalf("FaultsFired = %d", m.FaultsFired(id))
	}

	m.InjectFault(Fault{Op: OpWrite, Path: "other", Err: syscall.ENOSPC})
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatalf("path filter ignored: %v", err)
	}
	o, _ := m.Create("/other")
	if _, err := o.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write = %v, want ENOSPC", err)
	}
	if _, err := o.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Times=0 must fire forever: %v", err)
	}
	m.ClearFaults()

	m.InjectFault(Fault{Op: OpWrite, ShortWrite: 3, Skip: 1})
	if _, err := o.Write([]byte("first")); err != nil {
		t.Fatalf("Skip=1: first write failed: %v", err)
	}
	n, err := o.WriteAt([]byte("abcdef"), 5)
	if n != 3 || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write = %d, %v", n, err)
	}
	if b, _ := m.ReadFile("/other"); string(b) != "firstabc" {
		t.Fatalf("after short write file = %q", b)
	}
	m.ClearFaults()

	for _, op := range []Op{OpCreate, OpRename, OpRemove, OpSyncDir, OpMkdirAll, OpList, OpOpen} {
		id := m.InjectFault(Fault{Op: op})
		var err error
		switch op {
		case OpCreate:
			_, err = m.Create("/z")
		case OpRename:
			err = m.Rename("/other", "/other2")
		case OpRemove:
			err = m.Remove("/other")
		case OpSyncDir:
			err = m.SyncDir("/")
		case OpMkdirAll:
			err = m.MkdirAll("/q")
		case OpList:
			_, err = m.List("/")
		case OpOpen:
			_, err = m.Open("/other")
		}
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%v: err = %v, want EIO", op, err)
		}
		m.RemoveFault(id)
	}
	// Nothing of the failed operations happened.
	if _, err := m.Stat("/other"); err != nil {
		t.Fatalf("/other gone after failed rename/remove: %v", err)
	}
	if _, err := m.Stat("/z"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed Create made a file: %v", err)
	}
}

func TestMemFailedSyncIsNotDurable(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("f")
	m.SyncDir(".")
	f.Write([]byte("abc"))
	m.InjectFault(Fault{Op: OpSync})
	if err := f.Sync(); err == nil {
		t.Fatal("Sync succeeded")
	}
	// Find a crash that drops the data: it was never made durable.
	for seed := int64(0); seed < 100; seed++ {
		c := m.CrashClone(rand.New(rand.NewSource(seed)))
		if b, _ := c.ReadFile("f"); len(b) == 0 {
			return
		}
	}
	t.Fatal("data of a failed Sync survived every crash")
}

func TestMemHookCanCrashClone(t *testing.T) {
	m := NewMem()
	f, _ := m.Create("f")
	var clone *Mem
	m.SetHook(func(op Op, path string) {
		if op == OpSync && clone == nil {
			clone = m.CrashClone(rand.New(rand.NewSource(1)))
		}
	})
	f.Write([]byte("abc"))
	f.Sync()
	m.SetHook(nil)
	if clone == nil {
		t.Fatal("hook not called")
	}
	if m.Ops() == 0 {
		t.Fatal("Ops not counted")
	}
}
