package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/internal/rawzk"
)

// TestDifferentialReadOnly compares a server cut from its quorum in
// read-only mode, request by request, with Apache ZooKeeper's
// (readonlymode.enabled, 3 servers with two of them killed): who gets a
// session, the handshake's readOnly flag, reads, the code of each kind of
// write, sync, multi and multiRead, closeSession, isro and srvr's mode.
func TestDifferentialReadOnly(t *testing.T) {
	opt := defaultZKOptions()
	opt.Props = append(opt.Props, "readonlymode.enabled=true")
	// ZooKeeper 3.8 gives read-only clients local sessions; without them
	// its read-only server refuses to create sessions.
	opt.Cfg = []string{"localSessionsEnabled=true", "localSessionsUpgradingEnabled=true"}
	ens := startZooKeeperEnsemble(t, 3, opt)
	zks := ens.servers
	nw, voters := startReadOnlyCluster(t)

	// ZooKeeper's two others are killed and started again; zoogate's are
	// cut off from the survivor and healed (the survivor sees the same).
	sides := []struct {
		name       string
		addrs      []string
		kill, heal func()
		survivor   string
	}{
		{"zookeeper", []string{zks[0].Addr, zks[1].Addr, zks[2].Addr},
			func() { zks[1].Stop(); zks[2].Stop() }, func() { ens.restart(1); ens.restart(2) }, zks[0].Addr},
		{"zoogate", []string{voters[0].Addr().String(), voters[1].Addr().String(), voters[2].Addr().String()},
			func() { nw.Partition([]uint64{1}, []uint64{2, 3}) }, nw.Heal, voters[0].Addr().String()},
	}
	var transcripts [2][]string
	for i, s := range sides {
		c, _, err := zk.Connect(s.addrs, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/ro", "/ro/a", "/ro/b"} {
			if _, err := c.Create(p, []byte("v"+p), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("%s: create %s: %v", s.name, p, err)
			}
		}
		// The survivor must have the writes before the others go.
		sc, _, err := zk.Connect([]string{s.survivor}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Sync("/ro"); err != nil {
			t.Fatalf("%s: sync on the survivor: %v", s.name, err)
		}
		sc.Close()
		c.Close()
		s.kill()
		waitUntil(t, s.name+"'s survivor in read-only mode", 60*time.Second, func() bool {
			r, err := fourLetterWord(s.survivor, "isro", time.Second)
			return err == nil && r == "ro"
		})
		ro, lines := readOnlyProbe(t, s.survivor)
		s.heal()
		transcripts[i] = append(lines, afterQuorum(t, s.name, s.survivor, ro)...)
	}
	zkT, zgT := transcripts[0], transcripts[1]
	for i := range max(len(zkT), len(zgT)) {
		var a, b string
		if i < len(zkT) {
			a = zkT[i]
		}
		if i < len(zgT) {
			b = zgT[i]
		}
		if a != b {
			t.Errorf("line %d differs:\n  zookeeper: %s\n  zoogate:   %s", i+1, a, b)
		}
	}
	t.Logf("zookeeper:\n  %s\nzoogate:\n  %s", strings.Join(zkT, "\n  "), strings.Join(zgT, "\n  "))
}

// readOnlyProbe runs the same requests against a server in read-only mode
// and writes down what each got; it returns a second read-only session,
// left open.
func readOnlyProbe(t *testing.T, addr string) (*rawzk.Conn, []string) {
	t.Helper()
	var out []string
	say := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	if c, _, err := rawzk.Dial(addr, false); err != nil {
		say("client without readOnly: refused")
	} else {
		say("client without readOnly: got a session")
		c.Close()
	}
	c, resp, err := rawzk.Dial(addr, true)
	if err != nil {
		t.Fatalf("read-only client to %s: %v", addr, err)
	}
	defer c.Close()
	say("read-only client: readOnly=%v, session id set %v", resp.ReadOnly, resp.SessionID != 0)
	data, code, err := c.Get("/ro")
	say("getData /ro: %q code %d err %v", data, code, err)
	code, d, err := c.Call(proto.OpGetChildren, func(e *jute.Encoder) { e.String("/ro"); e.Bool(false) })
	var kids []string
	if err == nil && code == 0 {
		for n := d.Int("count"); n > 0; n-- {
			kids = append(kids, d.String("child"))
		}
		slices.Sort(kids)
	}
	say("getChildren /ro: %v code %d err %v", kids, code, err)
	code, _, err = c.Call(proto.OpExists, func(e *jute.Encoder) { e.String("/ro/none"); e.Bool(true) })
	say("exists /ro/none with a watch: code %d err %v", code, err)
	writes := []struct {
		name string
		op   proto.Op
		body func(*jute.Encoder)
	}{
		{"create /ro/c", proto.OpCreate, func(e *jute.Encoder) {
			e.String("/ro/c")
			e.Buffer(nil)
			e.Int(1)
			e.Int(31)
			e.String("world")
			e.String("anyone")
			e.Int(0)
		}},
		{"setData /ro", proto.OpSetData, func(e *jute.Encoder) { e.String("/ro"); e.Buffer([]byte("x")); e.Int(-1) }},
		{"delete /ro/a", proto.OpDelete, func(e *jute.Encoder) { e.String("/ro/a"); e.Int(-1) }},
		{"setACL /ro", proto.OpSetACL, func(e *jute.Encoder) {
			e.String("/ro")
			e.Int(1)
			e.Int(31)
			e.String("world")
			e.String("anyone")
			e.Int(-1)
		}},
		{"sync /ro", proto.OpSync, func(e *jute.Encoder) { e.String("/ro") }},
		{"multi [check /ro]", proto.OpMulti, func(e *jute.Encoder) {
			multiHeader(e, proto.OpCheck, false)
			e.String("/ro")
			e.Int(-1)
			multiHeader(e, -1, true)
		}},
	}
	for _, w := range writes {
		code, _, err := c.Call(w.op, w.body)
		say("%s: code %d err %v", w.name, code, err)
	}
	code, d, err = c.Call(proto.OpMultiRead, func(e *jute.Encoder) {
		multiHeader(e, proto.OpGetData, false)
		e.String("/ro/b")
		e.Bool(false)
		multiHeader(e, -1, true)
	})
	got := ""
	if err == nil && code == 0 {
		typ, _, herr := d.Int("type"), d.Bool("done"), d.Int("err")
		got = fmt.Sprintf("type %d err %d data %q", typ, herr, d.Buffer("data"))
	}
	say("multiRead [getData /ro/b]: %s code %d err %v", got, code, err)
	data, code, err = c.Get("/ro/b")
	say("getData /ro/b after the refused writes: %q code %d err %v", data, code, err)
	isro, err := fourLetterWord(addr, "isro", 2*time.Second)
	say("isro: %q err %v", isro, err)
	srvr, err := fourLetterWord(addr, "srvr", 2*time.Second)
	mode := ""
	for _, l := range strings.Split(srvr, "\n") {
		if strings.HasPrefix(l, "Mode: ") {
			mode = l
		}
	}
	say("srvr: %q err %v", mode, err)
	code, _, err = c.Call(proto.OpCloseSession, nil)
	say("closeSession: code %d err %v", code, err)
	ro, _, err := rawzk.Dial(addr, true)
	if err != nil {
		t.Fatalf("second read-only client to %s: %v", addr, err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro, out
}

// afterQuorum writes down what a read-only session sees once its server
// serves again, and what new clients get there.
func afterQuorum(t *testing.T, name, addr string, ro *rawzk.Conn) []string {
	t.Helper()
	var out []string
	say := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	waitUntil(t, name+"'s survivor read-write again", 90*time.Second, func() bool {
		r, err := fourLetterWord(addr, "isro", time.Second)
		return err == nil && r == "rw"
	})
	// The server closes its read-only connections when it serves again:
	// the open session's next request finds the connection gone.
	var err error
	for err == nil {
		_, _, err = ro.Get("/ro")
		if err == nil {
			time.Sleep(50 * time.Millisecond) // a client reading now and then
		}
	}
	say("the read-only session once the quorum is back: connection closed")
	c, resp, err := rawzk.Dial(addr, true)
	if err != nil {
		say("a client with readOnly after the heal: %v", err)
		return out
	}
	defer c.Close()
	say("a client with readOnly after the heal: readOnly=%v", resp.ReadOnly)
	code, _, err := c.Call(proto.OpSetData, func(e *jute.Encoder) { e.String("/ro"); e.Buffer([]byte("rw")); e.Int(-1) })
	say("setData /ro: code %d err %v", code, err)
	if c2, _, err := rawzk.Dial(addr, false); err != nil {
		say("client without readOnly: refused")
	} else {
		say("client without readOnly: got a session")
		c2.Close()
	}
	return out
}

// multiHeader encodes a MultiHeader (type, done, err = -1).
func multiHeader(e *jute.Encoder, typ proto.Op, done bool) {
	e.Int(int32(typ))
	e.Bool(done)
	e.Int(-1)
}

// waitUntil polls cond every 50 ms until it holds; it fails the test
// after within.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of cond
	}
}
