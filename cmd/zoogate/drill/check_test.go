package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zoogate/zoogate/internal/linmodel"
)

// healthy is a small history whose every acknowledged write is on every
// node, and the readbacks of two nodes that hold it.
func healthy() (*History, []Readback) {
	h := &History{
		Sites:  []string{"primary", "eu"},
		Acked:  []Acked{{Key: 0, Version: 1, Value: "a"}, {Key: 0, Version: 2, Value: "b"}, {Key: 1, Version: 1, Value: "c"}},
		Ledger: []string{"/d/ledger/x-0-1", "/d/ledger/x-0-3"},
	}
	rb := func(id uint64) Readback {
		return Readback{Node: id,
			Ledger: map[string]bool{"/d/ledger/x-0-1": true, "/d/ledger/x-0-3": true},
			Lin:    map[int]LinState{0: {2, "b"}, 1: {1, "c"}, 2: {0, "0"}, 3: {0, "0"}}}
	}
	return h, []Readback{rb(1), rb(2)}
}

func TestLostWritesNoneWhenEveryNodeHoldsThem(t *testing.T) {
	h, rbs := healthy()
	if n, why := LostWrites(h, rbs); n != 0 {
		t.Fatalf("lost %d: %v", n, why)
	}
}

// Each injected loss is counted once, whichever node misses it.
func TestLostWritesInjected(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(h *History, rbs []Readback)
		want   string
	}{
		{"a create missing on one node", func(h *History, rbs []Readback) { delete(rbs[1].Ledger, "/d/ledger/x-0-3") },
			"create /d/ledger/x-0-3 acknowledged, missing on node 2"},
		{"a node behind an acknowledged version", func(h *History, rbs []Readback) { rbs[0].Lin[0] = LinState{1, "a"} },
			"setData lin-0 version 2 (b) acknowledged, node 1 is at version 1"},
		{"the acknowledged version holds another value", func(h *History, rbs []Readback) { rbs[1].Lin[1] = LinState{1, "zz"} },
			`node 2 holds "zz" at that version`},
		{"one version acknowledged twice with different values", func(h *History, rbs []Readback) {
			h.Acked = append(h.Acked, Acked{Key: 0, Version: 1, Value: "a2"})
		}, "version 1 of lin-0 acknowledged 2 times with different values (a, a2)"},
		{"a key gone", func(h *History, rbs []Readback) { delete(rbs[0].Lin, 1) },
			"setData lin-1 version 1 (c) acknowledged, key missing on node 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rbs := healthy()
			c.break_(h, rbs)
			n, why := LostWrites(h, rbs)
			if n != 1 || len(why) != 1 || !strings.Contains(why[0], c.want) {
				t.Fatalf("lost %d %q, want 1 saying %q", n, why, c.want)
			}
		})
	}
	// Missing on both nodes: still one write lost.
	h, rbs := healthy()
	delete(rbs[0].Ledger, "/d/ledger/x-0-1")
	delete(rbs[1].Ledger, "/d/ledger/x-0-1")
	if n, _ := LostWrites(h, rbs); n != 1 {
		t.Fatalf("lost %d, want 1", n)
	}
	// A node that could not be read is not evidence either way.
	h, rbs = healthy()
	rbs[1] = Readback{Node: 2, Err: "connection refused"}
	if n, why := LostWrites(h, rbs); n != 0 {
		t.Fatalf("lost %d %v from an unread node", n, why)
	}
}

func linOp(client int, call, ret int64, key int, expect int32, out linmodel.Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: linmodel.Input{Key: key, Expect: expect}, Call: call, Output: out, Return: ret}
}

func TestLinearizableVerdicts(t *testing.T) {
	ok := &History{Lin: []porcupine.Operation{
		linOp(0, 0, 10, 0, -1, linmodel.Output{OK: true, Version: 1}),
		linOp(1, 5, 20, 0, -1, linmodel.Output{OK: true, Version: 2}),
		linOp(0, 21, 30, 0, 1, linmodel.Output{}), // BadVersion: at 2 already
		linOp(1, 22, 1<<62, 0, -1, linmodel.Output{Unknown: true}),
		linOp(0, 31, 40, 1, 0, linmodel.Output{OK: true, Version: 1}),
	}}
	if got := Linearizable(ok, 10*time.Second); got != LinOK {
		t.Fatalf("a linearizable history: %s", got)
	}
	// Two writes one after the other both answered version 1: the second
	// overwrote the first's version (a lost write, or a stale leader).
	bad := &History{Lin: []porcupine.Operation{
		linOp(0, 0, 10, 0, -1, linmodel.Output{OK: true, Version: 1}),
		linOp(1, 20, 30, 0, -1, linmodel.Output{OK: true, Version: 1}),
	}}
	if got := Linearizable(bad, 10*time.Second); got != LinIllegal {
		t.Fatalf("a non-linearizable history: %s", got)
	}
	// A compare-and-set that succeeded against a version that was gone.
	cas := &History{Lin: []porcupine.Operation{
		linOp(0, 0, 10, 2, -1, linmodel.Output{OK: true, Version: 1}),
		linOp(0, 11, 20, 2, -1, linmodel.Output{OK: true, Version: 2}),
		linOp(1, 30, 40, 2, 1, linmodel.Output{OK: true, Version: 3}),
	}}
	if got := Linearizable(cas, 10*time.Second); got != LinIllegal {
		t.Fatalf("a stale compare-and-set: %s", got)
	}
}

// The scenario's verdict follows the checks: one lost write or one
// illegal history fails it (runScenario's rule, on results the checker
// gave).
func TestVerdictFailsOnInjectedFaults(t *testing.T) {
	h, rbs := healthy()
	delete(rbs[0].Ledger, "/d/ledger/x-0-1")
	h.Lin = []porcupine.Operation{
		linOp(0, 0, 10, 0, -1, linmodel.Output{OK: true, Version: 1}),
		linOp(1, 20, 30, 0, -1, linmodel.Output{OK: true, Version: 1}),
	}
	res := ScenarioResult{}
	res.LostAckedWrites, res.Lost = LostWrites(h, rbs)
	res.LinCheck = Linearizable(h, 10*time.Second)
	res.Linearizable = res.LinCheck == LinOK
	if verdict(&res) {
		t.Fatalf("passed with %d lost and linearizable=%v", res.LostAckedWrites, res.Linearizable)
	}
	res.LostAckedWrites = 0
	if verdict(&res) {
		t.Fatal("passed with a non-linearizable history")
	}
	res.Linearizable, res.LostAckedWrites = true, 1
	if verdict(&res) {
		t.Fatal("passed with a lost write")
	}
	res.LostAckedWrites = 0
	if !verdict(&res) {
		t.Fatal("failed with nothing wrong")
	}
}

func TestUnavailable(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	op := func(ret, outcome int) Op { return Op{Ret: ms(ret), Outcome: outcome} }
	cases := []struct {
		name string
		ops  []Op
		end  int
		want int
	}{
		{"steady", []Op{op(0, outOK), op(100, outOK), op(200, outOK)}, 250, 0},
		{"a failure between two successes", []Op{op(0, outOK), op(100, outFail), op(300, outOK), op(400, outOK)}, 450, 300},
		{"a long stall without failure", []Op{op(0, outOK), op(2500, outOK)}, 2600, 2500},
		{"a short stall", []Op{op(0, outOK), op(1900, outOK)}, 1950, 0},
		{"quiet to the end", []Op{op(0, outOK), op(100, outOK)}, 3000, 2900},
		{"failing to the end", []Op{op(0, outOK), op(100, outFail), op(200, outUnknown)}, 900, 900},
		{"calls after the end are left out", []Op{op(0, outOK), op(100, outOK), op(1000, outFail)}, 150, 0},
		{"never once", []Op{op(10, outFail)}, 500, 500},
		{"failures before the first success", []Op{op(10, outFail), op(50, outOK), op(100, outOK)}, 150, 0},
	}
	for _, c := range cases {
		if got := unavailable(c.ops, ms(c.end)); got != ms(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, ms(c.want))
		}
	}
}

func TestStalenessAndSites(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	clock := []ClockAck{{1, ms(100)}, {2, ms(150)}, {4, ms(300)}} // 3 was never acknowledged
	for _, c := range []struct {
		seen int64
		call int
		want int
	}{
		{2, 200, 0},   // saw the last acknowledged before the call
		{1, 200, 50},  // missed 2, acknowledged at 150
		{2, 400, 100}, // missed 4 (3 was never acknowledged)
		{4, 999, 0},
		{0, 120, 20},
		{1, 140, 0}, // 2 was acknowledged after the call began
	} {
		if got := staleness(clock, c.seen, ms(c.call)); got != ms(c.want) {
			t.Errorf("seen %d at %dms: %v, want %v", c.seen, c.call, got, ms(c.want))
		}
	}
	h := &History{Sites: []string{"primary", "eu"}, Clock: clock, End: ms(1000), Ops: []Op{
		{Site: 0, Kind: opWrite, Call: ms(0), Ret: ms(10), Outcome: outOK},
		{Site: 1, Kind: opWrite, Call: ms(0), Ret: ms(90), Outcome: outOK},
		{Site: 1, Kind: opRead, Call: ms(400), Ret: ms(410), Outcome: outOK, Seen: 2},
		{Site: 1, Kind: opRead, Call: ms(500), Ret: ms(510), Outcome: outFail, Seen: -1},
		{Site: 1, Kind: opRead, Call: ms(600), Ret: ms(700), Outcome: outOK, Seen: 4},
	}, Events: []StateEvent{{Site: 1}, {Site: 1, Expired: true}, {Site: 0}}}
	rs := Sites(h, ms(100))
	if rs[1].MaxStalenessMs != 100 || rs[0].MaxStalenessMs != 0 {
		t.Errorf("staleness: primary %v eu %v, want 0 and 100", rs[0].MaxStalenessMs, rs[1].MaxStalenessMs)
	}
	if rs[1].ConnectionLosses != 1 || rs[1].SessionExpirations != 1 || rs[0].ConnectionLosses != 1 {
		t.Errorf("events: %+v", rs)
	}
	if rs[1].Counts != (Counts{Writes: 1, Reads: 3, ReadsFailed: 1}) || rs[1].MaxWriteLatencyMs != 90 {
		t.Errorf("eu counts %+v, max write latency %v", rs[1].Counts, rs[1].MaxWriteLatencyMs)
	}
	// eu's reads: ok at 410, failed at 510, ok at 700: 410→700 counts;
	// 700→1000 is quiet but short.
	if rs[1].ReadUnavailableMs != 290 {
		t.Errorf("eu read unavailable %v, want 290", rs[1].ReadUnavailableMs)
	}
	if b := rs[1].Timeline[5]; b.ReadsFailed != 1 || rs[1].Timeline[4].MaxStaleMs != 100 {
		t.Errorf("timeline: %+v", rs[1].Timeline)
	}
}

// A site's unavailability is its worst client's: one writer that hangs
// while another of the site writes on is unavailable for the hang.
func TestSiteUnavailabilityIsTheWorstClients(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	h := &History{Sites: []string{"eu"}, End: ms(5000)}
	for i := 0; i < 50; i++ {
		h.Ops = append(h.Ops, Op{Client: 0, Kind: opWrite, Call: ms(i * 100), Ret: ms(i*100 + 50), Outcome: outOK})
	}
	h.Ops = append(h.Ops,
		Op{Client: 1, Kind: opWrite, Ret: ms(100), Outcome: outOK},
		Op{Client: 1, Kind: opWrite, Ret: ms(3100), Outcome: outFail},
		Op{Client: 1, Kind: opWrite, Ret: ms(4100), Outcome: outOK},
		Op{Client: 1, Kind: opWrite, Ret: ms(4900), Outcome: outOK})
	if got := Sites(h, ms(100))[0].WriteUnavailableMs; got != 4000 {
		t.Fatalf("write unavailable %v ms, want 4000 (client 1, 100 → 4100)", got)
	}
}

// The read-only reader's reads have figures of their own.
func TestReadOnlyReaderFigures(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	h := &History{Sites: []string{"eu"}, End: ms(4000), Clock: []ClockAck{{1, ms(100)}, {2, ms(150)}},
		Ops: []Op{
			{Client: roClientID(0), Kind: opROReader, Call: ms(200), Ret: ms(210), Outcome: outOK, Seen: 2},
			{Client: roClientID(0), Kind: opROReader, Call: ms(900), Ret: ms(910), Outcome: outOK, Seen: 1, ReadOnly: true},
			{Client: roClientID(0), Kind: opROReader, Call: ms(1000), Ret: ms(1010), Outcome: outFail, Seen: -1},
			{Client: roClientID(0), Kind: opROReader, Call: ms(3000), Ret: ms(3010), Outcome: outOK, Seen: 2, ReadOnly: true},
			{Client: roClientID(0), Kind: opROReader, Call: ms(3900), Ret: ms(3910), Outcome: outOK, Seen: 2},
		}}
	r := Sites(h, ms(100))[0]
	if r.ReadOnlyServed != 2 || r.ReadOnlyMaxStalenessMs != 750 || r.ReadOnlyUnavailableMs != 2100 {
		t.Fatalf("read-only: %d in read-only mode, max staleness %v, unavailable %v; want 2, 750 (missed 2 acknowledged at 150 ms, read at 900 ms), 2100 (910 → 3010)",
			r.ReadOnlyServed, r.ReadOnlyMaxStalenessMs, r.ReadOnlyUnavailableMs)
	}
	if r.Counts.Reads != 0 || r.ReadUnavailableMs != 0 {
		t.Fatalf("the read-only reader counted as a go-zookeeper reader: %+v", r)
	}
}

// Connection losses to the servers the scenario took down are told apart
// from losses to the servers that survived.
func TestConnectionLossesOnSurvivors(t *testing.T) {
	h := &History{Sites: []string{"primary"}, End: time.Second, Down: map[string]bool{"127.0.0.1:2183": true},
		Events: []StateEvent{{Server: "127.0.0.1:2183"}, {Server: "127.0.0.1:2181"}, {Server: "127.0.0.1:2183"}, {Server: "127.0.0.1:2182", Expired: true}}}
	r := Sites(h, 100*time.Millisecond)[0]
	if r.ConnectionLosses != 3 || r.ConnectionLossesSurviving != 1 || r.SessionExpirations != 1 {
		t.Fatalf("losses %d, on survivors %d, expirations %d; want 3, 1, 1", r.ConnectionLosses, r.ConnectionLossesSurviving, r.SessionExpirations)
	}
}
