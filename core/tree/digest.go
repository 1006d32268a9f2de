package tree

import (
	"encoding/binary"
	"hash/fnv"
)

// nodeDigest hashes what makes a node observably itself: its path, data,
// ACL and stored stat. The tree digest is the sum of these, so adding,
// removing or changing a node updates it in O(size of that node).
func nodeDigest(path string, n *node) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(n.data)
	h.Write([]byte{0})
	h.Write([]byte(n.acl.key))
	var b [60]byte
	s := &n.stat
	binary.BigEndian.PutUint64(b[0:], uint64(s.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(s.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(s.Ctime))
	binary.BigEndian.PutUint64(b[24:], uint64(s.Mtime))
	binary.BigEndian.PutUint32(b[32:], uint32(s.Version))
	binary.BigEndian.PutUint32(b[36:], uint32(s.Cversion))
	binary.BigEndian.PutUint32(b[40:], uint32(s.Aversion))
	binary.BigEndian.PutUint64(b[44:], uint64(s.EphemeralOwner))
	binary.BigEndian.PutUint64(b[52:], uint64(s.Pzxid))
	h.Write(b[:])
	return h.Sum64()
}
