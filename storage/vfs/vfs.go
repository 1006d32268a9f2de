package vfs

import (
	"errors"
	"io"
)

// FS is the set of file-system operations storage needs. Paths are plain
// slash-separated strings; implementations clean them.
//
// Durability contract (both implementations keep it):
//   - bytes written to a File are durable once File.Sync returns nil;
//   - a directory entry created, renamed or removed in a directory is
//     durable once SyncDir on that directory returns nil;
//   - nothing else is promised: after a crash, un-synced writes and entry
//     changes may be lost, partly kept or (for the last write) torn.
type FS interface {
	// Create creates the named file, or truncates it if it exists, and
	// opens it for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// OpenRW opens an existing file for reading and writing, without
	// truncating it.
	OpenRW(name string) (File, error)
	// Remove removes a file.
	Remove(name string) error
	// Rename atomically replaces newname by oldname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents. Directories
	// themselves are not part of the crash model: once created they exist.
	MkdirAll(dir string) error
	// List returns the sorted names of the entries of a directory.
	List(dir string) ([]string, error)
	// Stat describes a file or directory.
	Stat(name string) (Info, error)
	// SyncDir makes the entries of a directory durable.
	SyncDir(dir string) error
}

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync makes every byte written so far, and the file's size, durable.
	Sync() error
	// Truncate changes the size of the file; growing fills with zeros.
	Truncate(size int64) error
	// Preallocate grows the file to at least size bytes, zero-filled,
	// reserving the space on disk where the implementation can. It never
	// shrinks the file. Like any write it is durable only after Sync.
	Preallocate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Name returns the path the file was opened with.
	Name() string
}

// Locker is the optional capability of an FS to lock a file exclusively,
// the way a server keeps a second process off its data directory. Both OS
// and Mem implement it.
type Locker interface {
	// Lock opens the named file for reading and writing, creating it if it
	// does not exist and never truncating it, and takes an exclusive lock on
	// it without waiting. Closing the returned File releases the lock; so
	// does the end of the process (or, for Mem, a crash: CrashClone copies
	// no lock), so a lock file left behind by a dead holder never blocks
	// anyone. When another holder (another process, or another open File
	// of this process) has the lock, Lock fails at once with an error
	// matching ErrLocked.
	Lock(name string) (File, error)
}

// ErrLocked is matched (errors.Is) by the error of Locker.Lock when
// another holder has the lock.
var ErrLocked = errors.New("locked by another holder")

// Info describes a directory entry.
type Info struct {
	Name  string // base name
	Size  int64  // bytes, for files
	IsDir bool
}

// Op names an FS or File operation, for fault injection and hooks.
type Op int

// Operations. The numbering is internal and may change.
const (
	OpAny Op = iota // matches every operation in a Fault
	OpCreate
	OpOpen // Open and OpenRW
	OpRead // Read and ReadAt
	OpWrite
	OpSync
	OpTruncate
	OpPreallocate
	OpClose
	OpRemove
	OpRename
	OpMkdirAll
	OpList
	OpStat
	OpSyncDir
	OpLock
)

var opNames = [...]string{
	OpAny:         "any",
	OpCreate:      "create",
	OpOpen:        "open",
	OpRead:        "read",
	OpWrite:       "write",
	OpSync:        "sync",
	OpTruncate:    "truncate",
	OpPreallocate: "preallocate",
	OpClose:       "close",
	OpRemove:      "remove",
	OpRename:      "rename",
	OpMkdirAll:    "mkdirall",
	OpList:        "list",
	OpStat:        "stat",
	OpSyncDir:     "syncdir",
	OpLock:        "lock",
}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(?)"
}
