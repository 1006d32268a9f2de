package tree

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

func writeSnap(t testing.TB, tr *Tree, batch int) []byte {
	var buf bytes.Buffer
	sw, err := tr.NewSnapshotWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for {
		done, err := sw.WriteBatch(tr, batch)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return buf.Bytes()
		}
	}
}

func sampleTree(t testing.TB) *builder {
	b := &builder{t: New()}
	sid := int64(1)<<56 | 9
	b.apply(t, proto.OpCreateSession, &txn.CreateSession{Timeout: 6000})
	b.apply(t, proto.OpCreate, create("/a", 1, 0))
	b.apply(t, proto.OpCreate, create("/a/e", 1, sid))
	b.apply(t, proto.OpCreate, create("/a/c", 2, txn.ContainerOwner))
	b.apply(t, proto.OpSetData, &txn.SetData{Path: "/a", Data: []byte("data"), Version: 1})
	b.apply(t, proto.OpSetACL, &txn.SetACL{Path: "/a/c", ACL: proto.ReadACLUnsafe, Version: 1})
	b.apply(t, proto.OpSetData, &txn.SetData{Path: "/zookeeper/config", Data: []byte("cfg"), Version: 1})
	return b
}

func TestSnapshotRoundTrip(t *testing.T) {
	b := sampleTree(t)
	got, err := ReadSnapshot(bytes.NewReader(writeSnap(t, b.t, 2)), b.t.LastZxid())
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != b.t.Digest() || got.Dump() != b.t.Dump() || got.LastZxid() != b.zxid {
		t.Fatalf("snapshot round trip differs:\n%s\nvs\n%s", got.Dump(), b.t.Dump())
	}
	if got.Sessions()[int64(1)<<56|9] != 0 || got.Sessions()[0x42] != 6000 {
		t.Fatalf("sessions %v", got.Sessions())
	}
	if len(got.Ephemerals(int64(1)<<56|9)) != 1 || len(got.ReapCandidates(1<<60, 1)) != 1 {
		t.Fatal("indexes not rebuilt")
	}
}

// TestFuzzySnapshotPlusReplay takes a snapshot while transactions keep
// being applied between batches, then checks that loading it and replaying
// every transaction after its start zxid gives exactly the live tree.
func TestFuzzySnapshotPlusReplay(t *testing.T) {
	b := sampleTree(t)
	start := b.t.LastZxid()
	var buf bytes.Buffer
	sw, err := b.t.NewSnapshotWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var after []*txn.Txn
	record := func(typ proto.Op, body txn.Body) {
		b.apply(t, typ, body)
		after = append(after, &txn.Txn{Header: txn.Header{Zxid: b.zxid, Time: 1000 * b.zxid, Type: typ, SessionID: 0x42}, Body: body})
	}
	steps := []func(){
		func() { record(proto.OpDelete, &txn.Delete{Path: "/a/e"}) },
		func() { record(proto.OpCreate, create("/b", 2, 0)); record(proto.OpCreate, create("/b/x", 1, 0)) },
		func() { record(proto.OpSetData, &txn.SetData{Path: "/a", Data: []byte("new"), Version: 2}) },
		func() {
			record(proto.OpDelete, &txn.Delete{Path: "/b/x"})
			record(proto.OpDelete, &txn.Delete{Path: "/b"})
		},
		func() { record(proto.OpCreate, create("/b", 4, 0)); record(proto.OpCreate, create("/b/y", 2, 0)) },
	}
	for i := 0; ; i++ {
		if i < len(steps) {
			steps[i]()
		}
		done, err := sw.WriteBatch(b.t, 1)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
	}
	got, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), start)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range after {
		got.Apply(x) // errors are expected: some changes are already in the snapshot
	}
	if got.Dump() != b.t.Dump() || got.Digest() != b.t.Digest() {
		t.Fatalf("fuzzy snapshot + replay differs:\n%s\nvs live\n%s", got.Dump(), b.t.Dump())
	}
}

func TestReadSnapshotRejectsGarbage(t *testing.T) {
	good := writeSnap(t, sampleTree(t).t, 10)
	for _, bad := range [][]byte{nil, []byte("ZGTREE0"), good[:len(good)-3], append([]byte("XXXXXXXX"), good[8:]...)} {
		if _, err := ReadSnapshot(bytes.NewReader(bad), 1); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%d bytes accepted: %v", len(bad), err)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(writeSnap(f, sampleTree(f).t, 3))
	withSecret := sampleTree(f)
	withSecret.apply(f, txn.OpSessionSecret, &txn.SessionSecret{Secret: bytes.Repeat([]byte{9}, txn.MinSessionSecretLen)})
	f.Add(writeSnap(f, withSecret.t, 3))
	if old, err := os.ReadFile("testdata/snapshot-v1.bin"); err == nil {
		f.Add(old)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ReadSnapshot(bytes.NewReader(b), 7)
		if err != nil {
			return
		}
		// Whatever loads must snapshot and load again to the same tree.
		again, err := ReadSnapshot(bytes.NewReader(writeSnap(t, tr, 5)), 7)
		if err != nil || again.Digest() != tr.Digest() {
			t.Fatalf("reload differs: %v", err)
		}
	})
}

// TestSnapshotKeepsSessionSecret checks that the session secret is written
// in snapshots and read back, that the first applied secret wins, and that
// it stays out of the digest.
func TestSnapshotKeepsSessionSecret(t *testing.T) {
	b := sampleTree(t)
	digest := b.t.Digest()
	first := bytes.Repeat([]byte{1}, txn.MinSessionSecretLen)
	b.apply(t, txn.OpSessionSecret, &txn.SessionSecret{Secret: []byte("too short")})
	if b.t.HasSessionSecret() {
		t.Fatal("a short secret was taken")
	}
	b.apply(t, txn.OpSessionSecret, &txn.SessionSecret{Secret: first})
	b.apply(t, txn.OpSessionSecret, &txn.SessionSecret{Secret: bytes.Repeat([]byte{2}, 40)})
	if !bytes.Equal(b.t.SessionSecret(), first) {
		t.Fatalf("secret %x, want the first one applied", b.t.SessionSecret())
	}
	if b.t.Digest() != digest {
		t.Fatal("the session secret changed the digest")
	}
	snap := writeSnap(t, b.t, 3)
	got, err := ReadSnapshot(bytes.NewReader(snap), b.t.LastZxid())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.SessionSecret(), first) || got.Dump() != b.t.Dump() {
		t.Fatalf("snapshot round trip: secret %x", got.SessionSecret())
	}
	// Replaying a secret over a snapshot that holds one changes nothing.
	got.Apply(&txn.Txn{Header: txn.Header{Zxid: got.LastZxid() + 1, Type: txn.OpSessionSecret}, Body: &txn.SessionSecret{Secret: bytes.Repeat([]byte{3}, 32)}})
	if !bytes.Equal(got.SessionSecret(), first) {
		t.Fatal("a replayed secret replaced the snapshot's")
	}
	// A tree without a secret snapshots and loads without one.
	none, err := ReadSnapshot(bytes.NewReader(writeSnap(t, sampleTree(t).t, 3)), 7)
	if err != nil || none.HasSessionSecret() {
		t.Fatalf("snapshot without a secret: %v %v", err, none.HasSessionSecret())
	}
}

// TestReadSnapshotVersion1 loads a snapshot written in the first format
// (magic ZGTREE01, no meta frame) by the code before the session secret
// existed: testdata/snapshot-v1.bin is sampleTree's snapshot.
func TestReadSnapshotVersion1(t *testing.T) {
	old, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if string(old[:8]) != snapMagicV1 {
		t.Fatalf("testdata is not a version 1 snapshot: %q", old[:8])
	}
	want := sampleTree(t)
	got, err := ReadSnapshot(bytes.NewReader(old), want.t.LastZxid())
	if err != nil {
		t.Fatal(err)
	}
	if got.Dump() != want.t.Dump() || got.Digest() != want.t.Digest() || got.HasSessionSecret() {
		t.Fatalf("version 1 snapshot loads as\n%s\nwant\n%s", got.Dump(), want.t.Dump())
	}
	if got.Sessions()[0x42] != 6000 || len(got.Ephemerals(int64(1)<<56|9)) != 1 {
		t.Fatalf("version 1 sessions or indexes: %v", got.Sessions())
	}
	// Written again, it is a current-format snapshot of the same tree.
	again := writeSnap(t, got, 4)
	if string(again[:8]) != snapMagic {
		t.Fatalf("rewritten with magic %q", again[:8])
	}
	if re, err := ReadSnapshot(bytes.NewReader(again), got.LastZxid()); err != nil || re.Dump() != got.Dump() {
		t.Fatalf("rewritten snapshot: %v", err)
	}
}

func TestReadSnapshotRejectsBadMeta(t *testing.T) {
	b := sampleTree(t)
	b.apply(t, txn.OpSessionSecret, &txn.SessionSecret{Secret: bytes.Repeat([]byte{1}, 32)})
	snap := writeSnap(t, b.t, 3)
	i := bytes.Index(snap, []byte(metaSessionSecret))
	bad := append([]byte(nil), snap...)
	bad[i+len(metaSessionSecret)+3] = 16 // the secret's length: 32 -> 16, frame now has trailing bytes
	if _, err := ReadSnapshot(bytes.NewReader(bad), 1); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("short secret accepted: %v", err)
	}
}
