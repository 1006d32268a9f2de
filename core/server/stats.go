package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoogate/zoogate/core/proto"
)

// connStats are the per-connection counters `cons` prints.
type connStats struct {
	received    atomic.Int64
	sent        atomic.Int64
	established time.Time
	mu          sync.Mutex
	lastOp      proto.Op
	lastCxid    int32
	lastZxid    int64
	lastResp    time.Time
	lastLat     time.Duration
	minLat      time.Duration
	maxLat      time.Duration
	sumLat      time.Duration
	count       int64
}

func (s *connStats) record(it *item, lat time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastOp = it.hdr.Type
	s.lastCxid = it.hdr.Xid
	if it.w != nil && it.w.zxid > 0 {
		s.lastZxid = it.w.zxid
	}
	s.lastResp = time.Now()
	s.lastLat = lat
	if s.count == 0 || lat < s.minLat {
		s.minLat = lat
	}
	if lat > s.maxLat {
		s.maxLat = lat
	}
	s.sumLat += lat
	s.count++
}

func (s *connStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received.Store(0)
	s.sent.Store(0)
	s.lastLat, s.minLat, s.maxLat, s.sumLat, s.count = 0, 0, 0, 0, 0
}

// serverStats are the server-wide counters srvr, stat and mntr print.
type serverStats struct {
	received   atomic.Int64
	sent       atomic.Int64
	authFailed atomic.Int64
	mu         sync.Mutex
	minLat     time.Duration
	maxLat     time.Duration
	sumLat     time.Duration
	count      int64
}

func (s *serverStats) latency(d time.Duration) {
	s.mu.Lock()
	if s.count == 0 || d < s.minLat {
		s.minLat = d
	}
	if d > s.maxLat {
		s.maxLat = d
	}
	s.sumLat += d
	s.count++
	s.mu.Unlock()
}

// latencies returns min/avg/max in milliseconds as ZooKeeper prints them.
func (s *serverStats) latencies() (min int64, avg float64, max int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count == 0 {
		return 0, 0, 0
	}
	return s.minLat.Milliseconds(), float64(s.sumLat.Microseconds()) / 1000 / float64(s.count), s.maxLat.Milliseconds()
}

func (s *serverStats) reset() {
	s.received.Store(0)
	s.sent.Store(0)
	s.mu.Lock()
	s.minLat, s.maxLat, s.sumLat, s.count = 0, 0, 0, 0
	s.mu.Unlock()
}

func hexZxid(z int64) string { return fmt.Sprintf("0x%x", z) }
