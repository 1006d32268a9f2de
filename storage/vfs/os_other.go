//go:build !linux

package vfs

import "os"

func syncData(f *os.File) error { return f.Sync() }

func fallocate(*os.File, int64, int64) (bool, error) { return false, nil }
