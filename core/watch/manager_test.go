package watch

import (
	"sort"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
)

func ids(v []ID) []ID { sort.Slice(v, func(i, j int) bool { return v[i] < v[j] }); return v }

func TestTriggers(t *testing.T) {
	m := New()
	m.Add(1, "/a", Data)
	m.Add(1, "/a", Child)
	m.Add(2, "/a", Child)
	m.Add(3, "/", Recursive)
	m.Add(4, "/a", Persistent)
	// NodeDeleted fires data and child watches of /a, once per connection.
	got := ids(m.Trigger(proto.EventNodeDeleted, "/a"))
	if len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("deleted: %v", got)
	}
	// One-shots are gone; persistent and recursive stay.
	got = ids(m.Trigger(proto.EventNodeDataChanged, "/a"))
	if len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("after one-shots fired: %v", got)
	}
	// Recursive watchers never see NodeChildrenChanged; persistent ones do.
	got = ids(m.Trigger(proto.EventNodeChildrenChanged, "/a"))
	if len(got) != 1 || got[0] != 4 {
		t.Fatalf("children changed: %v", got)
	}
	got = m.Trigger(proto.EventNodeCreated, "/a/b/c")
	if len(got) != 1 || got[0] != 3 {
		t.Fatalf("recursive below: %v", got)
	}
}

func TestCheckRemoveAndConnCleanup(t *testing.T) {
	m := New()
	m.Add(1, "/x", Data)
	m.Add(1, "/x", Recursive)
	if !m.Check(1, "/x", proto.WatcherData, false) || m.Check(1, "/x", proto.WatcherChildren, false) {
		t.Fatal("check")
	}
	if !m.Check(1, "/x", proto.WatcherAny, true) || m.Check(1, "/x", proto.WatcherAny, false) {
		t.Fatal("remove any")
	}
	m.Add(2, "/y", Child)
	m.Add(2, "/z", Recursive)
	m.RemoveConn(2)
	conns, paths, n := m.Stats()
	if conns != 0 || paths != 0 || n != 0 || m.recursiveCount != 0 {
		t.Fatalf("after RemoveConn: %d %d %d rec=%d", conns, paths, n, m.recursiveCount)
	}
}

func TestByPathListsAConnectionOnce(t *testing.T) {
	m := New()
	m.Add(1, "/a", Data)
	m.Add(1, "/a", Child)
	m.Add(2, "/a", Persistent)
	if got := m.ByPath()["/a"]; len(got) != 2 {
		t.Fatalf("wchp for /a lists %v", got)
	}
}
