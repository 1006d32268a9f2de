package tree

import (
	"testing"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

type builder struct {
	zxid int64
	t    *Tree
}

func (b *builder) apply(tb testing.TB, typ proto.Op, body txn.Body) Result {
	tb.Helper()
	b.zxid++
	res, err := b.t.Apply(&txn.Txn{Header: txn.Header{Zxid: b.zxid, Time: 1000 * b.zxid, Type: typ, SessionID: 0x42}, Body: body})
	if err != nil {
		tb.Fatalf("apply %v: %v", typ, err)
	}
	return res
}

func create(path string, parentCversion int32, owner int64) txn.Body {
	return &txn.Create{Path: path, ACL: proto.OpenACLUnsafe, ParentCversion: parentCversion, EphemeralOwner: owner}
}

func TestBuiltins(t *testing.T) {
	tr := New()
	st, _ := tr.Stat("/")
	if st.NumChildren != 1 || st.Cversion != -1 || st.Czxid != 0 {
		t.Fatalf("root stat %+v (stored cversion 0 with 1 child shows -1, as in ZooKeeper)", st)
	}
	acl, _ := tr.ACL(ConfigPath)
	if len(acl) != 1 || acl[0].Perms != proto.PermRead {
		t.Fatalf("config ACL %+v", acl)
	}
	if !IsReserved("/zookeeper/quota") || IsReserved("/zookeeper/x") {
		t.Fatal("IsReserved")
	}
}

func TestApplyStatsAndEvents(t *testing.T) {
	b := &builder{t: New()}
	res := b.apply(t, proto.OpCreate, create("/a", 1, 0))
	if len(res.Events) != 2 || res.Events[0].Type != proto.EventNodeCreated || res.Events[1].Path != "/" {
		t.Fatalf("create events %+v", res.Events)
	}
	if res.Stats[0].Czxid != 1 || res.Stats[0].Ctime != 1000 {
		t.Fatalf("create stat %+v", res.Stats[0])
	}
	b.apply(t, proto.OpCreate, create("/a/b", 1, 0))
	b.apply(t, proto.OpDelete, &txn.Delete{Path: "/a/b"})
	st, _ := b.t.Stat("/a")
	if st.Cversion != 2 || st.Pzxid != 3 || st.NumChildren != 0 || st.Mzxid != 1 {
		t.Fatalf("parent after create+delete %+v", st)
	}
	res = b.apply(t, proto.OpSetData, &txn.SetData{Path: "/a", Data: []byte("hi"), Version: 1})
	if res.Stats[0].Version != 1 || res.Stats[0].Mzxid != 4 || res.Stats[0].Mtime != 4000 || res.Stats[0].DataLength != 2 {
		t.Fatalf("setData stat %+v", res.Stats[0])
	}
	res = b.apply(t, proto.OpSetACL, &txn.SetACL{Path: "/a", ACL: proto.ReadACLUnsafe, Version: 1})
	if len(res.Events) != 0 || res.Stats[0].Aversion != 1 || res.Stats[0].Mzxid != 4 {
		t.Fatalf("setACL %+v", res)
	}
	if _, err := b.t.Apply(&txn.Txn{Header: txn.Header{Zxid: 3}, Body: &txn.Delete{Path: "/a"}}); err == nil {
		t.Fatal("out-of-order zxid accepted")
	}
}

func TestEphemeralsAndCloseSession(t *testing.T) {
	b := &builder{t: New()}
	sid := int64(1)<<56 | 7
	b.apply(t, proto.OpCreateSession, &txn.CreateSession{Timeout: 4000})
	b.apply(t, proto.OpCreate, create("/e1", 1, sid))
	b.apply(t, proto.OpCreate, create("/e2", 2, sid))
	if got := b.t.Ephemerals(sid); len(got) != 2 || b.t.EphemeralCount() != 2 {
		t.Fatalf("ephemerals %v", got)
	}
	st, _ := b.t.Stat("/e1")
	if st.EphemeralOwner != sid {
		t.Fatalf("owner %x", st.EphemeralOwner)
	}
	res := b.apply(t, proto.OpCloseSession, &txn.CloseSession{Paths: []string{"/e1", "/e2"}})
	if len(res.Events) != 4 || b.t.Exists("/e1") || len(b.t.Ephemerals(sid)) != 0 {
		t.Fatalf("close session: %+v", res.Events)
	}
}

func TestFailedMultiChangesNothing(t *testing.T) {
	b := &builder{t: New()}
	before := b.t.Digest()
	res := b.apply(t, proto.OpMulti, &txn.Multi{Ops: []txn.Op{
		{Type: proto.OpError, Body: &txn.Error{Code: 0}},
		{Type: proto.OpError, Body: &txn.Error{Code: proto.CodeNoNode}},
	}})
	if len(res.Events) != 0 || b.t.Digest() != before || b.t.LastZxid() != 1 {
		t.Fatal("failed multi changed the tree")
	}
}

func TestDigestTracksContent(t *testing.T) {
	b1, b2 := &builder{t: New()}, &builder{t: New()}
	if b1.t.Digest() != b2.t.Digest() {
		t.Fatal("fresh trees differ")
	}
	for _, b := range []*builder{b1, b2} {
		b.apply(t, proto.OpCreate, create("/x", 1, 0))
		b.apply(t, proto.OpSetData, &txn.SetData{Path: "/x", Data: []byte("v"), Version: 1})
	}
	if b1.t.Digest() != b2.t.Digest() {
		t.Fatal("same transactions, different digests")
	}
	d := b1.t.Digest()
	b1.apply(t, proto.OpSetData, &txn.SetData{Path: "/x", Data: []byte("w"), Version: 2})
	if b1.t.Digest() == d {
		t.Fatal("digest did not change with the data")
	}
	b1.apply(t, proto.OpCreate, create("/y", 2, 0))
	b1.apply(t, proto.OpDelete, &txn.Delete{Path: "/y"})
	b2.apply(t, proto.OpSetData, &txn.SetData{Path: "/x", Data: []byte("w"), Version: 2})
	if b1.t.Digest() == b2.t.Digest() {
		t.Fatal("different histories (root pzxid/cversion differ) share a digest")
	}
}

func TestReapCandidates(t *testing.T) {
	b := &builder{t: New()}
	b.apply(t, proto.OpCreate, create("/c", 1, txn.ContainerOwner))     // zxid 1, t=1000
	b.apply(t, proto.OpCreate, create("/never", 2, txn.ContainerOwner)) // zxid 2
	b.apply(t, proto.OpCreate, create("/c/k", 1, 0))                    // zxid 3
	b.apply(t, proto.OpCreate, create("/ttl", 3, txn.TTLOwner(10_000))) // zxid 4, t=4000
	if got := b.t.ReapCandidates(5000, 0); len(got) != 0 {
		t.Fatalf("nothing is due yet: %v", got)
	}
	b.apply(t, proto.OpDelete, &txn.Delete{Path: "/c/k"})
	got := b.t.ReapCandidates(20_000, 0)
	if len(got) != 2 || got[0] != "/c" || got[1] != "/ttl" {
		t.Fatalf("candidates %v", got)
	}
	if got := b.t.ReapCandidates(20_000, 5000); len(got) != 3 {
		t.Fatalf("with max-never-used: %v", got)
	}
	st, _ := b.t.Stat("/ttl")
	if st.EphemeralOwner != 0 {
		t.Fatal("TTL marker visible to clients")
	}
}
