package server

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
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

// A write sent on a session's old connection after the client moved to
// another voter is not applied; that voter closes the old connection
// unanswered (ZooKeeper's SessionMoved). Both directions: the old
// connection on the leader, and on a follower.
func TestClusterWriteOnMovedSessionClosesOldConnection(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.leader()
	var followers []uint64
	for _, id := range tc.voters {
		if id != lead {
			followers = append(followers, id)
		}
	}
	for i, move := range [][2]uint64{{lead, followers[0]}, {followers[0], followers[1]}, {followers[1], lead}} {
		from, to := tc.servers[move[0]], tc.servers[move[1]]
		a := dialRaw(t, from)
		resp := a.handshake(0, nil, false)
		if h, _ := a.call(proto.OpCreate, createBody(fmt.Sprintf("/before-%d", i), nil, 0)); h.Err != 0 {
			t.Fatalf("move %v: create on the first connection: %d", move, h.Err)
		}
		b := dialRaw(t, to)
		if r := b.handshake(resp.SessionID, resp.Passwd, false); r.SessionID != resp.SessionID {
			t.Fatalf("move %v: session not accepted by voter %d", move, move[1])
		}
		// A write through the new voter is queued behind its claim on the
		// session: once it is answered, the leader knows the new owner.
		if h, _ := b.call(proto.OpCreate, createBody(fmt.Sprintf("/after-%d", i), nil, 0)); h.Err != 0 {
			t.Fatalf("move %v: create on the new connection: %d", move, h.Err)
		}
		a.send(proto.OpCreate, createBody(fmt.Sprintf("/stale-%d", i), nil, 0))
		a.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if f, err := a.readFrame(); err == nil {
			t.Fatalf("move %v: the old connection got an answer (%d bytes)", move, len(f))
		} else if !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("move %v: the old connection was not closed: %v", move, err)
		}
		// The stale write was not applied anywhere; the new connection
		// keeps working.
		b.call(proto.OpSync, func(e *jute.Encoder) { e.String("/") })
		if h, _ := b.call(proto.OpExists, pathWatch(fmt.Sprintf("/stale-%d", i), false)); h.Err != proto.CodeNoNode {
			t.Fatalf("move %v: the stale write was applied (exists: %d)", move, h.Err)
		}
		tc.converged()
	}
}
