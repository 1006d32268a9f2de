package bridge

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zoogate/zoogate/internal/rawzk"
)

// TestLocalSessionsThroughACut: with local sessions, a session made on the
// remote observer never reaches the leader, so a WAN cut cannot expire
// it: its client, refused while the site is cut off, resumes the same
// session after the heal. A read-only client creates a session on the
// observer during the cut and reads from it. After the heal, the first
// ephemeral upgrades the local session and the leader then holds it.
func TestLocalSessionsThroughACut(t *testing.T) {
	d := newDeployment(t, "delay=40ms")
	d.readOnly, d.localSessions = true, true
	lead := d.upAll()
	lc := d.connect(lead)
	create(t, lc, "/before", "1", 5*time.Second)
	oc, states := d.connectWatched(obsID)
	sid := oc.SessionID()
	if _, err := oc.Create("/from-local", []byte("p"), 0, zkACL); err != nil {
		t.Fatalf("a persistent write from a local session: %v", err)
	}
	leaderMntr := func(key string) string {
		v, _ := mntrValue(mntr(t, d.servers[lead]), key)
		return v
	}
	if v, _ := mntrValue(mntr(t, d.servers[obsID]), "zk_local_sessions"); v != "1" {
		t.Fatalf("zk_local_sessions on the observer: %q, want 1", v)
	}

	d.step("cutting the relay's WAN")
	d.emus[relayID].Cut()
	obsAddr := d.servers[obsID].Addr().String()
	waitFor(t, "the observer in read-only mode", 15*time.Second, func() bool {
		return fourLetter(t, obsAddr, "isro") == "ro"
	})
	ro, resp, err := rawzk.Dial(obsAddr, true)
	if err != nil || !resp.ReadOnly || resp.SessionID == 0 {
		t.Fatalf("a session made on the cut-off observer: %+v %v", resp, err)
	}
	defer ro.Close()
	if data, code, err := ro.Get("/from-local"); err != nil || code != 0 || data != "p" {
		t.Fatalf("read on the cut-off observer: %q %d %v", data, code, err)
	}
	d.step("healing")
	d.emus[relayID].Heal()
	d.serving(obsID, 15*time.Second)
	waitFor(t, "the observer's client back with its session", 15*time.Second, func() bool {
		return oc.State() == zk.StateHasSession
	})
	if states.saw(zk.StateExpired) || oc.SessionID() != sid {
		t.Fatalf("the local session did not survive the cut (expired %v, id %x → %x)", states.saw(zk.StateExpired), sid, oc.SessionID())
	}
	// Upgrade: the first ephemeral makes it global; the leader holds it.
	before := leaderMntr("zk_global_sessions")
	if _, err := oc.Create("/eph", []byte("e"), zk.FlagEphemeral, zkACL); err != nil {
		t.Fatalf("an ephemeral create after the heal: %v", err)
	}
	if _, st, err := lc.Get("/eph"); err != nil || st.EphemeralOwner != sid {
		syncRead(t, lc, "/eph", "e", 5*time.Second)
		if _, st, err = lc.Get("/eph"); err != nil || st.EphemeralOwner != sid {
			t.Fatalf("the ephemeral on the leader: owner %x %v, want %x", st.EphemeralOwner, err, sid)
		}
	}
	if after := leaderMntr("zk_global_sessions"); after == before {
		t.Errorf("the leader's zk_global_sessions stayed %s after the upgrade", after)
	}
}
