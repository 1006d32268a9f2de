package server

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// snapshotter takes fuzzy snapshots in the background, like ZooKeeper's
// SyncRequestProcessor: after snapCount/2 + rand(snapCount/2) applied
// transactions (the jitter keeps the servers of an ensemble from all
// snapshotting at once), and on demand. Writes never wait for it: it holds
// the tree's shared lock for one batch of nodes at a time.
type snapshotter struct {
	s         *Server
	count     atomic.Int64
	threshold atomic.Int64
	kick      chan chan error
	mu        sync.Mutex // one snapshot at a time
	last      atomic.Int64
}

func newSnapshotter(s *Server) *snapshotter {
	sn := &snapshotter{s: s, kick: make(chan chan error, 1)}
	sn.rearm()
	return sn
}

func (sn *snapshotter) rearm() {
	half := int64(sn.s.cfg.SnapCount / 2)
	sn.threshold.Store(half + rand.Int64N(half+1))
	sn.count.Store(0)
}

// applied counts one applied transaction and wakes the loop when due.
func (sn *snapshotter) applied() {
	if sn == nil || sn.s.disk == nil {
		return
	}
	if sn.count.Add(1) == sn.threshold.Load() {
		select {
		case sn.kick <- nil:
		default:
		}
	}
}

func (sn *snapshotter) loop() {
	defer sn.s.wg.Done()
	var purge <-chan time.Time
	if sn.s.cfg.PurgeInterval > 0 {
		t := time.NewTicker(sn.s.cfg.PurgeInterval)
		defer t.Stop()
		purge = t.C
	}
	for {
		select {
		case <-sn.s.closing:
			return
		case reply := <-sn.kick:
			err := sn.take()
			if reply != nil {
				reply <- err
			}
		case <-purge:
			sn.purge()
		}
	}
}

// request asks for a snapshot now and waits for it.
func (sn *snapshotter) request() error {
	reply := make(chan error, 1)
	select {
	case sn.kick <- reply:
	case <-sn.s.closing:
		return ErrServerClosed
	}
	select {
	case err := <-reply:
		return err
	case <-sn.s.closing:
		return ErrServerClosed
	}
}

// take writes one fuzzy snapshot: it starts at the tree's current zxid and
// copies nodes in batches while transactions keep being applied; replaying
// the log from that zxid over it is idempotent.
func (sn *snapshotter) take() error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	s := sn.s
	start := time.Now()
	sn.rearm()
	s.mu.RLock()
	zxid := s.tree.LastZxid()
	if zxid == sn.last.Load() {
		s.mu.RUnlock()
		return nil // nothing new since the last one
	}
	w, err := s.disk.snaps.Create(zxid)
	if err != nil {
		s.mu.RUnlock()
		s.log.Error("snapshot failed", "error", err)
		return err
	}
	sw, err := s.tree.NewSnapshotWriter(w)
	s.mu.RUnlock()
	for done := false; err == nil && !done; {
		s.mu.RLock()
		done, err = sw.WriteBatch(s.tree, 2000)
		s.mu.RUnlock()
	}
	if err == nil {
		err = w.Commit()
	}
	if err != nil {
		w.Abort()
		s.log.Error("snapshot failed", "zxid", hexZxid(zxid), "error", err)
		return err
	}
	sn.last.Store(zxid)
	if d := s.driver; d != nil {
		select {
		case d.compact <- zxid:
		default:
		}
	}
	s.log.Info("snapshot taken", "zxid", hexZxid(zxid), "took", time.Since(start))
	return nil
}

// purge keeps the newest SnapRetainCount snapshots and the log they need
// (ZooKeeper's autopurge).
func (sn *snapshotter) purge() {
	s := sn.s
	oldest, err := s.disk.snaps.Retain(s.cfg.SnapRetainCount)
	if err != nil {
		s.log.Warn("purging old snapshots failed", "error", err)
		return
	}
	if oldest <= 0 {
		return
	}
	n, err := s.disk.log.PurgeBefore(oldest)
	if err != nil {
		s.log.Warn("purging old log segments failed", "error", err)
		return
	}
	if n > 0 {
		s.log.Info("purged old log segments", "segments", n, "before_zxid", hexZxid(oldest))
	}
}

// Snapshot takes a snapshot now (an operator's on-demand request).
func (s *Server) Snapshot() error {
	if s.disk == nil {
		return nil
	}
	return s.snapshotter.request()
}

// Purge removes old snapshots and log segments now.
func (s *Server) Purge() {
	if s.disk != nil {
		s.snapshotter.purge()
	}
}
