// Package storage is zoogate's durable state on disk: the transaction log
// (Log), snapshot files (SnapshotStore), the ZAB epoch files (WriteEpoch,
// ReadEpoch) and the directory lock (LockDir), all written through the
// small file-system abstraction of storage/vfs so that tests can run them
// on a crashable in-memory disk.
//
// storage knows nothing about ZooKeeper data: records and snapshots carry
// opaque payload bytes plus a zxid (int64, epoch<<32 | counter). It imports
// only the standard library, hclog and storage/vfs; it must never import
// core, bridge, wan, topology or cmd.
//
// # Directory layout
//
// storage takes directory names from its callers; core/server lays them out
// as (docs/storage.md):
//
//	<data_dir>/LOCK                 LockDir's lock file
//	<data_dir>/acceptedEpoch        epoch files (cluster members)
//	<data_dir>/currentEpoch
//	<data_dir>/snap/snapshot.<zxid> SnapshotStore
//	<log_dir>/log/log.<first zxid>  Log (log_dir defaults to data_dir)
//	<log_dir>/LOCK                  when log_dir is another directory
//
// LockDir takes an exclusive, non-blocking lock on <dir>/LOCK through the
// FS's vfs.Locker capability (flock(2) for vfs.OS; vfs.Mem locks in memory
// and a crash releases its locks) and writes the holder's pid, command
// line and owner into it. A second LockDir fails with a *DirLockedError
// (ErrDirLocked) naming the directory, the pid and the holder's command
// line (/proc/<pid>/cmdline when readable). Only the lock counts, not the
// file: it is released when the holder closes it or dies, so a LOCK file
// left by a dead process blocks nobody, and it is never deleted.
//
// # On-disk format
//
// All integers are big-endian. Checksums are CRC-32C (Castagnoli).
//
// Transaction log: a directory of segment files, each named by the zxid of
// its first record, "log.%016x" (e.g. log.000000010000002a). A segment is
// a header followed by records, followed by zero-filled preallocated space:
//
//	segment file "log.<hex first zxid>"
//	 0        4         8                16               20         24
//	+--------+---------+----------------+----------------+----------+---------+- - - - - - - - -+
//	| "ZGTL" | version | first zxid     | crc32c [0:16)  | reserved | records | 00 00 00 ...     |
//	|        | uint32=1| int64          | uint32         | 0        | ...     | (preallocated)   |
//	+--------+---------+----------------+----------------+----------+---------+- - - - - - - - -+
//
//	record frame
//	 0            4                         8            16
//	+------------+-------------------------+------------+--------------------+
//	| len uint32 | crc32c(zxid ++ payload) | zxid int64 | payload (len bytes)|
//	+------------+-------------------------+------------+--------------------+
//
// A frame whose 16 header bytes are all zero marks the end of the records
// (that is the preallocated space). A zxid is always positive, so a real
// frame never has an all-zero header.
//
// Snapshot file "snapshot.%016x" (zxid of the state it holds):
//
//	 0        4         8        16              20         24                  end-16          end-8           end-4
//	+--------+---------+--------+---------------+----------+-------------------+---------------+---------------+--------+
//	| "ZGSN" | version | zxid   | crc32c [0:16) | reserved | payload (opaque)  | payload len   | crc32c of     | "ZGSE" |
//	|        | uint32=1| int64  | uint32        | 0        |                   | uint64        | payload       |        |
//	+--------+---------+--------+---------------+----------+-------------------+---------------+---------------+--------+
//	 <------------------ header ----------------------------> <- payload ------> <------------- trailer ------------------>
//
// Epoch files "acceptedEpoch" and "currentEpoch" (20 bytes):
//
//	 0        4         8             16              20
//	+--------+---------+-------------+---------------+
//	| "ZGEP" | version | epoch int64 | crc32c [0:16) |
//	+--------+---------+-------------+---------------+
//
// Files being created carry a ".tmp" suffix until they are complete and
// durable; they are renamed into place, then the directory is fsynced.
//
// # Durability contract
//
//   - Log.Append reports success (done(nil)) only after the records are
//     written and the segment fsynced (group commit: one fsync per batch).
//     A write or fsync error fails the log for good (ErrLogFailed): nothing
//     half-written is ever reported durable, and a later fsync can never be
//     mistaken as covering data whose earlier fsync failed.
//   - A new segment's header is fsynced before the segment is renamed into
//     place and the directory fsynced, all before any record goes into it.
//   - WriteEpoch and SnapshotWriter.Commit return only once the new file is
//     fsynced, renamed and the directory fsynced.
//   - ZAB's sync phase must be driven in this order (ZOOKEEPER-3642, -3911,
//     -4643): received snapshot committed (SnapshotWriter.Commit) and
//     synced transactions durable (Log.AppendSync) → WriteEpoch(currentEpoch)
//     → send the ACK of NEWLEADER. storage provides the steps; the order is
//     kept by core/replica.Executor, which persists what a zab Ready asks
//     for through replica.DiskStorage (the log's AppendSync, then
//     WriteEpoch) before it sends the Ready's messages.
//
// # Recovery rules (OpenLog)
//
//   - ".tmp" segments are deleted: their creation never completed.
//   - Every record is validated: frame checksum, length within the format's
//     1 GiB limit, zxids strictly increasing across the whole log, the
//     first record of each segment equal to its header and file name.
//   - The records of a segment end at the end of the file or where all the
//     remaining bytes are zero.
//   - In the last segment, an invalid frame after which no valid frame can
//     be found is a torn write (never acknowledged): the file is cut there
//     and zero-filled again, durably, with a WARN log line. A last segment
//     left with no record is deleted.
//   - Anything else is corruption and returns a *CorruptError (matching
//     ErrCorrupt) naming the file and byte offset: an invalid frame followed
//     by a valid one, an invalid frame or no record in a segment that is not
//     the last, a bad header, a valid frame out of zxid order.
//
// Snapshots are validated when read (SnapshotReader checks the payload
// checksum at the end); SnapshotStore.Latest skips invalid ones only when
// asked to (a --recover mode).
package storage
