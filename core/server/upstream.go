package server

import (
	"time"
)

// upstreamWatch moves an observer to the next server of its list when its
// upstream has not served it for a while: a site's observers follow its
// first relay, the next one when that relay dies (ClusterConfig Fallbacks,
// in the topology file's order), and with FallbackToPrimary the leader
// itself (entry 0: the election) when none serves. It wraps around, so an
// observer following the primary tries its relays again if the primary
// stops serving it. It runs on the driver goroutine, after each tick.
type upstreamWatch struct {
	order []uint64 // the upstream, then its fallbacks
	at    int      // index of the upstream followed now
	after time.Duration
	since time.Time // when it stopped being served; zero while served
	// routed: gossip chooses the upstream (Server.SetUpstream); the
	// static order no longer applies.
	routed bool
}

func (u *upstreamWatch) check(d *driver, now time.Time) {
	if len(u.order) < 2 || u.routed {
		return
	}
	if d.exec.Serving() {
		u.since = time.Time{}
		return
	}
	if u.since.IsZero() {
		u.since = now
		return
	}
	if now.Sub(u.since) < u.after {
		return
	}
	from := u.order[u.at]
	u.at = (u.at + 1) % len(u.order)
	to := u.order[u.at]
	if err := d.node.SetUpstream(to); err != nil {
		d.log.Warn("cannot move to the next upstream", "from", from, "to", to, "error", err)
		return
	}
	u.since = now
	d.log.Warn("upstream has not served this observer; moving to the next", "from", from, "to", to, "after", u.after)
}
