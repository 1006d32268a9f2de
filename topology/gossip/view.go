package gossip

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Health is memberlist's opinion of a member.
type Health string

// Healths (memberlist's node states as far as its events report them).
const (
	Alive Health = "alive"
	Dead  Health = "dead"
	Left  Health = "left"
)

// Member is one node as a View shows it, merged across the pools it is
// in.
type Member struct {
	Meta
	Health Health
	LAN    bool      // seen in this node's site pool
	WAN    bool      // seen in the WAN pool
	Gossip string    // the gossip address it was last heard on
	Heard  time.Time // when the pools last reported anything about it
}

// View is an immutable snapshot of the deployment as the pools report it.
// Members are ordered by id; Self is the node that built it.
type View struct {
	Self    uint64
	Site    string
	At      time.Time
	Members []Member
}

// Member returns the member with id.
func (v *View) Member(id uint64) (Member, bool) {
	if v == nil {
		return Member{}, false
	}
	i, ok := slices.BinarySearchFunc(v.Members, id, func(m Member, id uint64) int { return cmp.Compare(m.ID, id) })
	if !ok {
		return Member{}, false
	}
	return v.Members[i], true
}

// Leader returns the voter that leads according to the alive members: the
// leader named by the highest epoch among alive serving members, provided
// that voter itself is alive. 0 when there is none.
func (v *View) Leader() (id, epoch uint64) {
	if v == nil {
		return 0, 0
	}
	for _, m := range v.Members {
		if m.Health != Alive || m.State != StateServing || m.Leader == 0 {
			continue
		}
		if m.Epoch > epoch || (m.Epoch == epoch && id == 0) {
			id, epoch = m.Leader, m.Epoch
		}
	}
	if l, ok := v.Member(id); !ok || l.Health != Alive || l.Role != "voter" {
		return 0, 0
	}
	return id, epoch
}

// RelayFor picks the relay of site a site's observer should follow, given
// the one it follows now (current, 0 for none):
//
//  1. current, while it is an alive relay of the site serving within
//     maxLagTxns transactions of its upstream (< 0: no bound);
//  2. else the alive serving relay within the bound that lags least, the
//     lowest id breaking ties;
//  3. else (none serves: the site is cut off, or its relays are catching
//     up) current if it is alive, or the alive relay that lags least, so
//     that a cut site does not send its observers across the WAN;
//  4. else 0: no relay of the site is alive, follow the primary.
func (v *View) RelayFor(site string, current uint64, maxLagTxns int64) uint64 {
	if v == nil {
		return 0
	}
	var serving, alive *Member
	for i := range v.Members {
		m := &v.Members[i]
		if m.Role != "relay" || m.Site != site || m.Health != Alive {
			continue
		}
		good := m.State == StateServing && (maxLagTxns < 0 || m.LagTxns <= maxLagTxns)
		if good && m.ID == current {
			return current
		}
		if good && (serving == nil || m.LagTxns < serving.LagTxns) {
			serving = m
		}
		if alive == nil || m.ID == current || (alive.ID != current && m.LagTxns < alive.LagTxns) {
			alive = m
		}
	}
	switch {
	case serving != nil:
		return serving.ID
	case alive != nil:
		return alive.ID
	}
	return 0
}

// JSONMember is a member as `gsip` and `zoogate members --json` print it.
type JSONMember struct {
	ID       uint64 `json:"id"`
	Site     string `json:"site"`
	Role     string `json:"role"`
	State    string `json:"state"`   // memberlist's: alive, dead, left
	Serving  string `json:"serving"` // serving, read-only, syncing, down, leaving
	Client   string `json:"client"`
	Leader   uint64 `json:"leader"`
	Epoch    uint64 `json:"epoch"`
	Upstream uint64 `json:"upstream"`
	Zxid     string `json:"zxid"`
	LagTxns  int64  `json:"lag_txns"`
	LagMs    int64  `json:"lag_ms"`
	WAN      bool   `json:"wan"`
	Gossip   string `json:"gossip"`
	HeardMs  int64  `json:"last_heard_ms"`
}

// JSON renders the view as a JSON list of members; last_heard_ms counts
// from now, not from when the view was built.
func (v *View) JSON() []byte {
	now := time.Now()
	out := []JSONMember{}
	if v != nil {
		for _, m := range v.Members {
			if m.ID == v.Self {
				m.Heard = now // the node itself
			}
			out = append(out, JSONMember{
				ID: m.ID, Site: m.Site, Role: m.Role, State: string(m.Health), Serving: m.State.String(),
				Client: m.Client, Leader: m.Leader, Epoch: m.Epoch, Upstream: m.Upstream,
				Zxid: "0x" + strconv.FormatUint(uint64(m.Zxid), 16), LagTxns: m.LagTxns, LagMs: m.LagMs, WAN: m.WAN,
				Gossip: m.Gossip, HeardMs: now.Sub(m.Heard).Milliseconds(),
			})
		}
	}
	b, _ := json.Marshal(out) // plain structs: cannot fail
	return b
}

// Without returns a copy of the view in which the members ids are dead:
// a router's own evidence (its upstream stopped serving it) before the
// pools have concluded.
func (v *View) Without(ids ...uint64) *View {
	if v == nil {
		return nil
	}
	w := *v
	w.Members = slices.Clone(v.Members)
	for i := range w.Members {
		if slices.Contains(ids, w.Members[i].ID) {
			w.Members[i].Health = Dead
		}
	}
	return &w
}
