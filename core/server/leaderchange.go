package server

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/zoogate/zoogate/core/proto"
)

// Leader changes that clients do not notice (ClusterConfig.LeaderWait,
// topology's leader_wait; docs/cluster.md, "Leader changes").
//
// A server that stops serving (a voter whose leader died or that lost its
// quorum, an observer or relay whose upstream went away) keeps its
// clients for LeaderWait instead of dropping them at once as ZooKeeper
// does:
//
//   - connections stay open; reads and pings are answered from the
//     committed state the server has applied (a committed prefix, so
//     nothing a client saw goes back), watches stay registered;
//   - new handshakes wait for the server to serve again (read-only
//     clients of a server in read-only mode are taken at once);
//   - writes and sync() calls that arrive wait in order, each at most its
//     session's timeout, and go to the new leader once this server serves;
//   - a write already sent to the old leader (forwarded, or proposed by
//     this server as leader) in epoch E has its fate decided by the epoch
//     E' this server serves in next:
//   - E' > E: the new epoch's leader committed every transaction of
//     earlier epochs that will ever commit, and this server applied them
//     all before it serves in E' (a learner gets their COMMITs or INFORMs
//     before UPTODATE; a leader commits its initial history as it
//     establishes E'). A write found there was answered with its result
//     as it was applied (Apply). Any other can never commit, so it is
//     submitted again, in its original order, to the new leader: applied
//     exactly once.
//   - E' = E: the same leader (this server only lost its stream, or an
//     observer moved to another relay of the same epoch). The write may
//     still be in that leader's queue and commit later, so it is not sent
//     again: it keeps waiting for its commit until its session timeout,
//     then its connection is closed (ConnectionLoss: outcome unknown).
//   - sync() calls are barriers with no effect: they are always sent again.
//
// After LeaderWait without serving, the server gives up as ZooKeeper
// does: waiting writes fail (their connections close) and every client
// that is not in read-only mode is disconnected. LeaderWait 0 is
// ZooKeeper's behaviour: all of that at once.

// servingGate lets handshakes wait for the server to serve.
type servingGate struct {
	mu sync.Mutex
	ch chan struct{} // closed while the server serves
}

func newServingGate(serving bool) *servingGate {
	g := &servingGate{ch: make(chan struct{})}
	if serving {
		close(g.ch)
	}
	return g
}

// set records the serving state.
func (g *servingGate) set(serving bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
		if !serving {
			g.ch = make(chan struct{})
		}
	default:
		if serving {
			close(g.ch)
		}
	}
}

// wait returns a channel closed once the server serves.
func (g *servingGate) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}

// leaderWait is how long clients are kept while the server does not serve.
func (s *Server) leaderWait() time.Duration {
	if s.cfg.Cluster == nil {
		return 0
	}
	return s.cfg.Cluster.LeaderWait
}

// holdingClients reports whether the server, not serving now, still keeps
// its clients (it stopped serving less than LeaderWait ago), and until when.
func (s *Server) holdingClients(now time.Time) (bool, time.Time) {
	wait := s.leaderWait()
	if wait <= 0 || s.driver == nil {
		return false, time.Time{}
	}
	s.ro.mu.Lock()
	since := s.ro.since
	s.ro.mu.Unlock()
	if since.IsZero() {
		return false, time.Time{}
	}
	until := since.Add(wait)
	return now.Before(until), until
}

// awaitServing makes a handshake that arrived while the server does not
// serve wait until it does, the hold ends, or the connection closes; it
// reports whether the server serves.
func (c *conn) awaitServing() bool {
	s := c.s
	ok, until := s.holdingClients(time.Now())
	if !ok {
		return s.serving()
	}
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-s.servingGate.wait():
	case <-t.C:
	case <-c.closed:
	case <-s.closing:
	}
	return s.serving()
}

// writeLimit is how long a client write may wait for a leader: its
// session's timeout (LeaderWait for the server's own requests).
func (d *driver) writeLimit(w *pendingWrite) time.Duration {
	switch {
	case w.conn != nil && w.conn.timeout > 0:
		return w.conn.timeout
	case w.req != nil && w.req.Timeout > 0: // createSession
		return time.Duration(w.req.Timeout) * time.Millisecond
	}
	return d.s.leaderWait()
}

// hold keeps a write or sync() that arrived while the server does not
// serve; false if the server no longer keeps its clients (the caller
// fails it).
func (d *driver) hold(w *pendingWrite, now time.Time) bool {
	if ok, _ := d.s.holdingClients(now); !ok || d.gaveUp {
		return false
	}
	if w.req != nil && w.conn == nil && w.req.Type != opClaimSession && !isCreateSession(w) {
		return false // the server's own writes (expiry, reaper) are decided again later
	}
	d.waiting = append(d.waiting, w)
	d.waitingCount.Store(int64(len(d.waiting)))
	return true
}

// lostLeader runs when the server stops serving.
func (d *driver) lostLeader() {
	d.gaveUp = false
	if d.s.leaderWait() <= 0 {
		d.giveUp("lost the leader (leader_wait is 0)")
	}
}

// resumed runs when the server serves again, in epoch: it decides the
// fate of the writes sent in earlier epochs and sends what waited.
func (d *driver) resumed(epoch int64, now time.Time) {
	d.gaveUp = false
	var again []*pendingWrite
	for k, w := range d.pending {
		if w.epoch < epoch {
			delete(d.pending, k) // never committed (see above): send again
			again = append(again, w)
		} else {
			// The same epoch: it may still commit, or may have been lost
			// with the stream. Wait for it a little, not a whole session.
			w.held = true
			if limit := now.Add(d.s.leaderWait()); w.giveUp.IsZero() || limit.Before(w.giveUp) {
				w.giveUp = limit
			}
		}
	}
	for k, w := range d.syncs {
		delete(d.syncs, k)
		again = append(again, w)
	}
	again = append(again, d.waiting...)
	d.waiting = nil
	d.waitingCount.Store(0)
	// A write whose client has gone (its connection closed while it
	// waited) never committed and nobody waits for it: it is dropped, not
	// applied behind the back of a client that may retry it elsewhere.
	kept := again[:0]
	for _, w := range again {
		if w.conn != nil && w.conn.isClosed() {
			d.fail(w)
			continue
		}
		kept = append(kept, w)
	}
	again = kept
	if len(again) == 0 {
		return
	}
	slices.SortFunc(again, func(a, b *pendingWrite) int { return cmp.Compare(a.seq, b.seq) })
	d.log.Info("serving again: sending the writes that waited", "epoch", epoch, "requests", len(again))
	d.resend = append(d.resend, again...)
}

// process runs the executor, then sends what resumed() queued: proposing
// and forwarding are only allowed between Readies, not while one runs.
func (d *driver) process() {
	d.exec.Process()
	for len(d.resend) > 0 {
		again := d.resend
		d.resend = nil
		for _, w := range again {
			w.epoch = 0
			d.handleWrite(w)
		}
		d.exec.Process()
	}
}

// checkHeld runs every tick: a write whose session timeout passed without
// an answer fails (its connection closes), and after LeaderWait without
// serving the server gives up on its clients.
func (d *driver) checkHeld(now time.Time) {
	if !d.exec.Serving() && !d.gaveUp {
		if ok, _ := d.s.holdingClients(now); !ok && d.s.leaderWait() > 0 {
			d.giveUp("no leader within leader_wait")
			return
		}
	}
	if len(d.waiting) > 0 {
		kept := d.waiting[:0]
		for _, w := range d.waiting {
			if !w.giveUp.IsZero() && now.After(w.giveUp) {
				d.fail(w)
			} else {
				kept = append(kept, w)
			}
		}
		clear(d.waiting[len(kept):])
		d.waiting = kept
		d.waitingCount.Store(int64(len(kept)))
	}
	// Sent ones are timed only while their fate is open: the server does
	// not serve, or they were sent in the epoch it serves again in.
	serving := d.exec.Serving()
	for k, w := range d.pending {
		if (!serving || w.held) && !w.giveUp.IsZero() && now.After(w.giveUp) {
			delete(d.pending, k)
			d.fail(w)
		}
	}
	for k, w := range d.syncs {
		if (!serving || w.held) && !w.giveUp.IsZero() && now.After(w.giveUp) {
			delete(d.syncs, k)
			d.fail(w)
		}
	}
}

// giveUp drops the clients as ZooKeeper does when its server stops
// serving: what waits fails, and every connection that is not read-only
// closes (read-only clients stay: read-only mode).
func (d *driver) giveUp(why string) {
	d.gaveUp = true
	d.failAll(why)
	if n := d.s.closePlainConns(); n > 0 {
		d.log.Info("closed client connections", "why", why, "connections", n)
	}
}

// closePlainConns disconnects every client that is not in read-only mode.
func (s *Server) closePlainConns() int {
	s.connMu.Lock()
	var plain []*conn
	for _, c := range s.conns {
		if !c.readOnly.Load() {
			plain = append(plain, c)
		}
	}
	s.connMu.Unlock()
	for _, c := range plain {
		c.close()
	}
	return len(plain)
}

// stamp gives a write its place in the driver's order and its deadline the
// first time the driver sees it.
func (d *driver) stamp(w *pendingWrite, now time.Time) {
	if w.seq != 0 {
		return
	}
	d.seq++
	w.seq = d.seq
	if w.conn != nil || isCreateSession(w) || w.req == nil {
		w.giveUp = now.Add(d.writeLimit(w))
	}
}

// writesWaiting returns how many writes and sync() calls wait for a leader.
func (s *Server) writesWaiting() int {
	return int(s.driver.waitingCount.Load())
}

// isCreateSession reports whether w creates a session (its handshake
// waits for it).
func isCreateSession(w *pendingWrite) bool {
	return w.req != nil && w.req.Type == proto.OpCreateSession
}
