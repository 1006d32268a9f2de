package server

import "sync"

// outQueue holds the frames waiting to be written to one client. Pushing
// never blocks (the apply loop pushes watch events into it while holding the
// tree lock); a client that stops reading makes the queue grow past its
// limit, and the connection is closed instead.
type outQueue struct {
	mu      sync.Mutex
	frames  [][]byte
	bytes   int
	limit   int
	closed  bool
	drain   bool // close once everything queued has been written
	signal  chan struct{}
	overrun bool
}

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, signal: make(chan struct{}, 1)}
}

func (q *outQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// push queues a frame; false if the queue is closed or over its limit.
func (q *outQueue) push(frame []byte) bool {
	q.mu.Lock()
	if q.closed || q.drain {
		q.mu.Unlock()
		return false
	}
	if q.bytes+len(frame) > q.limit {
		q.overrun = true
		q.closed = true
		q.mu.Unlock()
		q.wake()
		return false
	}
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	q.mu.Unlock()
	q.wake()
	return true
}

// closeAfterDrain makes the writer close the connection once the frames
// already queued are written (a reply followed by a close).
func (q *outQueue) closeAfterDrain() {
	q.mu.Lock()
	q.drain = true
	q.mu.Unlock()
	q.wake()
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// take returns everything queued; done reports that the writer should stop
// after writing them (drain) or at once (closed).
func (q *outQueue) take() (frames [][]byte, stop bool, flushFirst bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, true, false
	}
	frames = q.frames
	q.frames = nil
	q.bytes = 0
	return frames, q.drain, true
}
