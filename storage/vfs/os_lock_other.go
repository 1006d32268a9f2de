//go:build !unix

package vfs

import "os"

// Lock implements Locker where flock(2) does not exist: it opens (or
// creates) the file but takes no lock, so nothing stops a second holder.
func (OS) Lock(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}
