package server

import (
	"fmt"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/storage"
)

// Committer makes prepared transactions durable and ordered. It must call
// apply exactly once per Commit, in the order of the Commit calls, and only
// once the transaction may be acknowledged (durable, or committed by a
// quorum). A Commit with w.txn == nil is a barrier (sync): apply it after
// everything committed before it.
type Committer interface {
	Commit(w *pendingWrite)
}

// memCommitter applies at once: state lives in memory only.
type memCommitter struct{ apply func(*pendingWrite) }

func (m *memCommitter) Commit(w *pendingWrite) { m.apply(w) }

// logCommitter is the standalone server's committer: transactions go to the
// transaction log, whose writer batches whatever is queued into one write
// and one fsync (group commit), and are applied, in order, only once their
// batch is durable.
//
// Durability contract: a write's reply is built by apply, which runs only
// after the log reported the write's record durable (fsynced). If the log
// fails, the write's outcome is unknown (the record may or may not be on
// disk), so its client is disconnected instead of answered, and every later
// write is refused: nothing half-written is ever acknowledged.
type logCommitter struct {
	s     *Server
	log   *storage.Log
	queue chan *pendingWrite
	done  chan struct{}
}

func newLogCommitter(s *Server, log *storage.Log) *logCommitter {
	c := &logCommitter{s: s, log: log, queue: make(chan *pendingWrite, 4*s.cfg.GlobalOutstandingLimit), done: make(chan struct{})}
	go c.applier()
	return c
}

func (c *logCommitter) Commit(w *pendingWrite) {
	w.durable = make(chan struct{})
	if w.txn == nil {
		close(w.durable)
	} else {
		recs := []storage.Record{{Zxid: w.zxid, Payload: w.raw}}
		if err := c.log.Append(recs, func(err error) { w.logErr = err; close(w.durable) }); err != nil {
			w.logErr = err
			close(w.durable)
		}
	}
	c.queue <- w
}

// applier applies durable writes in commit order.
func (c *logCommitter) applier() {
	defer close(c.done)
	for w := range c.queue {
		<-w.durable
		if w.logErr != nil {
			c.s.stopWrites(w.logErr)
			w.unknown = true
			close(w.done)
			continue
		}
		c.s.apply(w)
	}
}

// stop ends the applier once the queue is drained.
func (c *logCommitter) stop() {
	close(c.queue)
	<-c.done
}

// stopWrites records the first log failure; from then on writes are refused.
func (s *Server) stopWrites(err error) {
	if s.writeErr.CompareAndSwap(nil, &err) {
		s.log.Error("the transaction log failed: this server no longer accepts writes and keeps serving reads; fix the disk and restart it", "error", err)
	}
}

// writesStopped returns the log failure, if any.
func (s *Server) writesStopped() error {
	if p := s.writeErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrWritesStopped, *p)
	}
	return nil
}

// refuse answers a write the server cannot take. NotReadOnly is what a
// ZooKeeper server in read-only mode answers writes with.
func (s *Server) refuse(w *pendingWrite, err error) {
	w.err = err
	if w.conn != nil {
		w.reply = errorFrame(w.xid, s.LastZxid(), proto.CodeNotReadOnly)
	}
	close(w.done)
}
