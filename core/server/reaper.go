package server

import (
	"time"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
)

// reapOnce deletes empty containers and expired TTL nodes, like
// ZooKeeper's ContainerManager: the leader runs it once per
// ContainerCheckInterval, at most ContainerMaxPerMinute deletions per
// minute. Each deletion is an ordinary deleteContainer write, so it is
// logged and replicated; one that lost a race (a child appeared) fails
// harmlessly with NotEmpty.
func (s *Server) reapOnce(now time.Time) int {
	s.mu.RLock()
	paths := s.tree.ReapCandidates(now.UnixMilli(), s.cfg.ContainerMaxNeverUsed.Milliseconds())
	s.mu.RUnlock()
	budget := int(float64(s.cfg.ContainerMaxPerMinute) * s.cfg.ContainerCheckInterval.Minutes())
	if budget < 1 {
		budget = 1
	}
	if len(paths) > budget {
		paths = paths[:budget]
	}
	for _, p := range paths {
		w := s.internalWrite(&prep.Request{
			Type: proto.OpDeleteContainer, Path: &proto.PathVersion{Path: p, Version: -1},
			Auth: []proto.ID{acl.SuperID},
		})
		if !s.submit(w, nil) {
			return 0
		}
	}
	if len(paths) > 0 {
		s.log.Debug("reaped containers and TTL nodes", "count", len(paths))
	}
	return len(paths)
}
