package tree

import (
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// node is one znode. stat.Cversion holds the number of child creates
// (ZooKeeper's stored cversion); clients see 2*creates - numChildren.
type node struct {
	data     []byte
	acl      *aclEntry
	stat     proto.Stat // Cversion stored raw, EphemeralOwner raw, DataLength/NumChildren unused
	children map[string]struct{}
}

func (n *node) numChildren() int { return len(n.children) }

// clientStat returns the Stat clients see.
func (n *node) clientStat() proto.Stat {
	s := n.stat
	nc := int32(len(n.children))
	s.NumChildren = nc
	s.DataLength = int32(len(n.data))
	s.Cversion = n.stat.Cversion*2 - nc
	if !txn.IsSessionOwner(s.EphemeralOwner) {
		s.EphemeralOwner = 0
	}
	return s
}

// Meta is what the prep step needs to validate a request against a node:
// the raw stored counters, not the client view.
type Meta struct {
	Version        int32
	StoredCversion int32 // child create count: the next sequence suffix
	Aversion       int32
	Owner          int64 // raw: session, 0, container or TTL marker
	NumChildren    int32
	ACL            []proto.ACL
	Mzxid          int64
	Pzxid          int64
}

func (n *node) meta() Meta {
	return Meta{
		Version: n.stat.Version, StoredCversion: n.stat.Cversion, Aversion: n.stat.Aversion,
		Owner: n.stat.EphemeralOwner, NumChildren: int32(len(n.children)), ACL: n.acl.list,
		Mzxid: n.stat.Mzxid, Pzxid: n.stat.Pzxid,
	}
}

// aclEntry interns ACL lists: most nodes share a handful of them.
type aclEntry struct {
	key  string
	list []proto.ACL
	refs int
}

type aclCache map[string]*aclEntry

func aclKey(acl []proto.ACL) string {
	b := make([]byte, 0, 32*len(acl))
	for _, a := range acl {
		b = append(b, byte(a.Perms), 0)
		b = append(b, a.ID.Scheme...)
		b = append(b, 0)
		b = append(b, a.ID.ID...)
		b = append(b, 0)
	}
	return string(b)
}

func (c aclCache) get(acl []proto.ACL) *aclEntry {
	k := aclKey(acl)
	e := c[k]
	if e == nil {
		e = &aclEntry{key: k, list: append([]proto.ACL(nil), acl...)}
		c[k] = e
	}
	e.refs++
	return e
}

func (c aclCache) release(e *aclEntry) {
	if e == nil {
		return
	}
	e.refs--
	if e.refs <= 0 {
		delete(c, e.key)
	}
}
