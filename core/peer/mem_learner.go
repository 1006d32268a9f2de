package peer

import (
	"io"

	"github.com/zoogate/zoogate/core/zab"
)

// Learner returns the running endpoint of learner id (an observer or a
// relay, not a voter), starting a fresh one if there is none, and records
// upstreams as the servers it dials (TCPConfig.Upstreams). The record
// outlives the endpoint: Transport(id) restarts it as the same learner;
// calling Learner again replaces the upstreams (streams with servers that
// are no longer upstreams break, both ends told).
//
// A learner and another server exchange messages only if one is an
// upstream of the other (a relay is a learner of its own upstream and the
// upstream of its observers); any other Send between them is dropped, as
// TCP drops a Send to a peer it does not know. Every server accepts its
// learners, as a TCP transport with AcceptLearners does.
func (nw *MemNetwork) Learner(id uint64, upstreams ...uint64) *MemTransport {
	nw.mu.Lock()
	ups := map[uint64]bool{}
	for _, u := range upstreams {
		if u != id && u != 0 {
			ups[u] = true
		}
	}
	nw.learners[id] = ups
	for k, live := range nw.live {
		if live && (k.a == id || k.b == id) && !nw.allowedL(k.a, k.b) {
			nw.breakPairL(k.a, k.b, 0)
		}
	}
	nw.mu.Unlock()
	return nw.Transport(id)
}

// allowedL reports whether a and b may have a stream: neither is a
// learner, or one is an upstream of the other.
func (nw *MemNetwork) allowedL(a, b uint64) bool {
	ua, la := nw.learners[a]
	ub, lb := nw.learners[b]
	return (!la && !lb) || (la && ua[b]) || (lb && ub[a])
}

// memBlob hands a sender's Blob to the receiver with only Size and Open.
type memBlob struct{ b zab.Blob }

func (m memBlob) Size() int64 { return m.b.Size() }

func (m memBlob) Open() (io.ReadCloser, error) { return m.b.Open() }
