package gossip

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate is memberlist's view of the agent for one pool.
type delegate struct {
	a    *Agent
	pool int
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.AliveDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

// AckPayload adds nothing to ping acks.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete records that a member answered this node's probe:
// what a view's Heard (last_heard_ms) counts from for alive members.
func (d *delegate) NotifyPingComplete(n *memberlist.Node, rtt time.Duration, payload []byte) {
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	if e := d.a.pools[d.pool][n.Name]; e != nil && e.health == Alive {
		e.heard = time.Now()
		d.a.publishLocked()
	}
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	if len(d.a.encoded) > limit {
		return nil // cannot happen: Encode keeps it under MaxMetaSize
	}
	return slices.Clone(d.a.encoded)
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState hands JoinState to a node joining through this one; the
// periodic state exchanges carry nothing of the agent's.
func (d *delegate) LocalState(join bool) []byte {
	if !join || d.a.cfg.JoinState == nil {
		return nil
	}
	return d.a.cfg.JoinState()
}

// MergeRemoteState gives OnJoinState what a seed handed this node while
// it joined (see Config.OnJoinState for why the joining count).
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if !join || len(buf) == 0 || d.a.cfg.OnJoinState == nil || d.a.joining[d.pool].Load() == 0 {
		return
	}
	d.a.cfg.OnJoinState(buf)
}

// NotifyAlive refuses members whose metadata does not decode, whose name
// does not match the id they gossip, that Admit refuses, or (with TLS)
// whose certificate was seen to name another id.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	m, err := DecodeMeta(n.Meta)
	if err != nil {
		return err
	}
	want := strconv.FormatUint(m.ID, 10)
	if d.pool == 1 {
		want += "." + m.Site
	}
	if n.Name != want {
		return fmt.Errorf("gossip: member %q gossips id %d (site %q): refused", n.Name, m.ID, m.Site)
	}
	if d.a.cfg.TLS != nil {
		if err := d.a.refusedAlive(n.Name, n.Address(), m.Boot); err != nil {
			return err
		}
	}
	if d.a.cfg.Admit != nil && m.ID != d.a.cfg.ID {
		if err := d.a.cfg.Admit(m, n.Address()); err != nil {
			return err
		}
	}
	return nil
}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.update(n, Alive) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.update(n, Alive) }

// NotifyLeave: memberlist reports dead and left members alike; a member
// that said it was leaving has left.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	d.a.mu.Lock()
	health := Dead
	if e := d.a.pools[d.pool][n.Name]; e != nil && e.meta.State == StateLeaving {
		health = Left
	}
	d.a.mu.Unlock()
	d.update(n, health)
}

func (d *delegate) update(n *memberlist.Node, h Health) {
	m, err := DecodeMeta(n.Meta)
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	e := d.a.pools[d.pool][n.Name]
	if err != nil {
		if e == nil {
			return // never admitted (NotifyAlive refuses it)
		}
		m = e.meta
	}
	if e == nil {
		e = &entry{}
		d.a.pools[d.pool][n.Name] = e
	}
	e.meta, e.health, e.addr, e.heard = m, h, n.Address(), time.Now()
	if d.a.cfg.TLS != nil {
		d.a.identityLocked(d.pool, n.Name, e)
	}
	d.a.publishLocked()
}
