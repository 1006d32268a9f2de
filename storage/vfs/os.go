package vfs

import (
	"os"
	"path/filepath"
	"sort"
)

// OS is the FS of the real operating system.
type OS struct{}

var (
	_ FS     = OS{}
	_ Locker = OS{}
)

// Create implements FS.
func (OS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}

// Open implements FS.
func (OS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}

// OpenRW implements FS.
func (OS) OpenRW(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}

// Remove implements FS.
func (OS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll implements FS.
func (OS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// List implements FS.
func (OS) List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (OS) Stat(name string) (Info, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return Info{}, err
	}
	return Info{Name: fi.Name(), Size: fi.Size(), IsDir: fi.IsDir()}, nil
}

// SyncDir implements FS: it fsyncs the directory itself, which is what
// makes entries created, renamed or removed in it durable on Linux.
func (OS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return &os.PathError{Op: "syncdir", Path: dir, Err: serr}
	}
	return cerr
}

type osFile struct{ *os.File }

func (f *osFile) Size() (int64, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Sync makes written data and the file size durable (see syncData).
func (f *osFile) Sync() error { return syncData(f.File) }

// Preallocate grows the file to size bytes, zero-filled. It tries
// fallocate(2) first so that blocks are reserved (a later write cannot hit
// ENOSPC and the file's metadata does not change on every append); where
// that is unsupported it extends the file with ftruncate(2).
func (f *osFile) Preallocate(size int64) error {
	cur, err := f.Size()
	if err != nil {
		return err
	}
	if size <= cur {
		return nil
	}
	if ok, err := fallocate(f.File, cur, size-cur); ok {
		return err
	}
	return f.File.Truncate(size)
}
