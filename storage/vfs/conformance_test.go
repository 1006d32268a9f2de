package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"
)

// testFS runs the same behavioural checks against every implementation.
func testFS(t *testing.T, fsys FS, root string) {
	dir := filepath.Join(root, "a", "b")
	if err := fsys.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := fsys.MkdirAll(dir); err != nil {
		t.Fatalf("MkdirAll twice: %v", err)
	}
	name := filepath.Join(dir, "f")
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != name {
		t.Errorf("Name() = %q, want %q", f.Name(), name)
	}
	if _, err := f.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("W"), 6); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if sz, err := f.Size(); err != nil || sz != 11 {
		t.Fatalf("Size = %d, %v; want 11", sz, err)
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); err != nil || string(buf[:n]) != "World" {
		t.Fatalf("ReadAt = %q, %v", buf[:n], err)
	}
	if n, err := f.ReadAt(buf, 9); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt past end = %d, %v; want 2, EOF", n, err)
	}
	if err := f.Preallocate(100); err != nil {
		t.Fatal(err)
	}
	if sz, _ := f.Size(); sz != 100 {
		t.Fatalf("after Preallocate(100) size = %d", sz)
	}
	if err := f.Preallocate(50); err != nil {
		t.Fatal(err)
	}
	if sz, _ := f.Size(); sz != 100 {
		t.Fatalf("Preallocate must not shrink: size = %d", sz)
	}
	tail := make([]byte, 89)
	if _, err := f.ReadAt(tail, 11); err != nil || !bytes.Equal(tail, make([]byte, 89)) {
		t.Fatalf("preallocated space not zero: %v", err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err == nil {
		t.Error("second Close succeeded")
	}

	r, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(r)
	if err != nil || string(all) != "hello" {
		t.Fatalf("ReadAll = %q, %v", all, err)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("write through a read-only handle succeeded")
	}
	r.Close()

	rw, err := fsys.OpenRW(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.WriteAt([]byte("J"), 0); err != nil {
		t.Fatal(err)
	}
	rw.Close()

	info, err := fsys.Stat(name)
	if err != nil || info.Size != 5 || info.IsDir || info.Name != "f" {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	if info, err := fsys.Stat(dir); err != nil || !info.IsDir {
		t.Fatalf("Stat(dir) = %+v, %v", info, err)
	}

	name2 := filepath.Join(dir, "g")
	if err := fsys.Rename(name, name2); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name after rename: %v", err)
	}
	f2, _ := fsys.Create(filepath.Join(dir, "e"))
	f2.Close()
	names, err := fsys.List(dir)
	if err != nil || len(names) != 2 || names[0] != "e" || names[1] != "g" {
		t.Fatalf("List = %v, %v", names, err)
	}
	if names, _ := fsys.List(filepath.Join(root, "a")); len(names) != 1 || names[0] != "b" {
		t.Fatalf("List parent = %v", names)
	}
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(name2); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(name2); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove twice: %v", err)
	}
	if _, err := fsys.Create(filepath.Join(root, "nodir", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Create in missing dir: %v", err)
	}
	if _, err := fsys.List(filepath.Join(root, "nodir")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List missing dir: %v", err)
	}
	// Create truncates an existing file.
	f3, _ := fsys.Create(filepath.Join(dir, "e"))
	f3.Write([]byte("abc"))
	f3.Close()
	f3, _ = fsys.Create(filepath.Join(dir, "e"))
	if sz, _ := f3.Size(); sz != 0 {
		t.Fatalf("Create did not truncate: size %d", sz)
	}
	f3.Close()
}

func TestOSConformance(t *testing.T) { testFS(t, OS{}, t.TempDir()) }

func TestMemConformance(t *testing.T) { testFS(t, NewMem(), "/data") }

func TestOSOpenedFileSurvivesRemove(t *testing.T) {
	root := t.TempDir()
	name := filepath.Join(root, "x")
	f, err := OS{}.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("data"))
	if err := (OS{}).Remove(name); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "data" {
		t.Fatalf("ReadAt after remove = %q, %v", b, err)
	}
}
