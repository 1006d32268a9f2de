package server

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// treeHasSession reports whether s's replicated state holds session sid.
func treeHasSession(s *Server, sid int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.tree.Sessions()[sid]
	return ok
}

// TestLocalSessions: a session made on an observer with LocalSessions is
// local (the leader never logs it); its persistent writes go through; its
// first ephemeral create upgrades it to a global session, atomically from
// the client's view; a local session is unknown to other servers
// (SessionExpired there), ends on closeSession, and expires on its own
// server once its client has been gone for its timeout.
func TestLocalSessions(t *testing.T) {
	tc := newTestCluster(t, 3)
	const obs = 9
	tc.dirs[obs] = t.TempDir()
	o := tc.startLearner(obs, func(cc *ClusterConfig) { cc.LocalSessions = true })
	lead := tc.leader()
	leader := tc.servers[lead]

	c, _ := connect(t, o)
	sid := c.SessionID()
	if !o.local.has(sid) {
		t.Fatalf("session %x made on the observer is not local", sid)
	}
	if _, err := c.Create("/local-persistent", []byte("p"), 0, open); err != nil {
		t.Fatalf("a persistent create from a local session: %v", err)
	}
	if treeHasSession(leader, sid) {
		t.Fatal("the leader logged a local session")
	}
	// The first ephemeral upgrades it.
	if _, err := c.Create("/local-eph", []byte("e"), zk.FlagEphemeral, open); err != nil {
		t.Fatalf("an ephemeral create from a local session: %v", err)
	}
	if o.local.has(sid) || !treeHasSession(leader, sid) {
		t.Fatalf("after an ephemeral create: local %v, on the leader %v", o.local.has(sid), treeHasSession(leader, sid))
	}
	lc := tc.connect(lead)
	if _, st, err := lc.Get("/local-eph"); err != nil || st.EphemeralOwner != sid {
		t.Fatalf("the ephemeral on the leader: owner %x, %v (want %x)", st.EphemeralOwner, err, sid)
	}
	// Closing the (now global) session removes its ephemeral everywhere.
	c.Close()
	waitFor(t, "the upgraded session's ephemeral to go", 10*time.Second, func() bool {
		ok, _, err := lc.Exists("/local-eph")
		return err == nil && !ok
	})

	// A local session is unknown elsewhere: expired on a voter.
	r := dialRaw(t, o)
	r.handshake(0, nil, false)
	lsid, lpw := r.sid, r.pw
	if !o.local.has(lsid) {
		t.Fatal("raw session not local")
	}
	v := dialRaw(t, leader)
	if resp := v.handshake(lsid, lpw, false); resp.Timeout != 0 {
		t.Fatalf("a local session resumed on another server: %+v", resp)
	}
	// It resumes on its own server while it lives, then expires there.
	r.nc.Close()
	again := dialRaw(t, o)
	if resp := again.handshake(lsid, lpw, false); resp.Timeout == 0 || resp.SessionID != lsid {
		t.Fatalf("a local session did not resume on its own server: %+v", resp)
	}
	again.nc.Close()
	waitFor(t, "the local session to expire on its server", 15*time.Second, func() bool { return !o.local.has(lsid) })
	late := dialRaw(t, o)
	if resp := late.handshake(lsid, lpw, false); resp.Timeout != 0 {
		t.Fatalf("an expired local session resumed: %+v", resp)
	}
	// closeSession ends a local session at once.
	c2, _ := connect(t, o)
	sid2 := c2.SessionID()
	if !o.local.has(sid2) {
		t.Fatal("second session not local")
	}
	c2.Close()
	waitFor(t, "closeSession to end the local session", 5*time.Second, func() bool { return !o.local.has(sid2) })
}
