package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zoogate/zoogate/core/zab"
)

// ackWatch checks every ACK a voter sends against its durable log: an ACK
// (of a proposal, or of NEWLEADER) may only leave once the log holds its
// zxid durably (zab.Ready's order: txns durable, then the ACK).
type ackWatch struct {
	PeerTransport
	srv     atomic.Pointer[Server]
	checked atomic.Int64
	mu      sync.Mutex
	bad     []string
}

func (w *ackWatch) Send(to uint64, m zab.Message) {
	if s := w.srv.Load(); s != nil && m.Type == zab.MsgAck {
		if durable := s.disk.log.LastZxid(); durable < m.Zxid {
			w.mu.Lock()
			w.bad = append(w.bad, fmt.Sprintf("ACK %s to %d with the log durable up to %s", zab.FormatZxid(m.Zxid), to, zab.FormatZxid(durable)))
			w.mu.Unlock()
		}
		w.checked.Add(1)
	}
	w.PeerTransport.Send(to, m)
}

// Followers answer committed writes and forward requests before their own
// fsync (cluster.go, driver.process); their ACKs must still wait for it.
func TestClusterAcksFollowDurability(t *testing.T) {
	watches := map[uint64]*ackWatch{}
	tc := newWrappedTestCluster(t, 3, func(id uint64, tr PeerTransport) PeerTransport {
		w := &ackWatch{PeerTransport: tr}
		watches[id] = w
		return w
	})
	for id, s := range tc.servers {
		watches[id].srv.Store(s)
	}
	lead := tc.leader()
	value := make([]byte, 1024)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for id := range tc.servers {
		for k := 0; k < 2; k++ {
			c := tc.connect(id)
			wg.Add(1)
			go func(id uint64, k int) {
				defer wg.Done()
				for i := 0; i < 150; i++ {
					if _, err := c.Create(fmt.Sprintf("/n-%d-%d-%d", id, k, i), value, 0, open); err != nil {
						errs <- err
						return
					}
				}
			}(id, k)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tc.converged()
	total := int64(0)
	for id, w := range watches {
		w.mu.Lock()
		if len(w.bad) > 0 {
			t.Errorf("server %d sent %d ACKs ahead of its log, first: %s", id, len(w.bad), w.bad[0])
		}
		w.mu.Unlock()
		if id != lead {
			total += w.checked.Load()
		}
	}
	// 900 writes: the followers acknowledge them in batches, but never in
	// one batch each.
	if total < 10 {
		t.Fatalf("only %d follower ACKs checked", total)
	}
}
