package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zoogate/zoogate/storage/vfs"
)

// LockFile is the name of the lock file LockDir keeps in a directory.
const LockFile = "LOCK"

// ErrDirLocked: another process (or another server of this process) holds
// the directory's lock. The error is a *DirLockedError naming the
// directory and the holder.
var ErrDirLocked = errors.New("storage: directory in use")

// DirLockedError says which directory is in use, and by whom as far as its
// lock file and /proc tell. It matches ErrDirLocked.
type DirLockedError struct {
	Dir     string
	PID     int    // the holder's process id; 0 when the lock file does not say
	Cmdline string // the holder's command line (/proc/<pid>/cmdline, else what it wrote)
	Owner   string // what the holder wrote about itself (e.g. its server id)
}

func (e *DirLockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "storage: directory %s is in use by another process", e.Dir)
	if e.PID > 0 {
		fmt.Fprintf(&b, ": pid %d", e.PID)
	}
	var who []string
	if e.Cmdline != "" {
		who = append(who, strconv.Quote(e.Cmdline))
	}
	if e.Owner != "" {
		who = append(who, e.Owner)
	}
	if len(who) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(who, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrDirLocked) true.
func (e *DirLockedError) Is(target error) bool { return target == ErrDirLocked }

// DirLock is an exclusive lock on a directory, held until Close.
type DirLock struct {
	f   vfs.File // nil when the FS cannot lock
	dir string
}

// LockDir takes the exclusive lock of dir (which must exist): a lock on
// dir/LOCK, taken without waiting, through the FS's vfs.Locker capability
// (flock(2) for vfs.OS). It then writes the holder's pid, command line and
// owner (a short description, e.g. "server 2, clients on :2181") into the
// file, for whoever is refused next. When another holder has the lock it
// returns a *DirLockedError (matching ErrDirLocked) naming it.
//
// The lock, not the file, is what counts: the kernel releases it when the
// holder closes it or dies, so a LOCK file left by a dead process never
// blocks anyone, and the file is never removed (removing it would let two
// processes lock two different files). On an FS without vfs.Locker, LockDir
// locks nothing and returns a DirLock whose Close does nothing.
func LockDir(fsys vfs.FS, dir, owner string) (*DirLock, error) {
	lk, ok := fsys.(vfs.Locker)
	if !ok {
		return &DirLock{dir: dir}, nil
	}
	path := filepath.Join(dir, LockFile)
	f, err := lk.Lock(path)
	if errors.Is(err, vfs.ErrLocked) {
		return nil, lockHolder(fsys, dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: locking %s: %w", dir, err)
	}
	info := fmt.Sprintf("pid %d\ncmdline %s\nowner %s\nsince %s\n", os.Getpid(),
		oneLine(strings.Join(os.Args, " ")), oneLine(owner), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(info), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: writing lock file %s: %w", path, err)
	}
	return &DirLock{f: f, dir: dir}, nil
}

// Dir returns the locked directory.
func (l *DirLock) Dir() string { return l.dir }

// Close releases the lock. It may be called more than once.
func (l *DirLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return f.Close()
}

// lockHolder builds the error for a directory whose lock is held, from what
// the holder wrote into the lock file and, when readable, its
// /proc/<pid>/cmdline.
func lockHolder(fsys vfs.FS, dir, path string) error {
	e := &DirLockedError{Dir: dir}
	b := make([]byte, 4096)
	if f, err := fsys.Open(path); err == nil {
		n, _ := readFull(f, b)
		b = b[:n]
		f.Close()
	} else {
		b = nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "pid":
			e.PID, _ = strconv.Atoi(val)
		case "cmdline":
			e.Cmdline = val
		case "owner":
			e.Owner = val
		}
	}
	if e.PID > 0 {
		if c := procCmdline(e.PID); c != "" {
			e.Cmdline = c
		}
	}
	return e
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
