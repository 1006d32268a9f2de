package zabsim

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/zoogate/zoogate/core/zab"
)

// Options shape a simulated cluster.
type Options struct {
	Voters    []uint64
	Observers []uint64
	// Relays are non-voters with Config.ServeLearners: they find the
	// leader by election (or follow Upstreams[id]) and serve observers of
	// their own from their own log and snapshot.
	Relays []uint64
	// Upstreams gives a non-voter the server it follows without an
	// election (Config.Upstream): a relay, usually. A server restarts with
	// this upstream whatever SetUpstream chose since.
	Upstreams map[uint64]uint64
	// VotersServe gives the voters Config.ServeLearners: a relay whose
	// Upstreams entry is a voter is then served by that voter while it
	// follows (ZooKeeper's ObserverMaster), or by the leader.
	VotersServe   bool
	InitLimit     int
	SyncLimit     int
	ElectionTicks int
	FinalizeTicks int
	MaxCounter    int64
	Seed          int64
	// Logger receives the nodes' protocol logs (nil: none).
	Logger hclog.Logger
	// Manual: no delays; messages are delivered in send order by Stabilize
	// or Deliver. Random schedules use delays up to MaxDelay micro-steps.
	Manual   bool
	MaxDelay int64
	// MaxNoticeDelay bounds how long a broken stream takes to be noticed.
	MaxNoticeDelay int64
	// LazyCommitMark: persist the applied mark only sometimes.
	LazyCommitMark bool
	// CrashDelivers is the probability that what a crashing server had
	// already sent on a stream is still delivered (a process crash: the
	// kernel flushes it); otherwise it is lost with the crash.
	CrashDelivers float64
	// Order is how the servers' drivers order a Ready (OrderStrict: the
	// order of zab.Ready's doc); Orders overrides it per server.
	Order  Order
	Orders map[uint64]Order
}

// Server is one simulated server: a zab.Node (nil while crashed), its disk,
// and its in-memory state machine.
type Server struct {
	ID      uint64
	Node    *zab.Node
	Disk    *Disk
	Applied []zab.Entry
	Soft    zab.SoftState
	// Order is how this server's driver orders a Ready.
	Order Order
	// Relay: a non-voter that serves observers (Config.ServeLearners).
	Relay bool
	// Upstream is the configured upstream (Config.Upstream; 0: the leader
	// the election finds); upstream the one it follows now (SetUpstream).
	Upstream uint64
	upstream uint64
	// SyncWant maps a pending sync token to the txns acknowledged to
	// clients when the sync was issued.
	syncWant map[string][]int64
	restarts int
}

// Up reports whether the server is running.
func (s *Server) Up() bool { return s.Node != nil }

// Cut is where a crash interrupts the execution of a Ready.
type Cut int

const (
	CutNone           Cut = iota // crash before executing anything
	CutAfterSnapshot             // after step 1 (truncate/snapshot)
	CutMidEntries                // after part of step 2
	CutAfterEntries              // after step 2
	CutAfterHardState            // after step 3
	CutMidMessages               // after part of step 4
	// A relaxed driver's early work in a plain Ready (OrderRelaxed), done
	// before step 1; in any other Ready these are CutNone.
	CutMidEarly   // after part of the early sends, before the early applies
	CutAfterEarly // after the early sends and applies, before step 1
	cutCount
)

var cutNames = []string{"none", "after-snapshot", "mid-entries", "after-entries", "after-hardstate", "mid-messages",
	"mid-early", "after-early"}

func (c Cut) String() string { return cutNames[c] }

// ParseCut parses a Cut name.
func ParseCut(s string) (Cut, bool) {
	i := slices.Index(cutNames, s)
	return Cut(i), i >= 0
}

// Cluster is the simulated system.
type Cluster struct {
	opts    Options
	rng     *rand.Rand
	now     int64 // micro-steps
	net     *network
	servers map[uint64]*Server
	ids     []uint64
	chk     *checker
	trace   []string
	// OnEvent, when set, is called with a line for every notable event
	// (scenario tests print some of them).
	OnEvent func(kind string, line string)
	// OnDeliver, when set, sees every message as it is delivered.
	OnDeliver func(m zab.Message)
	delivered map[zab.MessageType]int
	// relayDelivered counts the messages delivered from relays, by type.
	relayDelivered map[zab.MessageType]int
	// moves counts SetUpstream calls that changed an upstream.
	moves int
	// followerInforms counts INFORMs a following voter sent (VotersServe).
	followerInforms int
	// OnReady, when set, sees every Ready before it is executed.
	OnReady func(id uint64, rd zab.Ready)
	// Hold leaves the receiver's Ready pending after a delivery, and the
	// proposer's after Propose (scenarios then crash it in the middle of
	// executing that Ready).
	Hold  bool
	stats orderStats
	// crashInReady, when set, is asked before each Ready is executed
	// (outside Crash) whether the server crashes in its middle, and at
	// which cut (-1: no crash). Random schedules use it.
	crashInReady func(id uint64, rd zab.Ready) Cut
}

// orderStats counts what the relaxed order did, to show that a run
// exercised it.
type orderStats struct {
	earlyReadies         int // Readies with early sends or applies
	earlyCrashes         int // crashes after early work, before the persist
	earlyProposalCrashes int // ... of which after sending proposals
	earlyApplyCrashes    int // ... of which after applying
}

// NewCluster builds and starts every server.
func NewCluster(opts Options) *Cluster {
	if opts.InitLimit == 0 {
		opts.InitLimit = 10
	}
	if opts.SyncLimit == 0 {
		opts.SyncLimit = 5
	}
	if opts.ElectionTicks == 0 {
		opts.ElectionTicks = 2
	}
	if opts.MaxCounter == 0 {
		opts.MaxCounter = zab.DefaultMaxCounter
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	c := &Cluster{
		opts:           opts,
		rng:            rand.New(rand.NewSource(opts.Seed)),
		net:            newNetwork(),
		servers:        map[uint64]*Server{},
		delivered:      map[zab.MessageType]int{},
		relayDelivered: map[zab.MessageType]int{},
	}
	c.ids = append(append(append([]uint64(nil), opts.Voters...), opts.Observers...), opts.Relays...)
	slices.Sort(c.ids)
	c.chk = newChecker(c)
	for _, id := range c.ids {
		o := opts.Order
		if po, ok := opts.Orders[id]; ok {
			o = po
		}
		c.servers[id] = &Server{ID: id, Disk: NewDisk(), Order: o, syncWant: map[string][]int64{},
			Relay: slices.Contains(opts.Relays, id), Upstream: opts.Upstreams[id]}
		c.chk.voter[id] = slices.Contains(opts.Voters, id)
	}
	for _, id := range c.ids {
		if err := c.start(id); err != nil {
			c.chk.fail("start %d: %v", id, err)
		}
	}
	return c
}

// IDs returns all server ids, sorted.
func (c *Cluster) IDs() []uint64 { return c.ids }

// Server returns a server.
func (c *Cluster) Server(id uint64) *Server { return c.servers[id] }

// Now returns the simulated time in micro-steps.
func (c *Cluster) Now() int64 { return c.now }

// Err returns the first invariant violation, if any.
func (c *Cluster) Err() error { return c.chk.err }

// Trace returns the last n trace lines.
func (c *Cluster) Trace(n int) []string {
	if len(c.trace) > n {
		return c.trace[len(c.trace)-n:]
	}
	return c.trace
}

func (c *Cluster) tracef(kind, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.trace = append(c.trace, fmt.Sprintf("[t=%d] %s", c.now, line))
	if len(c.trace) > 4000 {
		c.trace = append([]string(nil), c.trace[2000:]...)
	}
	if c.OnEvent != nil {
		c.OnEvent(kind, line)
	}
}

func (c *Cluster) alive(id uint64) bool { s := c.servers[id]; return s != nil && s.Up() }

func (c *Cluster) delay() int64 {
	if c.opts.Manual || c.opts.MaxDelay <= 0 {
		return 0
	}
	return 1 + c.rng.Int63n(c.opts.MaxDelay)
}

func (c *Cluster) noticeAt() int64 {
	if c.opts.Manual || c.opts.MaxNoticeDelay <= 0 {
		return c.now
	}
	return c.now + 1 + c.rng.Int63n(c.opts.MaxNoticeDelay)
}

func (c *Cluster) crashDelivers() bool {
	p := c.opts.CrashDelivers
	return p >= 1 || p > 0 && c.rng.Float64() < p
}

// SetCrashDelivers changes Options.CrashDelivers.
func (c *Cluster) SetCrashDelivers(p float64) { c.opts.CrashDelivers = p }

// start builds a node from the server's disk, as a restarted process would.
func (c *Cluster) start(id uint64) error {
	s := c.servers[id]
	d := s.Disk
	// Rebuild the state machine: the snapshot plus the log up to the
	// persisted applied mark. Later entries wait for a leader's COMMIT.
	snap, _ := d.Snapshot()
	applied := decodeState(snap.Data)
	mark := max(d.CommitMark, snap.Zxid)
	ents, err := d.Entries(snap.Zxid, mark)
	if err != nil {
		return err
	}
	applied = append(applied, ents...)
	cfg := zab.DefaultConfig()
	cfg.ID = id
	cfg.Voters = c.opts.Voters
	cfg.InitLimit, cfg.SyncLimit = c.opts.InitLimit, c.opts.SyncLimit
	cfg.ElectionTicks, cfg.FinalizeTicks = c.opts.ElectionTicks, c.opts.FinalizeTicks
	cfg.MaxCounter = c.opts.MaxCounter
	cfg.Upstream, cfg.ServeLearners = s.Upstream, s.Relay || (c.chk.voter[id] && c.opts.VotersServe)
	cfg.Rand = rand.New(rand.NewSource(c.rng.Int63()))
	cfg.Logger = c.opts.Logger.With("sim", "node")
	cfg.Log = d
	cfg.AcceptedEpoch, cfg.CurrentEpoch = d.AcceptedEpoch, d.CurrentEpoch
	cfg.LastCommittedZxid = mark
	n, err := zab.New(cfg)
	if err != nil {
		return err
	}
	s.Node = n
	s.Applied = applied
	s.upstream = s.Upstream
	s.Soft = zab.SoftState{}
	s.syncWant = map[string][]int64{}
	c.chk.reset(s)
	c.tracef("start", "%d started (accepted=%d current=%d last=%s applied=%s)", id, d.AcceptedEpoch,
		d.CurrentEpoch, zab.FormatZxid(d.LastZxid()), zab.FormatZxid(mark))
	c.processReady(id, -1)
	return nil
}

// Crash stops a server. When it has a Ready pending and cut >= 0, the Ready
// is executed up to cut first (a crash in the middle of persisting).
func (c *Cluster) Crash(id uint64, cut Cut) {
	s := c.servers[id]
	if !s.Up() {
		return
	}
	if s.Node.HasReady() {
		c.processReady(id, cut)
	}
	if s.Up() {
		c.kill(id)
	}
}

func (c *Cluster) kill(id uint64) {
	s := c.servers[id]
	s.Node = nil
	s.Applied = nil
	c.tracef("crash", "%d crashed", id)
	c.net.crashed(id, c.ids, c.noticeAt, c.alive, c.crashDelivers)
}

// SetUpstream has non-voter id follow server to without an election (0:
// the leader the election finds), as a driver does from a live view.
func (c *Cluster) SetUpstream(id, to uint64) error {
	s := c.servers[id]
	if !s.Up() {
		return fmt.Errorf("server %d is down", id)
	}
	if err := s.Node.SetUpstream(to); err != nil {
		return err
	}
	if s.upstream != to {
		c.moves++
		c.tracef("upstream", "%d now follows %s", id, upstreamName(to))
	}
	s.upstream = to
	c.processReady(id, -1)
	return nil
}

func upstreamName(id uint64) string {
	if id == 0 {
		return "the elected leader"
	}
	return fmt.Sprintf("%d", id)
}

// Restart starts a crashed server from its disk.
func (c *Cluster) Restart(id uint64) error {
	s := c.servers[id]
	if s.Up() {
		return nil
	}
	s.restarts++
	return c.start(id)
}

// Partition splits the servers into groups that cannot talk to each other.
// Servers not listed form their own group.
func (c *Cluster) Partition(groups ...[]uint64) {
	group := map[uint64]int{}
	for i, g := range groups {
		for _, id := range g {
			group[id] = i + 1
		}
	}
	c.net.blocked = map[pairKey]bool{}
	for i, a := range c.ids {
		for _, b := range c.ids[i+1:] {
			if group[a] != group[b] {
				c.net.blocked[keyOf(a, b)] = true
				c.net.breakPair(a, b, c.noticeAt, c.alive)
			}
		}
	}
	c.tracef("partition", "partition %v", groups)
}

// Heal removes every partition.
func (c *Cluster) Heal() {
	c.net.blocked = map[pairKey]bool{}
	c.tracef("partition", "healed")
}

// Mute silently drops everything between id and the others, without
// breaking streams (a hung peer): only timeouts notice. Unmute breaks the
// muted streams before traffic resumes, so nothing is skipped silently.
func (c *Cluster) Mute(id uint64) {
	for _, p := range c.ids {
		if p != id {
			c.net.muted[keyOf(id, p)] = true
			c.net.dropMessages(link{id, p})
			c.net.dropMessages(link{p, id})
		}
	}
	c.tracef("partition", "%d muted", id)
}

// Unmute ends every Mute.
func (c *Cluster) Unmute() {
	keys := make([]pairKey, 0, len(c.net.muted))
	for k := range c.net.muted {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pairKey) int {
		if a.a != b.a {
			return int(a.a) - int(b.a)
		}
		return int(a.b) - int(b.b)
	})
	c.net.muted = map[pairKey]bool{}
	for _, k := range keys {
		delete(c.net.broken, k)
		c.net.breakPair(k.a, k.b, c.noticeAt, c.alive)
	}
	c.tracef("partition", "unmuted")
}

// Disconnect breaks the stream between a and b.
func (c *Cluster) Disconnect(a, b uint64) {
	c.net.breakPair(a, b, c.noticeAt, c.alive)
	c.tracef("disconnect", "stream %d-%d broken", a, b)
}

// Inject queues a hand-made message as if from m.From.
func (c *Cluster) Inject(m zab.Message) {
	c.net.send(m, c.now, c.noticeAt, c.alive)
}

// Tick ticks the given servers (all running ones when none are given).
func (c *Cluster) Tick(ids ...uint64) {
	if len(ids) == 0 {
		ids = c.ids
	}
	for _, id := range ids {
		if s := c.servers[id]; s.Up() {
			s.Node.Tick()
			c.processReady(id, -1)
		}
	}
}

// Propose proposes data at server id; it returns the zxid or an error.
func (c *Cluster) Propose(id uint64, data []byte) (int64, error) {
	s := c.servers[id]
	if !s.Up() {
		return 0, fmt.Errorf("server %d is down", id)
	}
	z, err := s.Node.Propose(data)
	if err == nil {
		c.chk.proposed(id, z, data)
		c.tracef("propose", "%d proposed %s", id, zab.FormatZxid(z))
	}
	if !c.Hold {
		c.processReady(id, -1)
	}
	return z, err
}

// Sync issues a client sync() at server id.
func (c *Cluster) Sync(id uint64, token string) error {
	s := c.servers[id]
	if !s.Up() {
		return fmt.Errorf("server %d is down", id)
	}
	if err := s.Node.Sync([]byte(token)); err != nil {
		return err
	}
	s.syncWant[token] = c.chk.ackedZxids()
	c.tracef("sync-issued", "%d issued sync %q", id, token)
	c.processReady(id, -1)
	return nil
}

// Compact snapshots server id's state machine at what it applied and drops
// the log entries the snapshot covers.
func (c *Cluster) Compact(id uint64) error {
	s := c.servers[id]
	if !s.Up() || len(s.Applied) == 0 {
		return fmt.Errorf("server %d has nothing to compact", id)
	}
	z := s.Applied[len(s.Applied)-1].Zxid
	if z <= s.Disk.SnapshotZxid() {
		return fmt.Errorf("server %d: already compacted at %s", id, zab.FormatZxid(s.Disk.SnapshotZxid()))
	}
	if err := s.Disk.Log.Compact(zab.Snapshot{Zxid: z, Data: encodeState(s.Applied)}); err != nil {
		return err
	}
	s.Disk.CommitMark = max(s.Disk.CommitMark, z)
	c.tracef("compact", "%d compacted its log at %s", id, zab.FormatZxid(z))
	return nil
}

// DeliverOne delivers the next due message (lowest sequence number first in
// manual mode, a random due link otherwise). It reports false when nothing
// is due.
func (c *Cluster) DeliverOne() bool {
	due := c.net.due(c.now)
	if len(due) == 0 {
		return false
	}
	l := due[0]
	if !c.opts.Manual {
		l = due[c.rng.Intn(len(due))]
	}
	c.deliver(l)
	return true
}

// DeliverFrom delivers the head of the from->to stream, if any.
func (c *Cluster) DeliverFrom(from, to uint64) (zab.Message, bool) {
	l := link{from, to}
	q := c.net.queue(l)
	if len(q) == 0 {
		return zab.Message{}, false
	}
	e := q[0]
	c.deliver(l)
	return e.m, true
}

// Pending lists the messages in flight from->to.
func (c *Cluster) Pending(from, to uint64) []zab.Message {
	var out []zab.Message
	for _, e := range c.net.queue(link{from, to}) {
		if !e.notice {
			out = append(out, e.m)
		}
	}
	return out
}

func (c *Cluster) deliver(l link) {
	e := c.net.pop(l)
	s := c.servers[l.to]
	if !s.Up() {
		return
	}
	if e.notice {
		c.tracef("notice", "%d notices its stream with %d broke", l.to, l.from)
		if err := s.Node.Disconnected(l.from); err != nil {
			c.chk.fail("Disconnected: %v", err)
		}
	} else {
		c.delivered[e.m.Type]++
		if c.servers[e.m.From].Relay {
			c.relayDelivered[e.m.Type]++
		}
		if from := c.servers[e.m.From]; e.m.Type == zab.MsgInform && c.chk.voter[e.m.From] && from.Up() && from.Node.Status().Role == zab.Following {
			c.followerInforms++
		}
		if c.OnDeliver != nil {
			c.OnDeliver(e.m)
		}
		if err := s.Node.Step(e.m); err != nil {
			c.chk.fail("step %v: %v", e.m, err)
		}
	}
	if c.Hold {
		return
	}
	if c.opts.Manual || c.rng.Intn(3) > 0 {
		c.processReady(l.to, -1)
	}
}

// Stabilize delivers messages and executes Readies until nothing is left
// (manual mode; time does not advance).
func (c *Cluster) Stabilize() {
	for i := 0; i < 100000; i++ {
		c.ProcessAll()
		if !c.DeliverOne() {
			c.ProcessAll()
			if len(c.net.due(c.now)) == 0 {
				return
			}
		}
		if c.chk.err != nil {
			return
		}
	}
	c.chk.fail("Stabilize did not settle")
}

// ProcessAll executes every pending Ready.
func (c *Cluster) ProcessAll() {
	for _, id := range c.ids {
		c.processReady(id, -1)
	}
}

// processReady executes the server's Readies like a driver would. With
// cut >= 0 it stops at cut and crashes the server.
func (c *Cluster) processReady(id uint64, cut Cut) {
	s := c.servers[id]
	for s.Up() && s.Node.HasReady() {
		rd := s.Node.Ready()
		c.chk.handedOut(s, rd)
		if c.OnReady != nil {
			c.OnReady(id, rd)
		}
		at := cut
		if at < 0 && c.crashInReady != nil {
			at = c.crashInReady(id, rd)
		}
		if !c.execute(s, rd, at) {
			c.kill(id)
			return
		}
		s.Node.Advance(rd)
		c.chk.afterReady(s, rd)
		if cut >= 0 {
			return
		}
	}
}

// Leaders returns the servers that are established leaders, by epoch.
func (c *Cluster) Leaders() []uint64 {
	var out []uint64
	for _, id := range c.ids {
		if s := c.servers[id]; s.Up() && s.Node.Status().Established > 0 {
			out = append(out, id)
		}
	}
	return out
}

// StatusLine is a compact one-line status of a server.
func (c *Cluster) StatusLine(id uint64) string {
	s := c.servers[id]
	if !s.Up() {
		return fmt.Sprintf("%d: down (disk: accepted=%d current=%d last=%s)", id, s.Disk.AcceptedEpoch,
			s.Disk.CurrentEpoch, zab.FormatZxid(s.Disk.LastZxid()))
	}
	st := s.Node.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%d: %s", id, st.Role)
	if st.Leader != 0 && st.Role != zab.Leading {
		fmt.Fprintf(&b, " leader=%d", st.Leader)
	}
	fmt.Fprintf(&b, " phase=%s accepted=%d current=%d last=%s committed=%s applied=%d",
		st.Phase, st.AcceptedEpoch, st.CurrentEpoch, zab.FormatZxid(st.LastLogged),
		zab.FormatZxid(st.Committed), len(s.Applied))
	if st.Serving {
		b.WriteString(" serving")
	}
	if s.Relay {
		var up []string
		for _, l := range s.Node.Learners() {
			up = append(up, fmt.Sprintf("%d:%s", l.ID, l.State))
		}
		fmt.Fprintf(&b, " relay learners=[%s]", strings.Join(up, " "))
	}
	return b.String()
}
