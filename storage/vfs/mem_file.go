package vfs

import (
	"errors"
	"io"
	"io/fs"
)

// errReadOnly is returned when writing through a handle opened with Open.
var errReadOnly = errors.New("file opened read-only")

// memFile is an open handle on a memNode. Like a Unix file descriptor it
// keeps working on the node after the name is removed or renamed.
type memFile struct {
	m      *Mem
	n      *memNode
	name   string
	pos    int64
	rw     bool
	closed bool
	locked bool // the handle holds the file's lock (Mem.Lock)
}

var _ File = (*memFile)(nil)

func (f *memFile) Name() string { return f.name }

// check is called with m.mu held after enter.
func (f *memFile) check(op string, hit *faultHit, write bool) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if write && !f.rw {
		return pathErr(op, f.name, errReadOnly)
	}
	if hit != nil && hit.short < 0 {
		return pathErr(op, f.name, hit.err)
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	hit := f.m.enter(OpRead, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("read", hit, false); err != nil {
		return 0, err
	}
	n, err := f.readAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	hit := f.m.enter(OpRead, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("read", hit, false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, errors.New("negative offset"))
	}
	return f.readAt(p, off)
}

func (f *memFile) readAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	return f.write(p, -1)
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("write", f.name, errors.New("negative offset"))
	}
	return f.write(p, off)
}

// write writes at off, or at the handle's position (advancing it) when off
// is negative.
func (f *memFile) write(p []byte, off int64) (int, error) {
	const op = "write"
	hit := f.m.enter(OpWrite, f.name)
	defer f.m.mu.Unlock()
	if err := f.check(op, hit, true); err != nil {
		return 0, err
	}
	seq := off < 0
	if seq {
		off = f.pos
		defer func() { f.pos = off }()
	}
	if hit != nil {
		// A short write: keep the first hit.short bytes, then fail.
		k := min(hit.short, len(p))
		if k > 0 {
			f.n.writeAt(p[:k], off)
		}
		off += int64(k)
		return k, pathErr(op, f.name, hit.err)
	}
	if len(p) > 0 {
		f.n.writeAt(p, off)
	}
	off += int64(len(p))
	return len(p), nil
}

func (f *memFile) Sync() error {
	hit := f.m.enter(OpSync, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("sync", hit, false); err != nil {
		return err
	}
	f.n.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	hit := f.m.enter(OpTruncate, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("truncate", hit, true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, errors.New("negative size"))
	}
	f.n.truncate(size)
	return nil
}

func (f *memFile) Preallocate(size int64) error {
	hit := f.m.enter(OpPreallocate, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("preallocate", hit, true); err != nil {
		return err
	}
	if size > int64(len(f.n.data)) {
		f.n.truncate(size)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	hit := f.m.enter(OpStat, f.name)
	defer f.m.mu.Unlock()
	if err := f.check("stat", hit, false); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Close() error {
	hit := f.m.enter(OpClose, f.name)
	defer f.m.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	if f.locked && f.m.locks[f.n] == f {
		delete(f.m.locks, f.n) // released even if the close fails, as with close(2)
	}
	if hit != nil && hit.short < 0 {
		return pathErr("close", f.name, hit.err)
	}
	return nil
}
