//go:build linux

package vfs

import (
	"errors"
	"os"
	"syscall"
)

// syncData is fdatasync(2): it flushes the file's data and the metadata
// needed to read it back (its size), but not its timestamps.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// fallocate reserves [off, off+n) with mode 0, which also extends the file
// size and reads back as zeros. ok is false when the file system does not
// support it and the caller should fall back.
func fallocate(f *os.File, off, n int64) (ok bool, err error) {
	for {
		err = syscall.Fallocate(int(f.Fd()), 0, off, n)
		if err == syscall.EINTR {
			continue
		}
		break
	}
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		return false, nil
	}
	if err != nil {
		return true, &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return true, nil
}
