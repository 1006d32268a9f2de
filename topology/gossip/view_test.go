package gossip

import "testing"

func relay(id uint64, site string, h Health, st State, lag int64) Member {
	return Member{Meta: Meta{ID: id, Site: site, Role: "relay", State: st, LagTxns: lag}, Health: h}
}

// TestRelayFor walks the routing rule of a site's observers.
func TestRelayFor(t *testing.T) {
	v := &View{Members: []Member{
		{Meta: Meta{ID: 1, Site: "p", Role: "voter", State: StateServing, Leader: 1, Epoch: 4}, Health: Alive},
		relay(4, "eu", Alive, StateServing, 0),
		relay(5, "eu", Alive, StateServing, 0),
		relay(6, "us", Alive, StateServing, 0),
	}}
	for _, tc := range []struct {
		name    string
		mod     func(v *View)
		current uint64
		want    uint64
	}{
		{"stays on its relay", nil, 5, 5},
		{"lowest id among equals", nil, 0, 4},
		{"never another site's relay", func(v *View) { v.Members[1].Health, v.Members[2].Health = Dead, Dead }, 4, 0},
		{"its relay died", func(v *View) { v.Members[1].Health = Dead }, 4, 5},
		{"its relay fell behind the bound", func(v *View) { v.Members[1].LagTxns = 5000 }, 4, 5},
		{"least lagging", func(v *View) { v.Members[1].LagTxns, v.Members[2].LagTxns = 20, 3 }, 0, 5},
		{"site cut off: stays on its read-only relay", func(v *View) {
			v.Members[1].State, v.Members[2].State = StateReadOnly, StateReadOnly
		}, 5, 5},
		{"site cut off: an alive relay rather than the WAN", func(v *View) {
			v.Members[1].State, v.Members[2].State = StateReadOnly, StateSyncing
		}, 0, 4},
		{"no relay alive: the primary", func(v *View) { v.Members[1].Health, v.Members[2].Health = Dead, Left }, 5, 0},
	} {
		w := &View{Members: append([]Member(nil), v.Members...)}
		if tc.mod != nil {
			tc.mod(w)
		}
		if got := w.RelayFor("eu", tc.current, 1000); got != tc.want {
			t.Errorf("%s: RelayFor = %d, want %d", tc.name, got, tc.want)
		}
	}
	if l, e := v.Leader(); l != 1 || e != 4 {
		t.Errorf("Leader() = %d/%d, want 1/4", l, e)
	}
	v.Members[0].Health = Dead
	if l, _ := v.Leader(); l != 0 {
		t.Errorf("a dead leader is still the leader: %d", l)
	}
}
