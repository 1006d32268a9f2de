package vfs

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Mem is an in-memory FS that tracks durability, for tests and simulations.
// See CrashClone for the crash model and InjectFault for fault injection.
// All methods are safe for concurrent use.
type Mem struct {
	mu     sync.Mutex
	dirs   map[string]*memDir // cleaned path -> directory
	faults []*faultState
	hook   func(op Op, path string)
	ops    int64
	locks  map[*memNode]*memFile // file -> the handle holding its lock
}

var (
	_ FS     = (*Mem)(nil)
	_ Locker = (*Mem)(nil)
)

// memDir is a directory: the entries a reader sees now, the entries that
// are durable, and the entry changes made since the last SyncDir, in order.
type memDir struct {
	entries map[string]*memNode
	durable map[string]*memNode
	pending []dirOp
}

type dirOpKind int

const (
	dirAdd dirOpKind = iota
	dirRemove
	dirRename
)

type dirOp struct {
	kind dirOpKind
	name string
	to   string // dirRename only
	node *memNode
}

func (op dirOp) apply(m map[string]*memNode) {
	switch op.kind {
	case dirAdd:
		m[op.name] = op.node
	case dirRemove:
		delete(m, op.name)
	case dirRename:
		delete(m, op.name)
		m[op.to] = op.node
	}
}

// memNode is a file (an inode): its current bytes, its durable bytes, and
// the writes and truncations made since the last Sync, in order.
type memNode struct {
	data    []byte
	synced  []byte
	pending []fileOp
}

type fileOp struct {
	trunc bool
	off   int64  // write offset
	data  []byte // write payload (a private copy)
	size  int64  // truncate size
}

func (op fileOp) apply(b []byte) []byte {
	if op.trunc {
		return resize(b, op.size)
	}
	end := op.off + int64(len(op.data))
	if end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[op.off:], op.data)
	return b
}

// resize returns b with length n, zero-filling any growth.
func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, n+n/4)
	copy(nb, b)
	return nb
}

// NewMem returns an empty in-memory FS holding the directories "." and "/".
func NewMem() *Mem {
	m := &Mem{dirs: map[string]*memDir{}, locks: map[*memNode]*memFile{}}
	m.dirs["."] = newMemDir()
	m.dirs["/"] = newMemDir()
	return m
}

func newMemDir() *memDir {
	return &memDir{entries: map[string]*memNode{}, durable: map[string]*memNode{}}
}

func clean(p string) string { return filepath.Clean(p) }

func split(p string) (dir, base string) {
	p = clean(p)
	return filepath.Dir(p), filepath.Base(p)
}

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// Ops returns how many operations have been performed so far.
func (m *Mem) Ops() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// SetHook installs a function called at the start of every operation, from
// the goroutine performing it, without any lock of m held: it may call
// CrashClone to capture the disk exactly before the operation. nil removes
// the hook.
func (m *Mem) SetHook(h func(op Op, path string)) {
	m.mu.Lock()
	m.hook = h
	m.mu.Unlock()
}

// enter runs the hook, counts the operation, takes m.mu and checks the
// faults. On return m.mu is held; the caller must unlock it.
func (m *Mem) enter(op Op, path string) *faultHit {
	m.mu.Lock()
	h := m.hook
	m.mu.Unlock()
	if h != nil {
		h(op, path)
	}
	m.mu.Lock()
	m.ops++
	return m.matchFault(op, path)
}

// lookup returns the directory and node of a file path. m.mu is held.
func (m *Mem) lookup(name string) (*memDir, *memNode) {
	dir, base := split(name)
	d := m.dirs[dir]
	if d == nil {
		return nil, nil
	}
	return d, d.entries[base]
}

// Create implements FS.
func (m *Mem) Create(name string) (File, error) {
	hit := m.enter(OpCreate, name)
	defer m.mu.Unlock()
	if hit != nil {
		return nil, pathErr("create", name, hit.err)
	}
	dir, base := split(name)
	d := m.dirs[dir]
	if d == nil {
		return nil, pathErr("create", name, fs.ErrNotExist)
	}
	if _, isDir := m.dirs[clean(name)]; isDir {
		return nil, pathErr("create", name, fs.ErrExist)
	}
	n := d.entries[base]
	if n != nil {
		n.truncate(0)
	} else {
		n = &memNode{}
		op := dirOp{kind: dirAdd, name: base, node: n}
		op.apply(d.entries)
		d.pending = append(d.pending, op)
	}
	return &memFile{m: m, n: n, name: name, rw: true}, nil
}

// Lock implements Locker, with flock(2)'s semantics: the lock belongs to
// the file (it follows a rename) and to the returned handle, whose Close
// releases it. A crash releases every lock: CrashClone copies none.
func (m *Mem) Lock(name string) (File, error) {
	hit := m.enter(OpLock, name)
	defer m.mu.Unlock()
	if hit != nil {
		return nil, pathErr("flock", name, hit.err)
	}
	dir, base := split(name)
	d := m.dirs[dir]
	if d == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if _, isDir := m.dirs[clean(name)]; isDir {
		return nil, pathErr("open", name, fs.ErrExist)
	}
	n := d.entries[base]
	if n == nil {
		n = &memNode{}
		op := dirOp{kind: dirAdd, name: base, node: n}
		op.apply(d.entries)
		d.pending = append(d.pending, op)
	}
	if m.locks[n] != nil {
		return nil, pathErr("flock", name, ErrLocked)
	}
	f := &memFile{m: m, n: n, name: name, rw: true, locked: true}
	m.locks[n] = f
	return f, nil
}

// Open implements FS.
func (m *Mem) Open(name string) (File, error) { return m.open(name, false) }

// OpenRW implements FS.
func (m *Mem) OpenRW(name string) (File, error) { return m.open(name, true) }

func (m *Mem) open(name string, rw bool) (File, error) {
	hit := m.enter(OpOpen, name)
	defer m.mu.Unlock()
	if hit != nil {
		return nil, pathErr("open", name, hit.err)
	}
	_, n := m.lookup(name)
	if n == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	return &memFile{m: m, n: n, name: name, rw: rw}, nil
}

// Remove implements FS.
func (m *Mem) Remove(name string) error {
	hit := m.enter(OpRemove, name)
	defer m.mu.Unlock()
	if hit != nil {
		return pathErr("remove", name, hit.err)
	}
	d, n := m.lookup(name)
	if n == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	_, base := split(name)
	op := dirOp{kind: dirRemove, name: base, node: n}
	op.apply(d.entries)
	d.pending = append(d.pending, op)
	return nil
}

// Rename implements FS. A rename within one directory is atomic in the
// crash model; across directories it is a removal and an addition that a
// crash may keep independently.
func (m *Mem) Rename(oldname, newname string) error {
	hit := m.enter(OpRename, oldname)
	defer m.mu.Unlock()
	if hit != nil {
		return &LinkError{Op: "rename", Old: oldname, New: newname, Err: hit.err}
	}
	od, n := m.lookup(oldname)
	if n == nil {
		return &LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	ndir, nbase := split(newname)
	nd := m.dirs[ndir]
	if nd == nil {
		return &LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	if _, isDir := m.dirs[clean(newname)]; isDir {
		return &LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
	}
	_, obase := split(oldname)
	if od == nd {
		if obase == nbase {
			return nil
		}
		op := dirOp{kind: dirRename, name: obase, to: nbase, node: n}
		op.apply(od.entries)
		od.pending = append(od.pending, op)
		return nil
	}
	rm := dirOp{kind: dirRemove, name: obase, node: n}
	rm.apply(od.entries)
	od.pending = append(od.pending, rm)
	add := dirOp{kind: dirAdd, name: nbase, node: n}
	add.apply(nd.entries)
	nd.pending = append(nd.pending, add)
	return nil
}

// LinkError records an error during a rename, like os.LinkError.
type LinkError struct {
	Op, Old, New string
	Err          error
}

func (e *LinkError) Error() string { return e.Op + " " + e.Old + " " + e.New + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LinkError) Unwrap() error { return e.Err }

// MkdirAll implements FS. Directories are durable as soon as they exist.
func (m *Mem) MkdirAll(dir string) error {
	hit := m.enter(OpMkdirAll, dir)
	defer m.mu.Unlock()
	if hit != nil {
		return pathErr("mkdir", dir, hit.err)
	}
	dir = clean(dir)
	var todo []string
	for p := dir; m.dirs[p] == nil; p = filepath.Dir(p) {
		if pd, base := split(p); m.dirs[pd] != nil && m.dirs[pd].entries[base] != nil {
			return pathErr("mkdir", p, fs.ErrExist) // a file is in the way
		}
		todo = append(todo, p)
	}
	for _, p := range todo {
		m.dirs[p] = newMemDir()
	}
	return nil
}

// List implements FS.
func (m *Mem) List(dir string) ([]string, error) {
	hit := m.enter(OpList, dir)
	defer m.mu.Unlock()
	if hit != nil {
		return nil, pathErr("readdir", dir, hit.err)
	}
	dir = clean(dir)
	d := m.dirs[dir]
	if d == nil {
		return nil, pathErr("readdir", dir, fs.ErrNotExist)
	}
	names := make([]string, 0, len(d.entries))
	for name := range d.entries {
		names = append(names, name)
	}
	for p := range m.dirs {
		if p != dir && filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (m *Mem) Stat(name string) (Info, error) {
	hit := m.enter(OpStat, name)
	defer m.mu.Unlock()
	if hit != nil {
		return Info{}, pathErr("stat", name, hit.err)
	}
	if _, ok := m.dirs[clean(name)]; ok {
		return Info{Name: filepath.Base(clean(name)), IsDir: true}, nil
	}
	_, n := m.lookup(name)
	if n == nil {
		return Info{}, pathErr("stat", name, fs.ErrNotExist)
	}
	return Info{Name: filepath.Base(clean(name)), Size: int64(len(n.data))}, nil
}

// SyncDir implements FS.
func (m *Mem) SyncDir(dir string) error {
	hit := m.enter(OpSyncDir, dir)
	defer m.mu.Unlock()
	if hit != nil {
		return pathErr("syncdir", dir, hit.err)
	}
	d := m.dirs[clean(dir)]
	if d == nil {
		return pathErr("syncdir", dir, fs.ErrNotExist)
	}
	d.durable = make(map[string]*memNode, len(d.entries))
	for k, v := range d.entries {
		d.durable[k] = v
	}
	d.pending = nil
	return nil
}

// ReadFile returns a copy of a file's current contents (a test helper that
// bypasses hooks and faults).
func (m *Mem) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n := m.lookup(name)
	if n == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	return append([]byte(nil), n.data...), nil
}

// String lists the files of m with their sizes, for test failure messages.
func (m *Mem) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var lines []string
	for p, d := range m.dirs {
		for name, n := range d.entries {
			lines = append(lines, filepath.Join(p, name)+" "+strconv.Itoa(len(n.data)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// truncate records and applies a size change. m.mu is held.
func (n *memNode) truncate(size int64) {
	op := fileOp{trunc: true, size: size}
	n.data = op.apply(n.data)
	n.pending = append(n.pending, op)
}

// writeAt records and applies a write. m.mu is held.
func (n *memNode) writeAt(p []byte, off int64) {
	op := fileOp{off: off, data: append([]byte(nil), p...)}
	n.data = op.apply(n.data)
	n.pending = append(n.pending, op)
}

// sync makes the current contents durable. m.mu is held.
func (n *memNode) sync() {
	n.synced = append(n.synced[:0], n.data...)
	n.pending = nil
}
