package tree

import (
	"bytes"
	"errors"
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
