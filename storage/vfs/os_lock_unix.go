//go:build unix

package vfs

import (
	"errors"
	"os"
	"syscall"
)

// Lock implements Locker with flock(2), non-blocking. The lock belongs to
// the open file description: a second Lock of the same file fails even in
// the same process, and the kernel drops the lock when the file is closed
// or the process dies, whatever is left on disk.
func (OS) Lock(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			err = ErrLocked
		}
		return nil, &os.PathError{Op: "flock", Path: name, Err: err}
	}
	return &osFile{f}, nil
}
