package prep

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
)

type env struct {
	t    *testing.T
	tree *tree.Tree
	p    *Prep
	zxid int64
	held []*txn.Txn // prepared, not applied
}

func newEnv(t *testing.T) *env {
	tr := tree.New()
	return &env{t: t, tree: tr, p: New(Config{TTLEnabled: true}, tr)}
}

func (e *env) prep(req *Request) (*txn.Txn, error) {
	e.zxid++
	x, err := e.p.Prepare(req, e.zxid, 1000)
	e.held = append(e.held, x)
	return x, err
}

func (e *env) applyAll() {
	for _, x := range e.held {
		if _, err := e.tree.Apply(x); err != nil {
			e.t.Fatalf("apply %#x: %v", x.Zxid, err)
		}
		e.p.Applied(x.Zxid)
	}
	e.held = nil
}

func create(path string, flags int32) *Request {
	return &Request{SessionID: 0x77, Type: proto.OpCreate, Create: &proto.CreateRequest{Path: path, ACL: proto.OpenACLUnsafe, Flags: flags, TTL: -1}}
}

func TestOutstandingChangesAreSeen(t *testing.T) {
	e := newEnv(t)
	// Pipelined, nothing applied yet: the second create sees the first.
	if _, err := e.prep(create("/a", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prep(create("/a/b", 0)); err != nil {
		t.Fatalf("child of an outstanding create: %v", err)
	}
	if _, err := e.prep(create("/a", 0)); !errors.Is(err, proto.ErrNodeExists) {
		t.Fatalf("duplicate of an outstanding create: %v", err)
	}
	x1, _ := e.prep(create("/a/s-", proto.FlagPersistentSequential))
	x2, _ := e.prep(create("/a/s-", proto.FlagPersistentSequential))
	if x1.Body.(*txn.Create).Path != "/a/s-0000000001" || x2.Body.(*txn.Create).Path != "/a/s-0000000002" {
		t.Fatalf("sequence from outstanding counter: %v %v", x1.Body, x2.Body)
	}
	if _, err := e.prep(&Request{Type: proto.OpDelete, Path: &proto.PathVersion{Path: "/a", Version: -1}}); !errors.Is(err, proto.ErrNotEmpty) {
		t.Fatalf("delete with outstanding children: %v", err)
	}
	e.applyAll()
	if e.p.Outstanding() != 0 {
		t.Fatalf("%d outstanding after apply", e.p.Outstanding())
	}
	st, _ := e.tree.Stat("/a")
	if st.NumChildren != 3 || st.Cversion != 3 {
		t.Fatalf("applied stat %+v", st)
	}
}

func TestErrorTransactionsUseAZxid(t *testing.T) {
	e := newEnv(t)
	x, err := e.prep(create("/missing/x", 0))
	if !errors.Is(err, proto.ErrNoNode) || x.Type != proto.OpError || x.Zxid != 1 || x.Body.(*txn.Error).Code != proto.CodeNoNode {
		t.Fatalf("%+v %v", x, err)
	}
}

func TestCreateChecks(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		req  *Request
		want error
	}{
		{create("/x", 9), proto.ErrBadArguments},
		{create("bad", 0), proto.ErrBadArguments},
		{&Request{Type: proto.OpCreate, Create: &proto.CreateRequest{Path: "/x", Flags: 0, TTL: -1}}, proto.ErrInvalidACL},
		{&Request{Type: proto.OpCreateTTL, Create: &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe, Flags: 5, TTL: 0}}, proto.ErrBadArguments},
		{&Request{Type: proto.OpCreateTTL, Create: &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe, Flags: 0, TTL: 10}}, proto.ErrBadArguments},
		{&Request{Type: proto.OpCreateTTL, Create: &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe, Flags: 5, TTL: txn.MaxTTL + 1}}, proto.ErrBadArguments},
		{create("/", 0), proto.ErrNodeExists}, // the root is its own parent, as in ZooKeeper
		{create("/zookeeper", 0), proto.ErrNodeExists},
	}
	for i, c := range cases {
		if _, err := e.prep(c.req); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
	e.p.cfg.TTLEnabled = false
	if _, err := e.prep(&Request{Type: proto.OpCreateTTL, Create: &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe, Flags: 5, TTL: 10}}); !errors.Is(err, proto.ErrUnimplemented) {
		t.Errorf("TTL disabled: %v", err)
	}
	// Ephemeral parents take no children, even pending ones.
	e.prep(create("/eph", proto.FlagEphemeral))
	if _, err := e.prep(create("/eph/c", 0)); !errors.Is(err, proto.ErrNoChildrenForEphemerals) {
		t.Errorf("child of ephemeral: %v", err)
	}
}

func TestFailedMultiLeavesNoTrace(t *testing.T) {
	e := newEnv(t)
	x, err := e.prep(&Request{Type: proto.OpMulti, Multi: []proto.MultiOp{
		{Type: proto.OpCreate, Create: &proto.CreateRequest{Path: "/m", ACL: proto.OpenACLUnsafe, TTL: -1}},
		{Type: proto.OpCheck, Path: &proto.PathVersion{Path: "/m", Version: 5}},
		{Type: proto.OpDelete, Path: &proto.PathVersion{Path: "/m", Version: -1}},
	}})
	if !errors.Is(err, proto.ErrBadVersion) {
		t.Fatal(err)
	}
	ops := x.Body.(*txn.Multi).Ops
	codes := []proto.Code{ops[0].Body.(*txn.Error).Code, ops[1].Body.(*txn.Error).Code, ops[2].Body.(*txn.Error).Code}
	if codes[0] != 0 || codes[1] != proto.CodeBadVersion || codes[2] != proto.CodeRuntimeInconsistency {
		t.Fatalf("codes %v", codes)
	}
	// /m from the failed multi must not be visible to the next request.
	if _, err := e.prep(create("/m", 0)); err != nil {
		t.Fatalf("failed multi left a pending create: %v", err)
	}
}

func TestCloseSessionListsPendingEphemerals(t *testing.T) {
	e := newEnv(t)
	e.prep(create("/e1", proto.FlagEphemeral))
	e.applyAll()
	e.prep(create("/e2", proto.FlagEphemeral))
	x, err := e.prep(&Request{SessionID: 0x77, Type: proto.OpCloseSession})
	if err != nil {
		t.Fatal(err)
	}
	if paths := x.Body.(*txn.CloseSession).Paths; len(paths) != 2 || paths[0] != "/e1" || paths[1] != "/e2" {
		t.Fatalf("paths %v", paths)
	}
	e.applyAll()
	if e.tree.Exists("/e1") || e.tree.Exists("/e2") {
		t.Fatal("ephemerals survived")
	}
}

func TestACLChecksOnParent(t *testing.T) {
	e := newEnv(t)
	e.prep(&Request{Type: proto.OpCreate, Create: &proto.CreateRequest{Path: "/ro", ACL: proto.ReadACLUnsafe, TTL: -1}})
	if _, err := e.prep(create("/ro/x", 0)); !errors.Is(err, proto.ErrNoAuth) {
		t.Fatalf("create under read-only parent: %v", err)
	}
	if _, err := e.prep(&Request{Type: proto.OpSetData, SetData: &proto.SetDataRequest{Path: "/ro", Version: -1}}); !errors.Is(err, proto.ErrNoAuth) {
		t.Fatalf("setData on read-only: %v", err)
	}
	super := []proto.ID{{Scheme: "super"}}
	if _, err := e.prep(&Request{Type: proto.OpCreate, Auth: super, Create: &proto.CreateRequest{Path: "/ro/x", ACL: proto.OpenACLUnsafe, TTL: -1}}); err != nil {
		t.Fatalf("super: %v", err)
	}
}

func TestRootAsParent(t *testing.T) {
	e := newEnv(t)
	x, err := e.prep(create("/", proto.FlagPersistentSequential))
	if err != nil || x.Body.(*txn.Create).Path != "/0000000000" {
		t.Fatalf("sequential create of /: %+v %v", x.Body, err)
	}
	// Delete checks only for a slash and NUL; other odd paths are just missing.
	if _, err := e.prep(&Request{Type: proto.OpDelete, Path: &proto.PathVersion{Path: "/a/\U0001F600", Version: -1}}); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("delete of an unusual path: %v", err)
	}
	if _, err := e.prep(&Request{Type: proto.OpDelete, Path: &proto.PathVersion{Path: "noslash", Version: -1}}); !errors.Is(err, proto.ErrBadArguments) {
		t.Fatalf("delete without a slash: %v", err)
	}
}

// Applying a prefix of the outstanding transactions retires exactly the
// changes they made: a path changed again by a later, unapplied
// transaction keeps that newer outstanding state.
func TestAppliedRetiresOnlyItsPrefix(t *testing.T) {
	e := newEnv(t)
	set := func(v int32) *Request {
		return &Request{Type: proto.OpSetData, SetData: &proto.SetDataRequest{Path: "/a", Data: []byte("x"), Version: v}}
	}
	for _, r := range []*Request{create("/a", 0), create("/b", 0), set(0), set(1)} {
		if _, err := e.prep(r); err != nil {
			t.Fatal(err)
		}
	}
	held := e.held
	for _, x := range held[:3] { // create /a, create /b, first setData
		if _, err := e.tree.Apply(x); err != nil {
			t.Fatal(err)
		}
		e.p.Applied(x.Zxid)
	}
	if n := e.p.Outstanding(); n != 1 {
		t.Fatalf("outstanding paths after applying 3 of 4: %d, want 1 (/a at version 2)", n)
	}
	// The outstanding second setData still decides the next version check.
	if _, err := e.p.Prepare(set(1), 5, 1000); !errors.Is(err, proto.ErrBadVersion) {
		t.Fatalf("version 1 while version 2 is outstanding: %v", err)
	}
	if _, err := e.p.Prepare(set(2), 6, 1000); err != nil {
		t.Fatalf("version 2 outstanding: %v", err)
	}
	e.p.Applied(6)
	if n := e.p.Outstanding(); n != 0 {
		t.Fatalf("outstanding after applying everything: %d", n)
	}
}

func TestPrepareSessionSecret(t *testing.T) {
	p := New(Config{}, tree.New())
	secret := bytes.Repeat([]byte{7}, txn.MinSessionSecretLen)
	x, err := p.Prepare(&Request{Type: txn.OpSessionSecret, Secret: secret}, 1, 1000)
	if err != nil || x.Type != txn.OpSessionSecret || !bytes.Equal(x.Body.(*txn.SessionSecret).Secret, secret) {
		t.Fatalf("%+v %v", x, err)
	}
	// A request without a proper secret (say, one forwarded by a learner,
	// which never carries it) becomes an error transaction.
	x, err = p.Prepare(&Request{Type: txn.OpSessionSecret, Secret: secret[:16]}, 2, 1000)
	if err == nil || x.Type != proto.OpError {
		t.Fatalf("short secret prepared: %+v %v", x, err)
	}
}
