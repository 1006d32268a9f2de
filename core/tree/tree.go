package tree

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// Reserved paths that exist in every tree and cannot be deleted.
const (
	ZooKeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

// IsReserved reports whether path is one of the built-in nodes.
func IsReserved(path string) bool {
	return path == "/" || path == ZooKeeperPath || path == QuotaPath || path == ConfigPath
}

// Tree is the data tree plus the session table.
type Tree struct {
	nodes      map[string]*node
	acls       aclCache
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	sessions   map[int64]int32 // session id -> timeout ms
	// sessionSecret is persistent metadata: the deployment's session
	// secret (txn.SessionSecret), nil until one is applied. It is kept in
	// snapshots but not in the digest, which the hash command shows.
	sessionSecret []byte
	lastZxid      int64
	digest        uint64
	dataSize      int64
	hashBuf       []byte // nodeDigest scratch
}

// New returns a tree holding only the built-in nodes.
func New() *Tree {
	t := &Tree{
		nodes:      make(map[string]*node),
		acls:       make(aclCache),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		sessions:   make(map[int64]int32),
	}
	// As in ZooKeeper: the built-ins hold empty (not null) data, and the
	// config node starts with aversion -1.
	t.addNode("/", []byte{}, proto.OpenACLUnsafe, proto.Stat{})
	t.addNode(ZooKeeperPath, []byte{}, proto.OpenACLUnsafe, proto.Stat{})
	t.addNode(QuotaPath, []byte{}, proto.OpenACLUnsafe, proto.Stat{})
	t.addNode(ConfigPath, []byte{}, proto.ReadACLUnsafe, proto.Stat{Aversion: -1})
	return t
}

// addNode inserts a node and links it to its parent (which must exist,
// except for the root). It maintains indexes and the digest.
func (t *Tree) addNode(path string, data []byte, acl []proto.ACL, st proto.Stat) *node {
	n := &node{data: data, acl: t.acls.get(acl), stat: st}
	t.nodes[path] = n
	if path != "/" {
		p := t.nodes[proto.ParentPath(path)]
		if p.children == nil {
			p.children = make(map[string]struct{})
		}
		p.children[proto.BaseName(path)] = struct{}{}
	}
	t.index(path, n)
	t.dataSize += int64(len(path) + len(data))
	t.digest += t.nodeDigest(path, n)
	return n
}

func (t *Tree) index(path string, n *node) {
	owner := n.stat.EphemeralOwner
	switch {
	case owner == txn.ContainerOwner:
		t.containers[path] = struct{}{}
	case txn.IsSessionOwner(owner):
		m := t.ephemerals[owner]
		if m == nil {
			m = make(map[string]struct{})
			t.ephemerals[owner] = m
		}
		m[path] = struct{}{}
	default:
		if _, ok := txn.IsTTLOwner(owner); ok {
			t.ttls[path] = struct{}{}
		}
	}
}

func (t *Tree) unindex(path string, n *node) {
	owner := n.stat.EphemeralOwner
	delete(t.containers, path)
	delete(t.ttls, path)
	if m := t.ephemerals[owner]; m != nil {
		delete(m, path)
		if len(m) == 0 {
			delete(t.ephemerals, owner)
		}
	}
}

// removeNode unlinks a leaf node.
func (t *Tree) removeNode(path string, n *node) {
	t.digest -= t.nodeDigest(path, n)
	t.dataSize -= int64(len(path) + len(n.data))
	t.unindex(path, n)
	t.acls.release(n.acl)
	delete(t.nodes, path)
	if p := t.nodes[proto.ParentPath(path)]; p != nil {
		delete(p.children, proto.BaseName(path))
	}
}

// modify applies f to a node while keeping the digest right.
func (t *Tree) modify(path string, n *node, f func()) {
	t.digest -= t.nodeDigest(path, n)
	t.dataSize -= int64(len(n.data))
	f()
	t.dataSize += int64(len(n.data))
	t.digest += t.nodeDigest(path, n)
}

// LastZxid is the zxid of the last applied transaction.
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// SetLastZxid sets the last applied zxid (after loading a snapshot).
func (t *Tree) SetLastZxid(z int64) { t.lastZxid = z }

// Digest is a hash of every node's path, data and stat, kept up to date on
// every change. Two trees with the same content have the same digest.
func (t *Tree) Digest() uint64 { return t.digest }

// NodeCount returns the number of znodes, the root and built-ins included.
func (t *Tree) NodeCount() int { return len(t.nodes) }

// ApproximateDataSize is the sum of path and data lengths (mntr).
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// Exists reports whether path exists.
func (t *Tree) Exists(path string) bool { _, ok := t.nodes[path]; return ok }

// Stat returns the client-visible Stat of path.
func (t *Tree) Stat(path string) (proto.Stat, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return proto.Stat{}, false
	}
	return n.clientStat(), true
}

// Get returns a node's data (shared; do not modify), Stat and ACL.
func (t *Tree) Get(path string) ([]byte, proto.Stat, []proto.ACL, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return nil, proto.Stat{}, nil, false
	}
	return n.data, n.clientStat(), n.acl.list, true
}

// ACL returns a node's ACL list (shared; do not modify).
func (t *Tree) ACL(path string) ([]proto.ACL, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return nil, false
	}
	return n.acl.list, true
}

// Meta returns the stored metadata the prep step validates against.
func (t *Tree) Meta(path string) (Meta, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return Meta{}, false
	}
	return n.meta(), true
}

// Children returns the names of a node's children, sorted.
func (t *Tree) Children(path string) ([]string, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, true
}

// CountDescendants returns the number of nodes below path (not path itself).
func (t *Tree) CountDescendants(path string) (int, bool) {
	n, ok := t.nodes[path]
	if !ok {
		return 0, false
	}
	count := 0
	var walk func(p string, n *node)
	walk = func(p string, n *node) {
		for c := range n.children {
			cp := proto.JoinPath(p, c)
			count++
			walk(cp, t.nodes[cp])
		}
	}
	walk(path, n)
	return count, true
}

// Ephemerals returns the paths of a session's ephemeral nodes, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	m := t.ephemerals[session]
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// EphemeralSessions returns every session that owns ephemerals, with counts.
func (t *Tree) EphemeralSessions() map[int64]int {
	out := make(map[int64]int, len(t.ephemerals))
	for s, m := range t.ephemerals {
		out[s] = len(m)
	}
	return out
}

// EphemeralCount is the number of ephemeral nodes.
func (t *Tree) EphemeralCount() int {
	c := 0
	for _, m := range t.ephemerals {
		c += len(m)
	}
	return c
}

// SessionSecret returns a copy of the deployment's session secret, nil
// while no SessionSecret transaction has been applied.
func (t *Tree) SessionSecret() []byte {
	if t.sessionSecret == nil {
		return nil
	}
	return append([]byte(nil), t.sessionSecret...)
}

// HasSessionSecret reports whether the tree holds a session secret.
func (t *Tree) HasSessionSecret() bool { return t.sessionSecret != nil }

// Sessions returns the session table (id -> timeout); do not modify.
func (t *Tree) Sessions() map[int64]int32 { return t.sessions }

// ReapCandidates lists container and TTL nodes that may be deleted at time
// now (ms): empty containers that have had a child (or never had one and are
// older than maxNeverUsed when that is > 0), and childless TTL nodes whose
// mtime is older than their ttl. Sorted, for determinism.
func (t *Tree) ReapCandidates(now, maxNeverUsed int64) []string {
	var out []string
	for p := range t.containers {
		n := t.nodes[p]
		if len(n.children) > 0 {
			continue
		}
		if n.stat.Cversion > 0 || (maxNeverUsed > 0 && now-n.stat.Mtime > maxNeverUsed) {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		n := t.nodes[p]
		ttl, _ := txn.IsTTLOwner(n.stat.EphemeralOwner)
		if len(n.children) == 0 && now-n.stat.Mtime > ttl {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Walk visits every node in depth-first order, parents before children,
// children sorted (used for snapshots and the dump tools).
func (t *Tree) Walk(f func(path string, data []byte, acl []proto.ACL, st proto.Stat) error) error {
	var walk func(p string) error
	walk = func(p string) error {
		n := t.nodes[p]
		if err := f(p, n.data, n.acl.list, n.stat); err != nil {
			return err
		}
		names := make([]string, 0, len(n.children))
		for c := range n.children {
			names = append(names, c)
		}
		sort.Strings(names)
		for _, c := range names {
			if err := walk(proto.JoinPath(p, c)); err != nil {
				return err
			}
		}
		return nil
	}
	return walk("/")
}

// Dump returns a readable listing of the tree (tests and debugging).
func (t *Tree) Dump() string {
	var b strings.Builder
	_ = t.Walk(func(p string, data []byte, _ []proto.ACL, st proto.Stat) error {
		fmt.Fprintf(&b, "%s %q %+v\n", p, data, st)
		return nil
	})
	return b.String()
}
