package server

import (
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// What the server offers its gossip (cmd/zoogate runs memberlist pools
// from topology/gossip; core never sees them): a snapshot of its state to
// gossip, a way to be told which upstream to follow, and the `gsip`
// four-letter word that prints the live view it is handed
// (Config.GossipView).

// NodeStatus is the server's state as its node gossips it.
type NodeStatus struct {
	// Serving: it serves reads and writes; ReadOnly: it serves read-only
	// clients only; Syncing: its upstream is bringing it up to date.
	Serving, ReadOnly, Syncing bool
	// Leader is the voter it follows (itself on the leader), 0 if none;
	// Epoch the leader's epoch; Upstream the server it streams from.
	Leader, Epoch, Upstream uint64
	// Zxid is the last applied transaction; LagTxns and LagMs how far
	// behind its upstream's commits it is (learners).
	Zxid, LagTxns, LagMs int64
}

// NodeStatus returns the server's state now.
func (s *Server) NodeStatus() NodeStatus {
	ns := NodeStatus{Serving: s.serving(), Zxid: s.LastZxid()}
	if !ns.Serving {
		ns.ReadOnly = s.readOnly()
	}
	d := s.driver
	if d == nil {
		ns.Leader = s.cfg.ServerID
		return ns
	}
	st := d.exec.Status()
	if st == nil {
		return ns
	}
	ns.Leader, ns.Upstream = st.Leader, st.Upstream
	ns.Epoch = uint64(max(st.CurrentEpoch, 0))
	if st.Role == zab.Leading {
		ns.Leader = s.cfg.ServerID
	}
	// Past discovery: the upstream answered and is sending its DIFF,
	// TRUNC or snapshot (a learner still dialing a dead relay is in
	// discovery).
	ns.Syncing = !ns.Serving && st.Role != zab.Looking && (st.Phase == "sync" || st.Phase == "synced")
	if st.Role == zab.Observing || st.Role == zab.Following {
		ns.LagTxns = st.Lag
		if st.Lag > 0 {
			ns.LagMs = time.Now().UnixMilli() - d.caughtUp.Load()
		}
	}
	return ns
}

// SetUpstream makes an observer or relay follow server id (0: the leader
// the election finds), as its routing decides from the live view; from
// then on the static fallback order (ClusterConfig.Fallbacks) no longer
// moves it. Voters and standalone servers ignore it.
func (s *Server) SetUpstream(id uint64) {
	d := s.driver
	if d == nil || s.cfg.Cluster == nil || !s.cfg.Cluster.Observer {
		return
	}
	select {
	case d.route <- id:
	case <-s.closing:
	}
}

// routeTo runs on the driver goroutine.
func (d *driver) routeTo(id uint64) {
	d.upstreams.routed = true
	if err := d.node.SetUpstream(id); err != nil {
		d.log.Warn("cannot follow the upstream gossip chose", "upstream", id, "error", err)
		return
	}
	if st := d.exec.Status(); st == nil || st.Upstream != id {
		d.log.Info("following the upstream gossip chose", "upstream", id)
	}
}
