package bridge

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestCutSiteKeepsItsGlobalSessions: a client of the remote observer holds
// a global session with an ephemeral node; the relay's WAN is cut for
// longer than the session timeout. With remote_session_hold the leader
// keeps the session (the ephemeral stays visible in the primary the whole
// cut) and the client, reconnecting after the heal, finds its session and
// its node. Without it (ZooKeeper's behaviour) the leader expires the
// session during the cut.
func TestCutSiteKeepsItsGlobalSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold time.Duration
	}{{"held", time.Minute}, {"zookeeper", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(t, "delay=40ms")
			d.hold = tc.hold
			lead := d.upAll()
			lc := d.connect(lead)
			oc, events := d.connectWatched(obsID)
			sid := oc.SessionID()
			if _, err := oc.Create("/eph", []byte("x"), zk.FlagEphemeral, zkACL); err != nil {
				t.Fatalf("ephemeral create on the observer: %v", err)
			}
			syncRead(t, lc, "/eph", "x", 5*time.Second)
			timeout := 4 * time.Second // connect's session timeout

			d.step("cutting the relay's WAN")
			d.emus[relayID].Cut()
			cutAt := time.Now()
			leaderAddr := d.servers[lead].Addr().String()
			if tc.hold > 0 {
				// The ephemeral outlives the session timeout in the
				// primary: polled from the leader's client all along.
				waitFor(t, "the cut to last twice the session timeout", 4*timeout, func() bool {
					ok, _, err := lc.Exists("/eph")
					if err != nil || !ok {
						t.Fatalf("%.1fs into the cut the ephemeral is gone from the primary (exists %v, %v)", time.Since(cutAt).Seconds(), ok, err)
					}
					return time.Since(cutAt) > 2*timeout
				})
				if v, _ := mntrValue(mntr(t, d.servers[lead]), "zk_held_remote_sessions"); v == "" || v == "0" {
					t.Errorf("the leader's mntr shows zk_held_remote_sessions %q during the cut", v)
				}
			} else {
				waitFor(t, "the leader to expire the cut site's session", 4*timeout, func() bool {
					ok, _, err := lc.Exists("/eph")
					return err == nil && !ok
				})
				// Its last renewal came before the cut, within a ping
				// interval (a third of the timeout) and a tick or two.
				if since := time.Since(cutAt); since < timeout/2 {
					t.Fatalf("the session expired %v into the cut, well before its %v timeout", since, timeout)
				}
				d.step(fmt.Sprintf("expired %.1fs into the cut (ZooKeeper's behaviour); leader at %s", time.Since(cutAt).Seconds(), leaderAddr))
			}

			d.step("healing")
			d.emus[relayID].Heal()
			d.serving(relayID, 15*time.Second)
			d.serving(obsID, 15*time.Second)
			if tc.hold == 0 {
				waitFor(t, "the observer's client to learn its session expired", 15*time.Second, func() bool {
					return events.saw(zk.StateExpired)
				})
				return
			}
			waitFor(t, "the observer's client to reconnect with its session", 15*time.Second, func() bool {
				return oc.State() == zk.StateHasSession
			})
			if events.saw(zk.StateExpired) {
				t.Fatal("the observer's client saw its session expire")
			}
			if oc.SessionID() != sid {
				t.Fatalf("session %x became %x", sid, oc.SessionID())
			}
			syncRead(t, oc, "/eph", "x", 10*time.Second)
			// The session lives on: it is renewed by the client's pings
			// again, and still owns the node past another timeout.
			renewedAt := time.Now()
			waitFor(t, "another session timeout after the heal", 3*timeout, func() bool {
				ok, _, err := lc.Exists("/eph")
				if err != nil || !ok {
					t.Fatalf("the ephemeral vanished %.1fs after the heal (exists %v, %v)", time.Since(renewedAt).Seconds(), ok, err)
				}
				return time.Since(renewedAt) > 1500*time.Millisecond+timeout
			})
		})
	}
}
