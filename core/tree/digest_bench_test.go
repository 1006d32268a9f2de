package tree

import (
	"testing"

	"github.com/zoogate/zoogate/core/proto"
)

// BenchmarkNodeDigest measures the per-node hash on a 1 KiB value, which
// every create, setData and delete pays (twice for setData).
func BenchmarkNodeDigest(b *testing.B) {
	t := New()
	n := &node{data: make([]byte, 1024), acl: aclCache{}.get(proto.OpenACLUnsafe)}
	b.SetBytes(int64(len(n.data)))
	b.ReportAllocs()
	for b.Loop() {
		t.nodeDigest("/zoogate-bench/v1024/k-000123", n)
	}
}
