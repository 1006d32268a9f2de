// Package vfs is the file-system abstraction under zoogate's storage: the
// small FS and File interfaces the transaction log, snapshots and epoch files
// are written against, and two implementations of them.
//
//   - OS works on real files. File.Sync is fdatasync(2) on Linux (fsync
//     elsewhere), SyncDir fsyncs a directory so that the entries created,
//     renamed or removed in it survive a crash, and Preallocate reserves and
//     zero-fills space with fallocate(2) where the file system supports it,
//     falling back to extending the file with ftruncate(2). Its Lock (the
//     optional Locker capability) is a non-blocking flock(2) on Unix.
//
//   - Mem is an in-memory twin for tests and simulations. It remembers which
//     bytes and which directory entries are durable (made so by File.Sync and
//     SyncDir) and can produce, with CrashClone, the disk a machine would find
//     after a power cut: everything durable plus a seeded random prefix of
//     what was not, the last write possibly torn. It also injects faults
//     (EIO, ENOSPC, short writes) on chosen operations and paths, and locks
//     files like flock(2) does (a crash releases every lock).
//
// The crash model of Mem is deliberately simple and stated in mem_crash.go.
//
// This package imports only the standard library. It must never import any
// other zoogate package.
package vfs
