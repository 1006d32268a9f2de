package server

import (
	"bytes"
	"errors"
	"sort"
	"testing"

	"github.com/go-zookeeper/zk"
)

var open = zk.WorldACL(zk.PermAll)

func TestCRUDAndStat(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)

	p, err := c.Create("/a", []byte("hello"), 0, open)
	if err != nil || p != "/a" {
		t.Fatalf("create: %q %v", p, err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "hello" {
		t.Fatalf("get: %q %v", data, err)
	}
	if st.Czxid != st.Mzxid || st.Czxid != st.Pzxid || st.Version != 0 || st.DataLength != 5 || st.NumChildren != 0 {
		t.Fatalf("fresh stat wrong: %+v", st)
	}
	if _, err := c.Create("/a", nil, 0, open); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, open); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("create without parent: %v", err)
	}
	st2, err := c.Set("/a", []byte("world"), 0)
	if err != nil || st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid {
		t.Fatalf("set: %+v %v", st2, err)
	}
	// Every setData bumps the version, even with the same data.
	if st3, err := c.Set("/a", []byte("world"), -1); err != nil || st3.Version != 2 {
		t.Fatalf("set same data: %+v %v", st3, err)
	}
	if _, err := c.Set("/a", nil, 7); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set with wrong version: %v", err)
	}
	if _, err := c.Create("/a/b", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/a", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if err := c.Delete("/a/b", 3); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("delete wrong version: %v", err)
	}
	if err := c.Delete("/a/b", 0); err != nil {
		t.Fatal(err)
	}
	ok, st4, err := c.Exists("/a")
	if err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	// cversion counts creates and deletes; pzxid moved with the delete.
	if st4.Cversion != 2 || st4.NumChildren != 0 || st4.Pzxid <= st2.Mzxid {
		t.Fatalf("parent stat after child create+delete: %+v", st4)
	}
	if err := c.Delete("/a", -1); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := c.Exists("/a"); ok {
		t.Fatal("/a still exists")
	}
	if _, _, err := c.Get("/a"); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestBadPaths(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	// go-zk validates paths client-side too; the raw client bypasses that.
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	for _, p := range []string{"a", "/a/", "/a//b", "/a/./b", "/../x", "/a\x01", "/a\u00ff\u0085"} {
		h, _ := r.call(1, createBody(p, nil, 0))
		if h.Err != -8 {
			t.Errorf("create %q: err %d, want -8 (BadArguments)", p, h.Err)
		}
	}
	if _, err := c.Create("/ok", nil, 0, open); err != nil {
		t.Fatal(err)
	}
}

func TestSequentialNames(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	if _, err := c.Create("/q", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	p0, err := c.Create("/q/n-", nil, zk.FlagSequence, open)
	if err != nil || p0 != "/q/n-0000000000" {
		t.Fatalf("first sequential: %q %v", p0, err)
	}
	if err := c.Delete(p0, -1); err != nil {
		t.Fatal(err)
	}
	// The suffix comes from the parent's create counter: deletes do not reuse it,
	// and plain creates advance it too.
	if _, err := c.Create("/q/plain", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	p2, err := c.Create("/q/n-", nil, zk.FlagSequence, open)
	if err != nil || p2 != "/q/n-0000000002" {
		t.Fatalf("third create: %q %v", p2, err)
	}
	// A trailing slash is allowed for sequential creates.
	p3, err := c.Create("/q/", nil, zk.FlagSequence, open)
	if err != nil || p3 != "/q/0000000003" {
		t.Fatalf("sequential with trailing slash: %q %v", p3, err)
	}
	children, _, err := c.Children("/q")
	sort.Strings(children)
	if err != nil || len(children) != 3 || children[0] != "0000000003" {
		t.Fatalf("children: %v %v", children, err)
	}
}

func TestReservedNodes(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	children, _, err := c.Children("/")
	if err != nil || len(children) != 1 || children[0] != "zookeeper" {
		t.Fatalf("children of /: %v %v", children, err)
	}
	zkc, _, _ := c.Children("/zookeeper")
	sort.Strings(zkc)
	if len(zkc) != 2 || zkc[0] != "config" || zkc[1] != "quota" {
		t.Fatalf("children of /zookeeper: %v", zkc)
	}
	for _, p := range []string{"/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		if err := c.Delete(p, -1); !errors.Is(err, zk.ErrBadArguments) {
			t.Errorf("delete %s: %v, want BadArguments", p, err)
		}
	}
	if _, err := c.Create("/zookeeper", nil, 0, open); !errors.Is(err, zk.ErrNodeExists) {
		t.Errorf("create /zookeeper: %v", err)
	}
	acl, _, err := c.GetACL("/zookeeper/config")
	if err != nil || len(acl) != 1 || acl[0].Perms != zk.PermRead {
		t.Fatalf("config ACL: %v %v", acl, err)
	}
	if _, err := c.Set("/zookeeper/config", []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("set /zookeeper/config: %v", err)
	}
	// Root stat: all zero but the children count (and the cversion that follows from it).
	_, st, err := c.Get("/")
	if err != nil || st.Czxid != 0 || st.Version != 0 || st.NumChildren != 1 {
		t.Fatalf("root stat: %+v %v", st, err)
	}
}

func TestMulti(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: open},
		&zk.CreateRequest{Path: "/m/child", Acl: open},
		&zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
	)
	if err != nil {
		t.Fatalf("multi: %v", err)
	}
	if len(res) != 4 || res[0].String != "/m" || res[1].String != "/m/child" || res[2].Stat.Version != 1 {
		t.Fatalf("results: %+v", res)
	}
	_, st, _ := c.Get("/m")
	if st.Czxid != st.Mzxid {
		t.Fatalf("all ops of a multi share one zxid: %+v", st)
	}
	// A failing multi changes nothing and reports 0 / code / -2 per op.
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: open},
		&zk.DeleteRequest{Path: "/nope", Version: -1},
		&zk.SetDataRequest{Path: "/m", Data: nil, Version: -1},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("failing multi: %v", err)
	}
	if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrNoNode) || res[2].Error == nil {
		t.Fatalf("failing multi results: %+v", res)
	}
	if ok, _, _ := c.Exists("/m2"); ok {
		t.Fatal("failed multi created /m2")
	}
	data, _, _ := c.Get("/m")
	if !bytes.Equal(data, []byte("2")) {
		t.Fatalf("failed multi changed /m: %q", data)
	}
	// An empty multi succeeds with no results.
	if res, err := c.Multi(); err != nil || len(res) != 0 {
		t.Fatalf("empty multi: %v %v", res, err)
	}
}
