package storage

import (
	"errors"
	"io"

	"github.com/zoogate/zoogate/storage/vfs"
)

// ScanSegment reads one log segment file without changing anything (for
// `zoogate log dump`): it calls fn for every valid record with its byte
// offset, stops quietly at the zero-filled end, and reports the first
// invalid frame as a *CorruptError naming the file and offset (which, in
// the last segment of a log, may be a torn tail that recovery would cut).
func ScanSegment(fsys vfs.FS, path string, fn func(rec Record, off int64) error) error {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if _, err := decodeSegmentHeader(b); err != nil {
		return corruptf(path, 0, "%v", err)
	}
	off := segmentHeaderSize
	for off < len(b) {
		rec, n, err := decodeFrame(b[off:], maxRecordSizeLimit)
		switch {
		case errors.Is(err, errFrameZero):
			return nil
		case err != nil:
			return corruptf(path, int64(off), "%v", err)
		}
		if err := fn(rec, int64(off)); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// ReadSnapshotFile opens a snapshot file by path for reading without a
// SnapshotStore (for `zoogate snapshot inspect`); the checksum is verified
// when the payload has been read to its end.
func ReadSnapshotFile(fsys vfs.FS, path string) (*SnapshotReader, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, snapHeaderSize)
	_, err = f.ReadAt(hdr, 0)
	f.Close()
	if err != nil {
		return nil, corruptf(path, 0, "reading the header: %v", err)
	}
	zxid, err := decodeSnapHeader(hdr)
	if err != nil {
		return nil, corruptf(path, 0, "%v", err)
	}
	return openSnapshot(fsys, path, zxid)
}
