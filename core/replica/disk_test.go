package replica

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

func openDisk(t *testing.T, fsys vfs.FS) (*DiskStorage, *storage.Log) {
	t.Helper()
	for _, d := range []string{"/d/log", "/d/snap"} {
		if err := fsys.MkdirAll(d); err != nil {
			t.Fatal(err)
		}
	}
	lg, err := storage.OpenLog(fsys, "/d/log", storage.DefaultLogConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := storage.OpenSnapshotStore(fsys, "/d/snap", nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := OpenDiskStorage(fsys, "/d", lg, snaps, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds, lg
}

// fileBlob is a Blob over a real file, removable like a transport's spool.
type fileBlob struct {
	path    string
	removed bool
}

func (b *fileBlob) Size() int64 {
	fi, _ := os.Stat(b.path)
	return fi.Size()
}
func (b *fileBlob) Open() (io.ReadCloser, error) { return os.Open(b.path) }
func (b *fileBlob) Remove() error                { b.removed = true; return os.Remove(b.path) }

// A snapshot received as a Blob is streamed into the store, replaces the
// log, is handed out again as a Blob for the next learner, and the spool
// file is removed; entries and epochs survive a reopen.
func TestDiskStorageSnapshotBlobRoundTrip(t *testing.T) {
	fsys := vfs.NewMem()
	ds, lg := openDisk(t, fsys)
	if err := ds.Append([]zab.Entry{{Zxid: zab.MakeZxid(1, 1), Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("snapshot-bytes "), 100000) // 1.5 MB
	spool := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(spool, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	blob := &fileBlob{path: spool}
	z := zab.MakeZxid(2, 7)
	if err := ds.InstallSnapshot(zab.Snapshot{Zxid: z, Blob: blob}); err != nil {
		t.Fatal(err)
	}
	if !blob.removed {
		t.Fatal("spool file not removed after install")
	}
	if ds.SnapshotZxid() != z || ds.LastZxid() != z || lg.LastZxid() != 0 {
		t.Fatalf("after install: snap %s last %s log %s", zab.FormatZxid(ds.SnapshotZxid()), zab.FormatZxid(ds.LastZxid()), zab.FormatZxid(lg.LastZxid()))
	}
	snap, err := ds.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Data != nil || snap.Blob == nil || snap.Blob.Size() != int64(len(payload)) {
		t.Fatalf("snapshot handed out: data %d bytes, blob %v", len(snap.Data), snap.Blob)
	}
	r, err := snap.Blob.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("blob read back: %d bytes, err %v", len(got), err)
	}
	if err := ds.SetHardState(zab.HardState{AcceptedEpoch: 3, CurrentEpoch: 2}); err != nil {
		t.Fatal(err)
	}
	next := zab.MakeZxid(2, 8)
	if err := ds.Append([]zab.Entry{{Zxid: next, Data: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	lg.Close()
	lg2, err := storage.OpenLog(fsys, "/d/log", storage.DefaultLogConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lg2.Close()
	snaps, _ := storage.OpenSnapshotStore(fsys, "/d/snap", nil)
	ds2, err := OpenDiskStorage(fsys, "/d", lg2, snaps, z, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hs := ds2.HardState(); hs.AcceptedEpoch != 3 || hs.CurrentEpoch != 2 {
		t.Fatalf("epochs after reopen %+v", hs)
	}
	if ents, err := ds2.Entries(z, next); err != nil || len(ents) != 1 || string(ents[0].Data) != "y" {
		t.Fatalf("entries after reopen %v %v", ents, err)
	}
}

// A Blob shorter than it claims is refused and nothing is installed.
func TestDiskStorageRefusesAShortBlob(t *testing.T) {
	ds, _ := openDisk(t, vfs.NewMem())
	spool := filepath.Join(t.TempDir(), "spool")
	os.WriteFile(spool, []byte("abc"), 0o600)
	err := ds.InstallSnapshot(zab.Snapshot{Zxid: zab.MakeZxid(1, 1), Blob: lyingBlob{&fileBlob{path: spool}}})
	if err == nil {
		t.Fatal("a short blob was installed")
	}
	if ds.SnapshotZxid() != 0 {
		t.Fatalf("snapshot zxid %s after a failed install", zab.FormatZxid(ds.SnapshotZxid()))
	}
}

type lyingBlob struct{ *fileBlob }

func (lyingBlob) Size() int64 { return 10 }
