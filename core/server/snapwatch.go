package server

import (
	"slices"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/watch"
)

// A server that keeps its clients through a leader change
// (leaderchange.go) may be synced by a snapshot (SNAP) rather than by
// transactions: the tree is replaced, and no transaction fires the watches
// its clients hold. snapshotEvents compares the tree the clients watched
// with the installed one and makes the events a client would have seen
// had it reconnected and restored its watches (setWatches): for every
// watched path, NodeDeleted, NodeCreated, NodeDataChanged or
// NodeChildrenChanged as the node changed; below a recursive watch, the
// same for every node that changed (but NodeChildrenChanged, which
// recursive watches do not get).

// snapshotEvents lists the events that the change from old to cur fires for
// the watches registered in m.
func snapshotEvents(m *watch.Manager, old, cur *tree.Tree) []tree.Event {
	var out []tree.Event
	type key struct {
		typ  int32
		path string
	}
	seen := make(map[key]bool)
	add := func(typ int32, p string) {
		if seen[key{typ, p}] {
			return
		}
		seen[key{typ, p}] = true
		ev := tree.Event{Type: typ, Path: p}
		acl, ok := cur.ACL(p)
		if !ok {
			acl, _ = old.ACL(p)
		}
		ev.ACL = acl
		out = append(out, ev)
	}
	node := func(p string, children bool) {
		was, wok := old.Stat(p)
		now, nok := cur.Stat(p)
		switch {
		case wok && !nok:
			add(proto.EventNodeDeleted, p)
		case !wok && nok:
			add(proto.EventNodeCreated, p)
		case wok && nok:
			if was.Czxid != now.Czxid || was.Mzxid != now.Mzxid {
				add(proto.EventNodeDataChanged, p)
			}
			if children && (was.Czxid != now.Czxid || was.Pzxid != now.Pzxid) {
				add(proto.EventNodeChildrenChanged, p)
			}
		}
	}
	for _, k := range []watch.Kind{watch.Data, watch.Child, watch.Persistent} {
		for _, p := range m.Paths(k) {
			node(p, k != watch.Data)
		}
	}
	for _, root := range m.Paths(watch.Recursive) {
		for _, p := range subtreeUnion(old, cur, root) {
			node(p, false)
		}
	}
	return out
}

// subtreeUnion lists root and every node below it in either tree, parents
// before children.
func subtreeUnion(a, b *tree.Tree, root string) []string {
	var out []string
	var walk func(p string)
	walk = func(p string) {
		out = append(out, p)
		ca, _ := a.Children(p)
		cb, _ := b.Children(p)
		names := append(ca, cb...)
		slices.Sort(names)
		for _, c := range slices.Compact(names) {
			walk(proto.JoinPath(p, c))
		}
	}
	if a.Exists(root) || b.Exists(root) {
		walk(root)
	}
	return out
}
