package storage

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/zoogate/zoogate/storage/vfs"
)

// SnapshotReader reads the payload of a snapshot. Its header and trailer
// were checked by Open; the payload checksum is checked when the payload
// has been read to its end: the Read that would return io.EOF returns a
// *CorruptError instead if it does not match. A caller must therefore read
// until io.EOF before trusting what it read.
type SnapshotReader struct {
	path   string
	zxid   int64
	length int64
	want   uint32
	crc    uint32
	read   int64
	f      vfs.File
	br     *bufio.Reader
	err    error
}

// Open opens the snapshot taken at zxid. A missing snapshot gives an error
// matching ErrNoSnapshot; a bad header or trailer a *CorruptError.
func (s *SnapshotStore) Open(zxid int64) (*SnapshotReader, error) {
	return openSnapshot(s.fs, filepath.Join(s.dir, snapshotName(zxid)), zxid)
}

func openSnapshot(fsys vfs.FS, path string, zxid int64) (*SnapshotReader, error) {
	f, err := fsys.Open(path)
	if isNotExist(err) {
		return nil, fmt.Errorf("%w: %s", ErrNoSnapshot, path)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: opening snapshot: %w", err)
	}
	r, err := newSnapshotReader(f, path, zxid)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newSnapshotReader(f vfs.File, path string, zxid int64) (*SnapshotReader, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", path, err)
	}
	if size < snapHeaderSize+snapTrailerSize {
		return nil, corruptf(path, size, "file too short for a snapshot (%d bytes)", size)
	}
	hdr := make([]byte, snapHeaderSize)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	hz, err := decodeSnapHeader(hdr)
	if err != nil {
		return nil, corruptf(path, 0, "%v", err)
	}
	if hz != zxid {
		return nil, corruptf(path, 8, "header says zxid %#x, file name says %#x", hz, zxid)
	}
	tr := make([]byte, snapTrailerSize)
	trailerOff := size - snapTrailerSize
	if _, err := f.ReadAt(tr, trailerOff); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	length, crc, err := decodeSnapTrailer(tr)
	if err != nil {
		return nil, corruptf(path, trailerOff, "%v", err)
	}
	if want := uint64(size - snapHeaderSize - snapTrailerSize); length != want {
		return nil, corruptf(path, trailerOff, "trailer says %d payload bytes, file holds %d", length, want)
	}
	return &SnapshotReader{
		path: path, zxid: zxid, length: int64(length), want: crc, f: f,
		br: bufio.NewReaderSize(io.NewSectionReader(f, snapHeaderSize, int64(length)), 256<<10),
	}, nil
}

// Zxid returns the zxid the snapshot was taken at.
func (r *SnapshotReader) Zxid() int64 { return r.zxid }

// Len returns the payload length in bytes.
func (r *SnapshotReader) Len() int64 { return r.length }

// Read reads payload bytes; see SnapshotReader.
func (r *SnapshotReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.br.Read(p)
	r.crc = crc32.Update(r.crc, castagnoli, p[:n])
	r.read += int64(n)
	if errors.Is(err, io.EOF) {
		if r.read != r.length {
			r.err = corruptf(r.path, snapHeaderSize+r.read, "payload ends after %d of %d bytes", r.read, r.length)
		} else if r.crc != r.want {
			r.err = corruptf(r.path, snapHeaderSize+r.length, "payload checksum mismatch: computed %08x, trailer says %08x", r.crc, r.want)
		} else {
			r.err = io.EOF
		}
		return n, r.err
	}
	if err != nil {
		r.err = fmt.Errorf("storage: reading %s: %w", r.path, err)
		return n, r.err
	}
	return n, nil
}

// Close closes the file.
func (r *SnapshotReader) Close() error { return r.f.Close() }

// Verify reads the whole snapshot at zxid and checks it.
func (s *SnapshotStore) Verify(zxid int64) error {
	r, err := s.Open(zxid)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

// Latest returns the newest snapshot after verifying it completely; ok is
// false when there is none. If the newest is invalid, Latest returns its
// *CorruptError, unless skipInvalid is set (a --recover mode): then it logs
// a WARN, skips it and tries the next older one. I/O errors other than
// corruption are always returned.
func (s *SnapshotStore) Latest(skipInvalid bool) (info SnapshotInfo, ok bool, err error) {
	list, err := s.List()
	if err != nil {
		return SnapshotInfo{}, false, err
	}
	for _, info := range list {
		err := s.Verify(info.Zxid)
		if err == nil {
			return info, true, nil
		}
		if !skipInvalid || !errors.Is(err, ErrCorrupt) {
			return SnapshotInfo{}, false, err
		}
		s.logger.Warn("skipping invalid snapshot", "file", info.Path, "error", err)
	}
	return SnapshotInfo{}, false, nil
}
