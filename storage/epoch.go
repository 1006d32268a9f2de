package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/zoogate/zoogate/storage/vfs"
)

// Names of the epoch files ZAB keeps (see zab-protocol.md).
const (
	AcceptedEpochFile = "acceptedEpoch"
	CurrentEpochFile  = "currentEpoch"
)

// Epoch file (20 bytes, big-endian), see doc.go:
//
//	[0:4)   magic "ZGEP"
//	[4:8)   format version uint32 (1)
//	[8:16)  epoch int64
//	[16:20) crc32c over [0:16)
const (
	epochFileSize = 20
	epochMagic    = "ZGEP"
	epochVersion  = 1
)

func encodeEpoch(epoch int64) []byte {
	return encodeHeader(epochFileSize, epochMagic, epochVersion, epoch)
}

func decodeEpoch(b []byte) (int64, error) {
	switch {
	case len(b) != epochFileSize:
		return 0, fmt.Errorf("epoch file has %d bytes, want %d", len(b), epochFileSize)
	case string(b[0:4]) != epochMagic:
		return 0, errors.New("bad epoch file magic")
	case crc32.Checksum(b[0:16], castagnoli) != binary.BigEndian.Uint32(b[16:20]):
		return 0, errors.New("epoch file checksum mismatch")
	case binary.BigEndian.Uint32(b[4:8]) != epochVersion:
		return 0, errors.New("unsupported epoch file version")
	}
	e := int64(binary.BigEndian.Uint64(b[8:16]))
	if e < 0 {
		return 0, errors.New("negative epoch")
	}
	return e, nil
}

// WriteEpoch durably replaces the epoch file dir/name. It returns only
// after the new value would survive a crash: it writes name.tmp, fsyncs
// it, renames it over name and fsyncs dir. A crash at any point leaves
// either the old or the new value, never a mix.
//
// ZAB's order (ZOOKEEPER-3911, -4643): make the synced transactions durable
// first (Log.AppendSync, or wait for the Append callbacks), then
// WriteEpoch(currentEpoch), then acknowledge NEWLEADER.
func WriteEpoch(fsys vfs.FS, dir, name string, epoch int64) error {
	if epoch < 0 {
		return fmt.Errorf("storage: negative epoch %d for %s", epoch, name)
	}
	final := filepath.Join(dir, name)
	tmp := final + tmpSuffix
	if err := writeFileAtomic(fsys, dir, tmp, final, encodeEpoch(epoch)); err != nil {
		return fmt.Errorf("storage: writing epoch file %s: %w", final, err)
	}
	return nil
}

// writeFileAtomic writes data to tmp, fsyncs, renames to final and fsyncs
// dir.
func writeFileAtomic(fsys vfs.FS, dir, tmp, final string, data []byte) error {
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// ReadEpoch reads the epoch file dir/name. A missing file gives (0, false,
// nil); a file that is not a valid epoch file gives a *CorruptError naming
// it.
func ReadEpoch(fsys vfs.FS, dir, name string) (epoch int64, ok bool, err error) {
	path := filepath.Join(dir, name)
	f, err := fsys.Open(path)
	if isNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("storage: opening epoch file: %w", err)
	}
	defer f.Close()
	b := make([]byte, epochFileSize+1)
	n, rerr := readFull(f, b)
	if rerr != nil {
		return 0, false, fmt.Errorf("storage: reading epoch file %s: %w", path, rerr)
	}
	e, derr := decodeEpoch(b[:n])
	if derr != nil {
		return 0, false, corruptf(path, 0, "%v", derr)
	}
	return e, true, nil
}

// readFull reads from r until b is full or EOF; EOF is not an error.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		if k == 0 {
			return n, nil
		}
	}
	return n, nil
}
