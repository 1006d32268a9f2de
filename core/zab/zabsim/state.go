package zabsim

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/zoogate/zoogate/core/zab"
)

// The simulated state machine is the sequence of applied transactions; its
// snapshot is that sequence encoded. Comparing sequences is the
// byte-for-byte replica comparison ZOOKEEPER-2355 asks for.

func encodeState(applied []zab.Entry) []byte {
	var b []byte
	for _, e := range applied {
		b = binary.AppendVarint(b, e.Zxid)
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

func decodeState(b []byte) []zab.Entry {
	var out []zab.Entry
	for len(b) > 0 {
		z, n := binary.Varint(b)
		b = b[n:]
		l, m := binary.Uvarint(b)
		b = b[m:]
		out = append(out, zab.Entry{Zxid: z, Data: append([]byte(nil), b[:l]...)})
		b = b[l:]
	}
	return out
}

// Digest is a hash of an applied sequence.
func Digest(applied []zab.Entry) uint64 {
	h := fnv.New64a()
	h.Write(encodeState(applied))
	return h.Sum64()
}
