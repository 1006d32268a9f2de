package tree

import (
	"encoding/binary"
	"hash/crc32"
)

// Two CRC-32 polynomials, both computed by CPU instructions on amd64 and
// arm64 (SSE4.2/PCLMULQDQ, ARMv8 CRC32), give a 64-bit node hash at many
// GB/s. The digest is never stored, only compared between live servers
// (the `hash` four-letter word) and in tests, so its function may change
// between releases.
var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	ieee       = crc32.IEEETable
)

// nodeDigest hashes what makes a node observably itself: its path, data,
// ACL and stored stat. The tree digest is the sum of these, so adding,
// removing or changing a node updates it in O(size of that node). It uses
// t.hashBuf as scratch (the caller holds the tree exclusively).
func (t *Tree) nodeDigest(path string, n *node) uint64 {
	s := &n.stat
	b := append(t.hashBuf[:0], path...)
	b = append(b, n.acl.key...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Czxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mtime))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Cversion))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Aversion))
	b = binary.BigEndian.AppendUint64(b, uint64(s.EphemeralOwner))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Pzxid))
	// The lengths keep the boundaries between path, ACL and data unambiguous.
	b = binary.BigEndian.AppendUint32(b, uint32(len(path)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(n.data)))
	t.hashBuf = b
	return uint64(hashParts(castagnoli, b, n.data))<<32 | uint64(hashParts(ieee, b, n.data))
}

func hashParts(tab *crc32.Table, meta, data []byte) uint32 {
	return crc32.Update(crc32.Update(0, tab, meta), tab, data)
}
