package storage

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

func TestEpochWriteRead(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("data")
	if e, ok, err := ReadEpoch(m, "data", AcceptedEpochFile); err != nil || ok || e != 0 {
		t.Fatalf("missing file: %d %v %v", e, ok, err)
	}
	for _, e := range []int64{0, 1, 7, 1<<31 - 1} {
		if err := WriteEpoch(m, "data", AcceptedEpochFile, e); err != nil {
			t.Fatal(err)
		}
		got, ok, err := ReadEpoch(m, "data", AcceptedEpochFile)
		if err != nil || !ok || got != e {
			t.Fatalf("ReadEpoch = %d %v %v, want %d", got, ok, err, e)
		}
	}
	if err := WriteEpoch(m, "data", CurrentEpochFile, -1); err == nil {
		t.Fatal("negative epoch accepted")
	}
	names, _ := m.List("data")
	if len(names) != 1 || names[0] != AcceptedEpochFile {
		t.Fatalf("files: %v (no temporary file may remain)", names)
	}
}

func TestEpochGarbage(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("data")
	WriteEpoch(m, "data", CurrentEpochFile, 5)
	path := filepath.Join("data", CurrentEpochFile)
	for name, content := range map[string][]byte{
		"text":      []byte("5\n"),
		"empty":     nil,
		"bit flip":  func() []byte { b := encodeEpoch(5); b[10] ^= 1; return b }(),
		"too long":  append(encodeEpoch(5), 0),
		"bad magic": func() []byte { b := encodeEpoch(5); b[0] = 'x'; return b }(),
	} {
		f, _ := m.Create(path)
		f.Write(content)
		f.Close()
		_, _, err := ReadEpoch(m, "data", CurrentEpochFile)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Path != path {
			t.Errorf("%s: err = %v, want a CorruptError naming %s", name, err, path)
		}
	}
}

// TestEpochCrashAtomic: a crash at any point of WriteEpoch leaves the old
// or the new value, never garbage; after it returns, the new value.
func TestEpochCrashAtomic(t *testing.T) {
	rng := newRand(testSeed(t))
	for i := 0; i < 200; i++ {
		m := vfs.NewMem()
		m.MkdirAll("data")
		if err := WriteEpoch(m, "data", CurrentEpochFile, 3); err != nil {
			t.Fatal(err)
		}
		crashAt := m.Ops() + 1 + rng.Int63n(8)
		var clone *vfs.Mem
		m.SetHook(func(vfs.Op, string) {
			if clone == nil && m.Ops()+1 >= crashAt {
				clone = m.CrashClone(rng)
			}
		})
		if err := WriteEpoch(m, "data", CurrentEpochFile, 4); err != nil {
			t.Fatal(err)
		}
		m.SetHook(nil)
		returned := clone == nil
		if returned {
			clone = m.CrashClone(rng)
		}
		e, ok, err := ReadEpoch(clone, "data", CurrentEpochFile)
		if err != nil || !ok || (e != 3 && e != 4) || (returned && e != 4) {
			t.Fatalf("iteration %d: after crash epoch = %d %v %v (write returned: %v)", i, e, ok, err, returned)
		}
	}
}
