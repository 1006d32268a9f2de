package wan

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// link is one stream with a peer, as the driver sees it: send queues and,
// once it has come up, the QUIC connection that carries it with its two
// lane streams. Fields are guarded by Transport.mu.
type link struct {
	t    *Transport
	p    *peer
	conn *quic.Conn // nil until a connection is attached
	ord  *quic.Stream
	req  *quic.Stream

	ordQ   []outItem // LaneOrdered frames and blobs, not yet written
	reqQ   []outItem // LaneRequests frames, not yet written
	qbytes int       // bytes queued and not yet written (including batches being written)
	blobs  []outItem // blobs whose header was written, for the blob sender
	// ordDone: the ordered writer has finished (closing), no more blobs.
	ordDone bool

	closing bool // graceful close asked by this server: no Broken for it
	dead    bool
	eofs    int // lane streams the peer ended cleanly (FIN)
	// finishing counts the writers (ordered, requests, blobs) that have
	// not yet finished a graceful close.
	finishing int
	running   int           // goroutines still running
	done      chan struct{} // closed once dead with no goroutine left
	timer     *time.Timer   // ConnectWait while no connection; CloseLinger once written
	wcond     *sync.Cond    // writers wait on it
	rcond     *sync.Cond    // the blob receiver and the ordered reader wait on it

	// Blobs received (spooled), waiting for their header frame, by id;
	// the receiver spools at most one ahead of the ordered reader.
	rblobs   map[uint64]*SpoolBlob
	lastRecv uint64 // id of the last blob stream received
	lastHdr  uint64 // id of the last blob header read

	// Liveness (watch): when the ordered lane last wrote, when anything
	// last arrived (unix ns, atomic: the blob receiver sets it without
	// mu), and how many lane readers wait for room in the inbox.
	wrote      time.Time
	heard      atomic.Int64
	inboxWaits int
	// peerCompressed: the peer deflates what it sends on the lane (from
	// its hello), indexed by Lane.
	peerCompressed [3]bool
}

// outItem is a frame to send: data on lane, with blob for a blob header.
type outItem struct {
	lane Lane
	data []byte
	blob Blob
	id   uint64 // blob id, given when its header is written
	beat bool   // a heartbeat frame (ordered lane)
}

// linkGoroutines is the number of goroutines an attached link runs:
// two writers, the blob sender, two readers, the blob receiver and watch.
const linkGoroutines = 7

// newLinkL starts a stream that waits for a connection.
func (t *Transport) newLinkL(p *peer) *link {
	l := &link{t: t, p: p, done: make(chan struct{}), wcond: sync.NewCond(&t.mu), rcond: sync.NewCond(&t.mu)}
	p.links = append(p.links, l)
	l.timer = time.AfterFunc(t.cfg.ConnectWait, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.closed && !l.dead && l.conn == nil {
			t.breakL(l, codeBroken, fmt.Sprintf("no connection within %v", t.cfg.ConnectWait), nil)
		}
	})
	return l
}

// attachL gives conn, whose handshake is done, to the oldest stream with p
// (or a new one) and starts its goroutines. compressed says, per lane,
// whether the peer deflates what it sends (its hello's flag).
func (t *Transport) attachL(p *peer, conn *quic.Conn, ord, req *quic.Stream, compressed [3]bool) {
	l := p.head()
	if l == nil || l.conn != nil {
		l = t.newLinkL(p)
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.conn, l.ord, l.req = conn, ord, req
	l.peerCompressed = compressed
	l.rblobs = map[uint64]*SpoolBlob{}
	l.wrote = time.Now()
	l.heard.Store(time.Now().UnixNano())
	l.running, l.finishing = linkGoroutines, 3
	p.conns++
	t.wg.Add(linkGoroutines)
	go l.writeLane(LaneOrdered)
	go l.writeLane(LaneRequests)
	go l.sendBlobs()
	go l.readLane(LaneOrdered)
	go l.readLane(LaneRequests)
	go l.receiveBlobs()
	go l.watch()
	t.log.Debug("stream up", "peer", p.id, "remote", conn.RemoteAddr().String(), "queued", len(l.ordQ)+len(l.reqQ))
}

// wakeL wakes every goroutine of l that waits on a condition.
func (l *link) wakeL() {
	l.wcond.Broadcast()
	l.rcond.Broadcast()
	l.t.in.space.Broadcast()
}

// killL marks l dead, closes its connection (with code and msg, sent to
// the peer), drops its queues and its spooled blobs.
func (t *Transport) killL(l *link, code quic.ApplicationErrorCode, msg string) {
	if l.dead {
		return
	}
	l.dead = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.ordQ, l.reqQ, l.blobs, l.qbytes = nil, nil, nil, 0
	for id, b := range l.rblobs {
		b.remove()
		delete(l.rblobs, id)
	}
	if conn := l.conn; conn != nil {
		cs := conn.ConnectionStats()
		l.p.sent += cs.BytesSent
		l.p.recv += cs.BytesReceived
		l.p.lost += cs.PacketsLost
		// CloseWithError waits for the connection's goroutine: not under mu.
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			conn.CloseWithError(code, msg)
		}()
	} else {
		close(l.done)
	}
	l.wakeL()
}

// breakL ends l. Unless this server closed it (closing), the driver is owed
// a Broken event, queued now so that it precedes every frame of a later
// stream with the peer. code and reason go to the peer in the
// CONNECTION_CLOSE.
func (t *Transport) breakL(l *link, code quic.ApplicationErrorCode, reason string, err error) {
	if l.dead || t.closed {
		return
	}
	msg := reason
	if err != nil {
		msg = fmt.Sprintf("%s: %v", reason, err)
	}
	t.killL(l, code, msg)
	l.p.links = slices.DeleteFunc(l.p.links, func(x *link) bool { return x == l })
	if l.closing {
		t.log.Debug("stream closed", "peer", l.p.id, "reason", reason, "error", err)
		return
	}
	l.p.lastErr = msg
	if err != nil {
		t.log.Warn("stream broken", "peer", l.p.id, "reason", reason, "error", err)
	} else {
		t.log.Info("stream broken", "peer", l.p.id, "reason", reason)
	}
	t.in.owe(l.p.id)
	t.in.pushBroken(l.p.id)
}

// finishL records the exit of one of l's goroutines.
func (l *link) finishL() {
	l.running--
	if l.running == 0 {
		close(l.done)
	}
}

// finishedWritingL records that one writer has sent everything of a
// closing stream and ended its QUIC stream; once all three have, the link
// waits at most CloseLinger for the peer to close the connection.
func (l *link) finishedWritingL() {
	l.finishing--
	if l.finishing > 0 || l.dead {
		return
	}
	t := l.t
	l.timer = time.AfterFunc(t.cfg.CloseLinger, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.breakL(l, codeClosed, fmt.Sprintf("the peer did not close within CloseLinger %v", t.cfg.CloseLinger), nil)
	})
}

// watch keeps a live link alive and finds a dead one: every Heartbeat it
// queues a heartbeat frame if the ordered lane wrote nothing for that
// long, and it breaks the stream (codeStalled) once nothing arrived for
// StallTimeout while no reader was held back by a full inbox.
func (l *link) watch() {
	t := l.t
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-l.conn.Context().Done():
		}
		t.mu.Lock()
		if l.dead || t.closed || l.conn.Context().Err() != nil {
			l.finishL()
			t.mu.Unlock()
			return
		}
		now := time.Now()
		if l.inboxWaits > 0 {
			l.heard.Store(now.UnixNano())
		}
		if silent := now.Sub(time.Unix(0, l.heard.Load())); silent >= t.cfg.StallTimeout && !l.closing {
			t.breakL(l, codeStalled, fmt.Sprintf("nothing received for %v (StallTimeout)", silent.Round(time.Millisecond)), nil)
			l.finishL()
			t.mu.Unlock()
			return
		}
		if !l.closing && len(l.ordQ) == 0 && now.Sub(l.wrote) >= t.cfg.Heartbeat {
			l.ordQ = append(l.ordQ, outItem{lane: LaneOrdered, beat: true})
			l.wcond.Broadcast()
		}
		t.mu.Unlock()
	}
}
