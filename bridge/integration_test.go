package bridge

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Integration tests: core/server servers, ZAB over the bridge, QUIC with
// mutual TLS over the emulated WAN (wan/emulate, on 127.0.0.1), and
// go-zookeeper clients.

// checkRoles checks, with mntr over the client port, that the leader
// serves exactly one observer stream (the relay: the remote observer does
// not cross the WAN), that the relay follows the leader and the observer
// the relay.
func (d *deployment) checkRoles(lead uint64) {
	t := d.t
	t.Helper()
	// Learner streams of the leader: its live followers and the relay.
	learners := 0
	for _, id := range voterIDs {
		if d.servers[id] != nil {
			learners++
		}
	}
	var last string
	waitFor(t, "the leader to serve one observer (the relay), the relay to follow it, the observer the relay", 10*time.Second, func() bool {
		lm, rm, om := mntr(t, d.servers[lead]), mntr(t, d.servers[relayID]), mntr(t, d.servers[obsID])
		ls, _ := mntrValue(lm, "zk_learners")
		obs, _ := mntrValue(lm, "zk_synced_observers")
		rup, _ := mntrValue(rm, "zk_upstream")
		oup, _ := mntrValue(om, "zk_upstream")
		last = fmt.Sprintf("leader zk_learners=%q zk_synced_observers=%q, relay zk_upstream=%q, observer zk_upstream=%q", ls, obs, rup, oup)
		return ls == strconv.Itoa(learners) && obs == "1" &&
			rup == strconv.FormatUint(lead, 10) && oup == strconv.FormatUint(relayID, 10)
	}, func() string { return last })
}

// 1. Over a 40 ms (one way) WAN with 1 % loss: writes on the leader are
// read on the remote observer after sync(); a write through the observer
// travels observer -> relay (LAN) -> leader (QUIC, requests lane) and is
// acknowledged and visible on the leader; sync() then read on the
// observer sees every earlier write; mntr shows the leader serving one
// observer stream (the relay) and the observer following the relay.
func TestRemoteObserverThroughRelay(t *testing.T) {
	d := newDeployment(t, "delay=40ms,loss=0.01")
	lead := d.upAll()
	d.step("deployment up")
	d.checkRoles(lead)

	lc, oc := d.connect(lead), d.connect(obsID)
	create(t, lc, "/a", "from-leader", 5*time.Second)
	syncRead(t, oc, "/a", "from-leader", 5*time.Second)

	if _, err := oc.Create("/b", []byte("from-observer"), 0, zkACL); err != nil {
		t.Fatalf("write through the remote observer: %v", err)
	}
	syncRead(t, lc, "/b", "from-observer", 5*time.Second)

	// A burst of writes on the leader, then one sync() on the observer:
	// every one of them is there.
	for i := range 20 {
		if _, err := lc.Create(fmt.Sprintf("/w%02d", i), []byte(strconv.Itoa(i)), 0, zkACL); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := oc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		data, _, err := oc.Get(fmt.Sprintf("/w%02d", i))
		if err != nil || string(data) != strconv.Itoa(i) {
			t.Fatalf("/w%02d on the observer right after sync(): %q %v", i, data, err)
		}
	}
	// The relay is connected to all three voters over QUIC.
	for id, st := range d.bridges[relayID].WAN().Stats() {
		if !st.Connected {
			t.Errorf("the relay's link with voter %d is down: %+v", id, st)
		}
	}
	d.checkRoles(lead)
	d.step(fmt.Sprintf("done; the relay's emulated WAN: %+v", d.emus[relayID].Stats()))
}

// 2. The leader dies: the relay finds the new leader over the WAN (the
// election notifications cross it) and the observer behind it keeps
// receiving writes made on the new leader.
func TestRelayFollowsANewLeader(t *testing.T) {
	d := newDeployment(t, "delay=40ms")
	lead := d.upAll()
	oc := d.connect(obsID)
	lc := d.connect(lead)
	create(t, lc, "/before", "1", 5*time.Second)
	syncRead(t, oc, "/before", "1", 5*time.Second)

	d.step(fmt.Sprintf("closing the leader %d", lead))
	mark := d.logs.mark()
	d.stop(lead)
	next := d.leader(10 * time.Second)
	if next == lead {
		t.Fatalf("leader %d still leads after it was closed", lead)
	}
	d.step(fmt.Sprintf("new leader %d", next))
	nc := d.connect(next)
	create(t, nc, "/after", "2", 5*time.Second)
	syncRead(t, oc, "/after", "2", 10*time.Second)
	d.step("the observer read a write made on the new leader")
	// The relay, which reaches the voters only over the WAN, found the new
	// leader by election there.
	if !d.logs.has(mark, "s8.server.zab.election", "election decided", fmt.Sprintf("leader=%d ", next)) {
		t.Fatalf("the relay did not elect its way to leader %d", next)
	}
	d.checkRoles(next)
}

// 3. The WAN is cut for longer than the relay's sync limit: the relay
// leaves its upstream and closes its observer's stream while writes go on
// in the primary; after the heal the relay catches up by DIFF (its log
// reaches the leader's) and the observer converges: every znode created
// during the cut is read on it after sync(), and the trees match.
func TestCutAndHealCatchesUpByDiff(t *testing.T) {
	d := newDeployment(t, "delay=40ms")
	lead := d.upAll()
	lc, oc := d.connect(lead), d.connect(obsID)
	create(t, lc, "/before", "1", 5*time.Second)
	syncRead(t, oc, "/before", "1", 5*time.Second)

	mark := d.logs.mark()
	d.step("cutting the relay's WAN")
	d.emus[relayID].Cut()
	var written []string
	write := func() { written = append(written, cutWrite(t, lc, len(written))) }
	waitFor(t, "the relay to leave its upstream and the observer its relay", 10*time.Second, func() bool {
		write() // writes go on in the primary meanwhile
		return !d.servers[relayID].Serving() && !d.servers[obsID].Serving()
	})
	d.step("the relay left its upstream, the observer its relay")
	for range 10 {
		write()
	}
	d.step(fmt.Sprintf("healing after %d writes", len(written)))
	d.emus[relayID].Heal()
	d.serving(relayID, 10*time.Second)
	d.serving(obsID, 10*time.Second)
	d.step("relay and observer serving again")
	if !d.logs.has(mark, "s8.server.zab", "sync", "mode=DIFF") {
		t.Fatal("the relay did not catch up by DIFF")
	}
	if d.logs.has(mark, "s8.server.zab", "sync", "mode=SNAP") {
		t.Fatal("the relay needed a snapshot after a short cut")
	}
	// One sync() then plain reads: the sync covers every earlier write.
	last := written[len(written)-1]
	syncRead(t, oc, last, last, 5*time.Second)
	for _, p := range written {
		if data, _, err := oc.Get(p); err != nil || string(data) != p {
			t.Fatalf("%s on the observer after sync(): %q %v", p, data, err)
		}
	}
	d.sameTree(lc, oc)
	d.checkRoles(lead)
	d.step("converged")
}

// 4. A relay that starts late with an empty data dir, while the voters
// have compacted their logs behind a snapshot, gets SNAP over the WAN as a
// blob (wan.SendBlob, spooled, then installed and removed by DiskStorage):
// its data dir then holds the snapshot, and the observer behind it
// converges.
func TestLateRelayGetsSnapshotOverWAN(t *testing.T) {
	d := newDeployment(t, "delay=40ms")
	d.snapCount = 10
	d.startVoters()
	lead := d.leader(10 * time.Second)
	lc := d.connect(lead)
	mark := d.logs.mark()
	for i := range 40 {
		if _, err := lc.Create(fmt.Sprintf("/s%02d", i), []byte(payload(i)), 0, zkACL); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the leader to take a snapshot (and compact its log)", 5*time.Second, func() bool {
		return d.logs.has(mark, fmt.Sprintf("s%d.server:", lead), "snapshot taken")
	})
	d.step("the leader took a snapshot; starting the relay")
	mark = d.logs.mark()
	d.startRelay()
	d.startObserver()
	d.serving(relayID, 10*time.Second)
	d.serving(obsID, 10*time.Second)
	d.step("relay and observer serving")
	// The leader sent SNAP at the zxid of its snapshot, a file, which
	// DiskStorage hands out as a Blob: it crossed the WAN with SendBlob,
	// and the relay's data dir now holds the very same file.
	line := d.logs.find(mark, "s8.server.zab", "sync", "mode=SNAP")
	if line == "" {
		t.Fatal("the relay was not synced with a snapshot")
	}
	_, zs, _ := strings.Cut(line, "zxid=0x")
	z, err := strconv.ParseInt(strings.TrimSpace(zs), 16, 64)
	if err != nil || z == 0 {
		t.Fatalf("SNAP at zxid %q: %v", zs, err)
	}
	name := fmt.Sprintf("snapshot.%016x", z)
	sent, err := os.ReadFile(filepath.Join(d.dirs[lead], "snap", name))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(d.dirs[relayID], "snap", name))
	if err != nil {
		t.Fatalf("the relay's data dir lacks the snapshot it was sent: %v", err)
	}
	if !bytes.Equal(sent, got) {
		t.Fatalf("the relay's %s differs from the leader's (%d and %d bytes)", name, len(got), len(sent))
	}
	d.step(fmt.Sprintf("the relay holds the leader's %s (%d bytes)", name, len(got)))
	spool, _ := os.ReadDir(filepath.Join(d.dirs[relayID], "wan-spool"))
	if len(spool) != 0 {
		t.Fatalf("the received snapshot was left in the spool: %v", spool)
	}
	oc := d.connect(obsID)
	syncRead(t, oc, "/s39", payload(39), 5*time.Second)
	for i := range 40 {
		if data, _, err := oc.Get(fmt.Sprintf("/s%02d", i)); err != nil || string(data) != payload(i) {
			t.Fatalf("/s%02d on the observer: %q %v", i, data, err)
		}
	}
	create(t, lc, "/after-snap", "1", 5*time.Second)
	syncRead(t, oc, "/after-snap", "1", 5*time.Second)
	d.sameTree(lc, oc)
	d.checkRoles(lead)
	d.step("converged")
}

// payload is node i's data in TestLateRelayGetsSnapshotOverWAN: 8 KiB, so
// that the snapshot is a few hundred KiB.
func payload(i int) string { return strconv.Itoa(i) + strings.Repeat("x", 8<<10) }

// sameTree checks that the observer's tree (after sync()) has the same
// nodes and data as the leader's.
func (d *deployment) sameTree(lc, oc zkConn) {
	t := d.t
	t.Helper()
	if _, err := oc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	want, got := dumpTree(t, lc, "/"), dumpTree(t, oc, "/")
	if !slices.Equal(want, got) {
		t.Fatalf("trees differ:\nleader   %v\nobserver %v", want, got)
	}
}
