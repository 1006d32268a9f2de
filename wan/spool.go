package wan

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// SpoolBlob is a blob received from a peer: a file in SpoolDir that holds
// all of it (its size checked against the sender's header). The driver
// reads it (Open), moves it (Path, e.g. renaming it into its data
// directory) or deletes it (Remove) when done; the transport deletes it on
// Close if it is still there. The file is not synced to disk: a driver
// that keeps it across a crash syncs it first.
type SpoolBlob struct {
	path string
	size int64
}

var _ Blob = (*SpoolBlob)(nil)

// Size implements Blob.
func (b *SpoolBlob) Size() int64 { return b.size }

// Open implements Blob.
func (b *SpoolBlob) Open() (io.ReadCloser, error) { return os.Open(b.path) }

// Path returns the spool file's path.
func (b *SpoolBlob) Path() string { return b.path }

// Remove deletes the file; the blob cannot be opened afterwards. Removing
// twice, or after the file was moved away, is not an error.
func (b *SpoolBlob) Remove() error {
	if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// remove is Remove for a blob that may be nil, ignoring errors.
func (b *SpoolBlob) remove() {
	if b != nil {
		b.Remove()
	}
}

// spoolSuffix ends the name of every spool file.
const spoolSuffix = ".spool"

// dirSpool makes spool files named prefix + random + spoolSuffix in dir.
type dirSpool struct {
	dir, prefix string
}

// newDirSpool returns the spool of server id of cluster bound to addr: the
// prefix says whose files are whose when servers share a directory.
func newDirSpool(dir string, id uint64, cluster, addr string) dirSpool {
	if dir == "" {
		dir = os.TempDir()
	}
	h := fnv.New64a()
	h.Write([]byte(cluster))
	h.Write([]byte{0})
	h.Write([]byte(addr))
	return dirSpool{dir: dir, prefix: fmt.Sprintf("zgwan-%d-%016x-", id, h.Sum64())}
}

// receive writes exactly size bytes of r to a new spool file, then checks
// that r ends there.
func (s dirSpool) receive(r io.Reader, size int64) (*SpoolBlob, error) {
	f, err := os.CreateTemp(s.dir, s.prefix+"*"+spoolSuffix)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	path := f.Name()
	fail := func(err error) (*SpoolBlob, error) {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	n, err := io.Copy(f, &errReader{r: io.LimitReader(r, size)})
	var re *readErr
	switch {
	case errors.As(err, &re):
		return fail(re.err)
	case err != nil:
		return fail(fmt.Errorf("%w: %w", ErrSpool, err))
	case n < size:
		return fail(fmt.Errorf("%w: the blob stream ended after %d of %d bytes", ErrBadFrame, n, size))
	}
	var one [1]byte
	if k, err := r.Read(one[:]); k > 0 || !errors.Is(err, io.EOF) {
		if err == nil || k > 0 {
			err = fmt.Errorf("%w: the blob stream holds more than its %d bytes", ErrBadFrame, size)
		}
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return &SpoolBlob{path: path, size: size}, nil
}

// errReader marks errors of the reader (the network) apart from errors
// of the file, in receive.
type errReader struct{ r io.Reader }

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readErr{err}
	}
	return n, err
}

type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }
func (e *readErr) Unwrap() error { return e.err }

// removeAll deletes this spool's files; it returns the first error.
func (s dirSpool) removeAll() error {
	paths, err := filepath.Glob(filepath.Join(s.dir, s.prefix+"*"+spoolSuffix))
	for _, p := range paths {
		if e := os.Remove(p); e != nil && !errors.Is(e, fs.ErrNotExist) && err == nil {
			err = e
		}
	}
	return err
}
