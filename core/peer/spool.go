package peer

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zoogate/zoogate/core/zab"
)

// Removable is implemented by a Blob whose storage its receiver owns and
// should delete once done with it: the SpoolBlob a TCP transport delivers.
// A driver checks for it with a type assertion; Mem's Blobs do not
// implement it (they are the sender's).
type Removable interface {
	// Remove deletes the storage; the Blob cannot be opened afterwards.
	// Removing twice, or after the file was moved away, is not an error.
	Remove() error
}

// SpoolBlob is a blob received by a TCP transport: a file in SpoolDir that
// holds all of it (its size checked against the sender's header). The
// driver may read it (Open), move it (Path, e.g. renaming it into its data
// directory) or delete it (Remove); the transport deletes it on Close if it
// is still there. The file is not synced to disk: a driver that keeps it
// across a crash syncs it first.
type SpoolBlob struct {
	path string
	size int64
}

var (
	_ zab.Blob  = (*SpoolBlob)(nil)
	_ Removable = (*SpoolBlob)(nil)
)

// Size implements zab.Blob.
func (b *SpoolBlob) Size() int64 { return b.size }

// Open implements zab.Blob.
func (b *SpoolBlob) Open() (io.ReadCloser, error) { return os.Open(b.path) }

// Path returns the spool file's path.
func (b *SpoolBlob) Path() string { return b.path }

// Remove implements Removable.
func (b *SpoolBlob) Remove() error {
	if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// spoolSuffix ends the name of every spool file.
const spoolSuffix = ".spool"

// dirSpool makes spool files named prefix + random + spoolSuffix in dir.
type dirSpool struct {
	dir, prefix string
}

// newDirSpool returns the spool of server id of cluster listening on addr:
// the prefix says whose files are whose when servers share a directory.
func newDirSpool(dir string, id uint64, cluster, addr string) dirSpool {
	if dir == "" {
		dir = os.TempDir()
	}
	h := fnv.New64a()
	h.Write([]byte(cluster))
	h.Write([]byte{0})
	h.Write([]byte(addr))
	return dirSpool{dir: dir, prefix: fmt.Sprintf("zgpeer-%d-%016x-", id, h.Sum64())}
}

func (s dirSpool) create() (spoolFile, error) {
	f, err := os.CreateTemp(s.dir, s.prefix+"*"+spoolSuffix)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return &fileSpool{f: f}, nil
}

// files lists this spool's files in its directory.
func (s dirSpool) files() ([]string, error) {
	return filepath.Glob(filepath.Join(s.dir, s.prefix+"*"+spoolSuffix))
}

// removeAll deletes this spool's files; it returns the first error.
func (s dirSpool) removeAll() error {
	paths, err := s.files()
	for _, p := range paths {
		if e := os.Remove(p); e != nil && !errors.Is(e, fs.ErrNotExist) && err == nil {
			err = e
		}
	}
	return err
}

// fileSpool is one spool file being written.
type fileSpool struct {
	f *os.File
}

func (w *fileSpool) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return n, err
}

func (w *fileSpool) commit(size int64) (zab.Blob, error) {
	path := w.f.Name()
	err := w.f.Close()
	if err == nil {
		var st fs.FileInfo
		if st, err = os.Stat(path); err == nil && st.Size() != size {
			err = fmt.Errorf("the file holds %d bytes, the blob %d", st.Size(), size)
		}
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return &SpoolBlob{path: path, size: size}, nil
}

func (w *fileSpool) discard() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// removeBlob deletes m's blob if it is a spool file (a message the driver
// will never see).
func removeBlob(m *zab.Message) {
	if b, ok := m.Blob.(*SpoolBlob); ok {
		b.Remove()
	}
}
