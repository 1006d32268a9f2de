package server

import (
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// Holding a cut-off site's global sessions (remote_session_hold).
//
// ZooKeeper's leader expires every session it stops hearing of: when the
// WAN link to a remote site breaks, the pings of the site's observers stop
// and, one session timeout later, the leader closes their clients'
// sessions and deletes their ephemerals, although those clients may be
// alive and merely on the wrong side of a link they cannot fix. zoogate's
// rule instead: while a learner of another site is cut off, the server it
// followed keeps renewing the sessions that learner last carried, for at
// most RemoteSessionHold; so once the link is back each of them has (about)
// its whole timeout for its client to reconnect, and the leader expires it
// only if the client does not.
//
// The server that does this is the one the remote learner streams from:
// the leader (relay_upstream = "leader", or an observer following the
// primary across the WAN), whose renewals reset the expiry deadline
// directly; or a follower serving relays (relay_upstream = "follower"),
// whose renewals travel to the leader in its pings like its own clients'.
// The table of who carried which session lives on the driver goroutine
// and is learned from pings, so it starts empty on a new leader: a site
// cut off across a leader change keeps ZooKeeper's behaviour for that cut.

// carried records that a learner's ping renewed a session: one of another
// site is remembered as the session's carrier; any other learner's ping
// (the client moved) forgets it.
func (d *driver) carried(from uint64, sid int64) {
	if d.s.cfg.Cluster.RemoteSessionHold <= 0 {
		return
	}
	if !d.remoteLearner(from) {
		if d.via != nil {
			delete(d.via, sid)
		}
		return
	}
	if d.via == nil {
		d.via = make(map[int64]uint64)
	}
	d.via[sid] = from
}

// remoteLearner reports whether server id belongs to another site than
// this server.
func (d *driver) remoteLearner(id uint64) bool {
	cc := d.s.cfg.Cluster
	site, ok := cc.SiteOf[id]
	return ok && site != cc.Site
}

// holdRemoteSessions runs once per tick: it renews the sessions carried by
// remote learners that are not streaming from this server now (ls is the
// node's learner table), until their cut has lasted RemoteSessionHold.
func (d *driver) holdRemoteSessions(now time.Time, ls []zab.LearnerStatus) {
	hold := d.s.cfg.Cluster.RemoteSessionHold
	if hold <= 0 || len(d.via) == 0 {
		return
	}
	live := make(map[uint64]bool, len(ls))
	for _, l := range ls {
		live[l.ID] = l.State == "up-to-date"
	}
	if d.cutSince == nil {
		d.cutSince = make(map[uint64]time.Time)
	}
	for id := range d.cutSince {
		if live[id] {
			delete(d.cutSince, id) // back: its own pings renew its sessions
		}
	}
	leading := d.exec.Role() == zab.Leading
	held := 0
	for sid, id := range d.via {
		if live[id] {
			continue
		}
		since, ok := d.cutSince[id]
		if !ok {
			since = now
			d.cutSince[id] = now
			d.log.Info("remote learner cut off; holding the sessions it carried", "learner", id, "site", d.s.cfg.Cluster.SiteOf[id], "for", hold)
		}
		if now.Sub(since) >= hold {
			continue // held long enough: they expire as in ZooKeeper
		}
		if leading {
			if !d.s.sessions.touch(sid, now) {
				delete(d.via, sid) // closed or expiring already
				continue
			}
		} else {
			d.touch(sid)
		}
		held++
	}
	d.heldSessions.Store(int64(held))
}

// forgetCarrier drops a closed session from the table.
func (d *driver) forgetCarrier(sid int64) {
	if d.via != nil {
		delete(d.via, sid)
	}
}
