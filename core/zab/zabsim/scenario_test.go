package zabsim

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/zoogate/zoogate/core/zab"
)

// TestScenarios runs testdata/*.txt: readable, deterministic scenarios of
// each ZAB phase and of every row of the bug table in zab-protocol.md §5.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			s := &scenario{t: t}
			runDD(t, f, s.run)
		})
	}
}

type scenario struct {
	t    *testing.T
	c    *Cluster
	out  []string
	show map[zab.MessageType]bool
	all  bool
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func parseIDs(s string) []uint64 {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("bad id %q", f))
		}
		out = append(out, v)
	}
	return out
}

// parseUpstreams parses "6:4,7:5" (observer 6 follows 4, 7 follows 5).
func parseUpstreams(s string) map[uint64]uint64 {
	out := map[uint64]uint64{}
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		a, b, ok := strings.Cut(f, ":")
		if !ok {
			panic(fmt.Sprintf("bad upstream %q", f))
		}
		out[parseIDs(a)[0]] = parseIDs(b)[0]
	}
	return out
}

func parseZxid(s string) int64 {
	v, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		panic(fmt.Sprintf("bad zxid %q", s))
	}
	return v
}

func (s *scenario) intArg(c ddCase, key string, def int) int {
	if v, ok := c.kv[key]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.t.Fatalf("line %d: %s=%q", c.line, key, v)
		}
		return n
	}
	return def
}

// Events printed by default; others only with verbose.
var defaultEvents = map[string]bool{
	"role": true, "established": true, "snap": true, "trunc": true, "crash": true,
	"start": true, "violation": true, "sync": true, "compact": true, "upstream": true,
}

func (s *scenario) run(c ddCase) (out string) {
	s.out = nil
	defer func() {
		if r := recover(); r != nil {
			out = strings.Join(append(s.out, fmt.Sprintf("panic: %v", r)), "\n")
		}
	}()
	if c.cmd != "cluster" && s.c == nil {
		s.t.Fatalf("line %d: no cluster", c.line)
	}
	s.show = map[zab.MessageType]bool{}
	s.all = false
	if v, ok := c.kv["show"]; ok {
		for _, name := range strings.Split(v, ",") {
			if name == "all" {
				s.all = true
				continue
			}
			typ, ok := zab.ParseMessageType(name)
			if !ok {
				s.t.Fatalf("line %d: unknown type %q", c.line, name)
			}
			s.show[typ] = true
		}
	}
	switch c.cmd {
	case "cluster":
		// relays=4,5: non-voters that serve observers (ServeLearners);
		// upstream=6:4,7:5: observer 6 follows relay 4, 7 follows 5
		// (Config.Upstream), without an election.
		opts := Options{
			Voters:        parseIDs(c.kv["voters"]),
			Observers:     parseIDs(c.kv["observers"]),
			Relays:        parseIDs(c.kv["relays"]),
			Upstreams:     parseUpstreams(c.kv["upstream"]),
			InitLimit:     s.intArg(c, "init", 10),
			SyncLimit:     s.intArg(c, "sync", 5),
			ElectionTicks: s.intArg(c, "election", 2),
			FinalizeTicks: s.intArg(c, "finalize", 1),
			MaxCounter:    int64(s.intArg(c, "max-counter", 0)),
			Seed:          1,
			Manual:        true,
			Logger: hclog.New(&hclog.LoggerOptions{Level: scenarioLogLevel(), Output: testWriter{s.t},
				DisableTime: true}),
		}
		if v, ok := c.kv["order"]; ok {
			var okOrder bool
			if opts.Order, okOrder = ParseOrder(v); !okOrder {
				s.t.Fatalf("line %d: order %q", c.line, v)
			}
		}
		if v, ok := c.kv["relaxed"]; ok {
			opts.Orders = map[uint64]Order{}
			for _, id := range parseIDs(v) {
				opts.Orders[id] = OrderRelaxed
			}
		}
		s.c = NewCluster(opts)
		s.c.OnDeliver = func(m zab.Message) {
			if s.all || s.show[m.Type] {
				s.out = append(s.out, "  "+m.String())
			}
		}
		s.c.OnEvent = s.eventHook()
		return ""
	case "stabilize":
		s.c.Stabilize()
	case "settle":
		// Stabilize, tick everyone, repeat until one established leader is
		// served by every running server (or max ticks).
		max := s.intArg(c, "max", 50)
		for i := 0; ; i++ {
			s.c.Stabilize()
			if s.c.settled() {
				s.out = append(s.out, fmt.Sprintf("settled after %d ticks", i))
				break
			}
			if i == max {
				s.out = append(s.out, fmt.Sprintf("not settled after %d ticks", i))
				break
			}
			s.c.Tick()
		}
	case "tick":
		for i := 0; i < s.intArg(c, "n", 1); i++ {
			ids := parseIDs(strings.Join(c.args, ","))
			s.c.Tick(ids...)
			if c.kv["stabilize"] == "true" {
				s.c.Stabilize()
			}
		}
	case "propose":
		id := parseIDs(c.args[0])[0]
		for i := 0; i < s.intArg(c, "n", 1); i++ {
			data := c.args[1]
			if s.intArg(c, "n", 1) > 1 {
				data = fmt.Sprintf("%s%d", data, i+1)
			}
			s.c.Hold = c.kv["hold"] == "true"
			z, err := s.c.Propose(id, []byte(data))
			s.c.Hold = false
			if err != nil {
				s.out = append(s.out, fmt.Sprintf("propose %s at %d: %v", data, id, err))
			} else {
				s.out = append(s.out, fmt.Sprintf("%d proposed %q as %s", id, data, zab.FormatZxid(z)))
			}
		}
	case "sync":
		id := parseIDs(c.args[0])[0]
		if err := s.c.Sync(id, c.args[1]); err != nil {
			s.out = append(s.out, fmt.Sprintf("sync at %d: %v", id, err))
		}
	case "crash":
		cut := Cut(-1)
		if v, ok := c.kv["cut"]; ok {
			var okc bool
			if cut, okc = ParseCut(v); !okc {
				s.t.Fatalf("line %d: cut %q", c.line, v)
			}
		}
		// delivers=true: what the server sent before crashing is still
		// delivered (a process crash); by default it is lost.
		if c.kv["delivers"] == "true" {
			s.c.SetCrashDelivers(1)
		}
		for _, id := range parseIDs(strings.Join(c.args, ",")) {
			if cut >= 0 {
				s.c.OnReady = func(rid uint64, rd zab.Ready) {
					s.out = append(s.out, "pending Ready:")
					s.out = append(s.out, s.readyLines(rid, rd)...)
					s.out = append(s.out, "crash "+cut.String())
				}
			}
			s.c.Crash(id, cut)
			s.c.OnReady = nil
		}
		s.c.SetCrashDelivers(0)
	case "restart":
		for _, id := range parseIDs(strings.Join(c.args, ",")) {
			if err := s.c.Restart(id); err != nil {
				s.out = append(s.out, fmt.Sprintf("restart %d: %v", id, err))
			}
		}
	case "partition":
		var groups [][]uint64
		for _, g := range c.args {
			groups = append(groups, parseIDs(g))
		}
		s.c.Partition(groups...)
	case "heal":
		s.c.Heal()
	case "disconnect":
		ids := parseIDs(strings.Join(c.args, ","))
		s.c.Disconnect(ids[0], ids[1])
	case "deliver":
		ids := parseIDs(strings.Join(c.args, ","))
		s.all = true
		s.c.Hold = c.kv["hold"] == "true"
		defer func() { s.c.Hold = false }()
		for i := 0; i < s.intArg(c, "n", 1); i++ {
			if _, ok := s.c.DeliverFrom(ids[0], ids[1]); !ok {
				s.out = append(s.out, "nothing to deliver")
				break
			}
		}
		if !s.c.Hold {
			s.c.ProcessAll()
		}
	case "ready":
		// Execute the pending Ready of a server, printing its steps in the
		// order the driver performs them.
		id := parseIDs(c.args[0])[0]
		s.c.OnReady = func(rid uint64, rd zab.Ready) {
			if rid == id {
				s.out = append(s.out, s.readyLines(rid, rd)...)
			}
		}
		s.c.ProcessAll()
		s.c.OnReady = nil
	case "set-upstream":
		// set-upstream 6 3: observer 6 follows 3 from now on (0: the
		// leader the election finds), as a driver's live view would say.
		ids := parseIDs(strings.Join(c.args, ","))
		if err := s.c.SetUpstream(ids[0], ids[1]); err != nil {
			s.out = append(s.out, fmt.Sprintf("set-upstream %d %d: %v", ids[0], ids[1], err))
		}
	case "learners":
		// learners 4: the learner streams server 4 serves (Node.Learners).
		id := parseIDs(c.args[0])[0]
		srv := s.c.Server(id)
		if !srv.Up() {
			s.out = append(s.out, fmt.Sprintf("%d: down", id))
			break
		}
		for _, l := range srv.Node.Learners() {
			line := fmt.Sprintf("%d serves %d: follower %s sent=%s acked=%s", id, l.ID, l.State,
				zab.FormatZxid(l.Sent), zab.FormatZxid(l.Acked))
			if l.Observer {
				line = fmt.Sprintf("%d serves %d: observer %s sent=%s", id, l.ID, l.State, zab.FormatZxid(l.Sent))
			}
			s.out = append(s.out, line)
		}
		if len(s.out) == 0 {
			s.out = append(s.out, fmt.Sprintf("%d serves no learner", id))
		}
	case "mute":
		s.c.Mute(parseIDs(c.args[0])[0])
	case "unmute":
		s.c.Unmute()
	case "pending":
		ids := parseIDs(strings.Join(c.args, ","))
		for _, m := range s.c.Pending(ids[0], ids[1]) {
			s.out = append(s.out, "  "+m.String())
		}
	case "inject":
		ids := parseIDs(strings.Join(c.args, ","))
		typ, ok := zab.ParseMessageType(c.kv["type"])
		if !ok {
			s.t.Fatalf("line %d: type", c.line)
		}
		m := zab.Message{Type: typ, From: ids[0], To: ids[1], Data: []byte(c.kv["data"])}
		if v, ok := c.kv["zxid"]; ok {
			m.Zxid = parseZxid(v)
		}
		m.Epoch = int64(s.intArg(c, "epoch", 0))
		m.Leader = uint64(s.intArg(c, "leader", 0))
		m.ElectionEpoch = int64(s.intArg(c, "clock", 0))
		if v, ok := c.kv["state"]; ok {
			m.State = map[string]zab.ServerState{"LOOKING": zab.Looking, "FOLLOWING": zab.Following,
				"LEADING": zab.Leading}[v]
		}
		s.c.Inject(m)
	case "compact":
		if err := s.c.Compact(parseIDs(c.args[0])[0]); err != nil {
			s.out = append(s.out, err.Error())
		}
	case "hide":
		s.c.Server(parseIDs(c.args[0])[0]).Disk.Hidden[parseZxid(c.args[1])] = true
	case "status":
		ids := parseIDs(strings.Join(c.args, ","))
		if len(ids) == 0 {
			ids = s.c.IDs()
		}
		for _, id := range ids {
			s.out = append(s.out, s.c.StatusLine(id))
		}
	case "log":
		for _, id := range parseIDs(strings.Join(c.args, ",")) {
			d := s.c.Server(id).Disk
			var zs []string
			for _, e := range d.allEntries() {
				zs = append(zs, fmt.Sprintf("%s:%s", zab.FormatZxid(e.Zxid), e.Data))
			}
			s.out = append(s.out, fmt.Sprintf("%d: accepted=%d current=%d snapshot=%s mark=%s log=[%s]", id,
				d.AcceptedEpoch, d.CurrentEpoch, zab.FormatZxid(d.SnapshotZxid()), zab.FormatZxid(d.CommitMark),
				strings.Join(zs, " ")))
		}
	case "applied":
		for _, id := range parseIDs(strings.Join(c.args, ",")) {
			srv := s.c.Server(id)
			var zs []string
			for _, e := range srv.Applied {
				zs = append(zs, fmt.Sprintf("%s:%s", zab.FormatZxid(e.Zxid), e.Data))
			}
			s.out = append(s.out, fmt.Sprintf("%d: [%s] digest=%x", id, strings.Join(zs, " "), Digest(srv.Applied)))
		}
	case "check":
		// Invariants held so far, and (with converged=true) the replicas
		// agree byte for byte.
		if err := s.c.Err(); err != nil {
			s.out = append(s.out, "violation: "+err.Error())
			break
		}
		if c.kv["converged"] == "true" {
			if !s.c.converged() {
				s.out = append(s.out, "not converged")
				break
			}
			if err := s.c.chk.checkConverged(); err != nil {
				s.out = append(s.out, "violation: "+err.Error())
				break
			}
		}
		s.out = append(s.out, "ok")
	default:
		s.t.Fatalf("line %d: unknown command %q", c.line, c.cmd)
	}
	if err := s.c.Err(); err != nil && c.cmd != "check" {
		s.out = append(s.out, "violation: "+err.Error())
	}
	return strings.Join(s.out, "\n")
}

func (s *scenario) eventHook() func(kind, line string) {
	return func(kind, line string) {
		if defaultEvents[kind] {
			s.out = append(s.out, line)
		}
	}
}

// settled: exactly one established leader, and every running server serves
// under it (a relay's observers through their relay) with nothing left to
// do.
func (c *Cluster) settled() bool {
	leaders := c.Leaders()
	if len(leaders) != 1 {
		return false
	}
	for _, id := range c.ids {
		srv := c.servers[id]
		if !srv.Up() {
			continue
		}
		st := srv.Node.Status()
		if srv.Node.HasReady() || !st.Serving || (id != leaders[0] && !c.servedBy(id, leaders[0])) {
			return false
		}
	}
	return true
}

// readyLines prints a Ready's steps in the order server id's driver
// performs them: a relaxed driver's early sends and applies come first, as
// step 0.
func (s *scenario) readyLines(id uint64, rd zab.Ready) []string {
	srv := s.c.Server(id)
	early, late, closeEarly, applyEarly := earlyWork(srv.Order, srv.Soft.Role, rd)
	var out []string
	for _, m := range early {
		out = append(out, "0. send "+m.String())
	}
	if closeEarly {
		for _, p := range rd.Disconnect {
			out = append(out, fmt.Sprintf("0. close stream to %d", p))
		}
	}
	if applyEarly {
		for _, e := range rd.Committed {
			out = append(out, "0. apply "+zab.FormatZxid(e.Zxid))
		}
	}
	if rd.Snapshot != nil {
		out = append(out, "1. install snapshot "+zab.FormatZxid(rd.Snapshot.Zxid))
	} else if rd.Truncate {
		out = append(out, "1. truncate after "+zab.FormatZxid(rd.TruncateAfter))
	}
	if len(rd.Entries) > 0 {
		var zs []string
		for _, e := range rd.Entries {
			zs = append(zs, zab.FormatZxid(e.Zxid))
		}
		out = append(out, "2. append "+strings.Join(zs, " "))
	}
	if hs := rd.HardState; hs != nil {
		out = append(out, fmt.Sprintf("3. persist acceptedEpoch=%d currentEpoch=%d", hs.AcceptedEpoch, hs.CurrentEpoch))
	}
	if !closeEarly {
		for _, p := range rd.Disconnect {
			out = append(out, fmt.Sprintf("4. close stream to %d", p))
		}
	}
	for _, m := range late {
		out = append(out, "4. send "+m.String())
	}
	if !applyEarly {
		for _, e := range rd.Committed {
			out = append(out, "5. apply "+zab.FormatZxid(e.Zxid))
		}
	}
	for _, t := range rd.SyncDone {
		out = append(out, "5. sync done "+string(t))
	}
	return out
}

// scenarioLogLevel: protocol logs in -v runs only, so that a failing
// scenario shows its diff, not pages of logs.
func scenarioLogLevel() hclog.Level {
	if testing.Verbose() {
		return hclog.Debug
	}
	return hclog.Error
}
