package vfs

import (
	"math/rand"
	"slices"
)

// CrashClone returns a new Mem holding what a disk would hold if the machine
// lost power now. m itself is unchanged and keeps working.
//
// The crash model:
//   - every byte made durable by File.Sync is kept, and every directory entry
//     change made durable by SyncDir is kept;
//   - of the writes and truncations made to a file since its last Sync, a
//     random prefix (in the order they were made) is kept; the first write
//     past that prefix is, with probability 1/2, torn: a random prefix of its
//     bytes is kept, and, with probability 1/2 again, some of the bytes after
//     that are replaced by random garbage;
//   - of the entry changes (create, remove, rename) made in a directory since
//     its last SyncDir, a random prefix is kept;
//   - directories themselves, once created, always survive.
//
// Everything in the clone is durable (it is what the restarted machine
// reads). Faults and the hook are not copied. The choice is entirely
// determined by rng, so a seed replays the same crash.
func (m *Mem) CrashClone(rng *rand.Rand) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	nodes := map[*memNode]*memNode{}
	// Visit directories in a fixed order so that the rng draws replay.
	for _, p := range sortedKeys(m.dirs) {
		d := m.dirs[p]
		ents := make(map[string]*memNode, len(d.durable))
		for k, v := range d.durable {
			ents[k] = v
		}
		keep := rng.Intn(len(d.pending) + 1)
		for _, op := range d.pending[:keep] {
			op.apply(ents)
		}
		nd := newMemDir()
		for _, name := range sortedKeys(ents) {
			old := ents[name]
			n := nodes[old]
			if n == nil {
				n = old.crash(rng)
				nodes[old] = n
			}
			nd.entries[name] = n
			nd.durable[name] = n
		}
		c.dirs[p] = nd
	}
	return c
}

// crash builds the node a crash leaves of n. m.mu is held.
func (n *memNode) crash(rng *rand.Rand) *memNode {
	data := append([]byte(nil), n.synced...)
	keep := rng.Intn(len(n.pending) + 1)
	for _, op := range n.pending[:keep] {
		data = op.apply(data)
	}
	if keep < len(n.pending) && !n.pending[keep].trunc && rng.Intn(2) == 0 {
		op := n.pending[keep]
		torn := rng.Intn(len(op.data) + 1)
		part := append([]byte(nil), op.data[:torn]...)
		if rng.Intn(2) == 0 && torn < len(op.data) {
			garbage := make([]byte, 1+rng.Intn(len(op.data)-torn))
			rng.Read(garbage)
			part = append(part, garbage...)
		}
		data = fileOp{off: op.off, data: part}.apply(data)
	}
	return &memNode{data: data, synced: append([]byte(nil), data...)}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
