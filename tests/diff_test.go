package tests

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

var (
	seedFlag  = flag.Int64("seed", 0, "TestDifferential, TestGeneratorIsDeterministic: run only this seed (replay)")
	stepsFlag = flag.Int("steps", 0, "TestDifferential: steps per seed (default 400; 2000 with ZOOGATE_LONG=1)")
)

// Differential test settings.
const (
	diffSessions     = 4               // live sessions per server at any time
	eventSettleLimit = 2 * time.Second // how long to wait for straggling watch events
	historyLen       = 12              // earlier steps shown with a mismatch
)

// TestDifferential runs seeded random workloads against Apache ZooKeeper
// 3.8.0 and zoogate in lockstep and compares every reply and watch event.
// Replay a failure with: go test ./tests -run 'TestDifferential$' -seed=N
func TestDifferential(t *testing.T) {
	requireZooKeeper(t)
	seeds, steps := []int64{1, 2, 3}, 400
	if os.Getenv("ZOOGATE_LONG") == "1" {
		steps = 2000
		for i := 0; i < 9; i++ {
			seeds = append(seeds, time.Now().UnixNano()%1_000_000_000+int64(i))
		}
	}
	if *seedFlag != 0 {
		seeds = []int64{*seedFlag}
	}
	if *stepsFlag > 0 {
		steps = *stepsFlag
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runDifferential(t, seed, steps)
		})
	}
}

// harness drives one seed: the reference side (ZooKeeper), the side under
// test (zoogate), the generator and the per-session event cursors.
type harness struct {
	t       *testing.T
	seed    int64
	steps   int
	ref     *side
	sut     *side
	gen     *gen
	live    []int    // open session indexes
	seen    [2][]int // per side, per session: events already compared
	history []string // recent steps, for the failure report
	soft    bool     // report mismatches with t.Errorf and go on
}

func runDifferential(t *testing.T, seed int64, steps int) {
	runDifferentialOn(t, seed, steps, startZoogateAddr)
}

// runDifferentialOn runs one seed against the zoogate that start returns
// the client address of (a standalone server, or a cluster member).
func runDifferentialOn(t *testing.T, seed int64, steps int, start func(testing.TB) string) {
	h := newHarnessOn(t, seed, steps, diffSessions, start)
	for step := 1; step <= steps; step++ {
		o := h.gen.next(step, h.live)
		h.doStep(step, o)
	}
	h.finish()
}

// newHarness starts a fresh ZooKeeper and a fresh zoogate, opens sessions
// sessions on each and creates the workload root.
func newHarness(t *testing.T, seed int64, steps, sessions int) *harness {
	return newHarnessOn(t, seed, steps, sessions, startZoogateAddr)
}

func startZoogateAddr(t testing.TB) string { return startZoogate(t).Addr().String() }

func newHarnessOn(t *testing.T, seed int64, steps, sessions int, start func(testing.TB) string) *harness {
	var z *zkServer
	var zerr error
	done := make(chan struct{})
	go func() { // the JVM is slow to start: overlap it with zoogate's start
		defer close(done)
		z, zerr = tryStartZooKeeper(t, defaultZKOptions())
	}()
	defer func() { <-done }() // also when startZoogate fails
	zg := start(t)
	<-done
	if zerr != nil {
		t.Fatalf("zookeeper did not start: %v", zerr)
	}
	h := &harness{t: t, seed: seed, steps: steps, ref: newSide("zookeeper", z.Addr), sut: newSide("zoogate", zg), gen: newGen(seed)}
	t.Cleanup(h.ref.closeAll)
	t.Cleanup(h.sut.closeAll)
	for i := 0; i < sessions; i++ {
		h.openSession()
	}
	h.setup()
	return h
}

// openSession opens the next session index on both sides.
func (h *harness) openSession() int {
	idx := len(h.ref.sess)
	for _, s := range []*side{h.ref, h.sut} {
		if _, err := s.open(); err != nil {
			h.t.Fatalf("seed=%d: open session#%d on %s: %v", h.seed, idx, s.name, err)
		}
	}
	h.live = append(h.live, idx)
	for i := range h.seen {
		h.seen[i] = append(h.seen[i], 0)
	}
	return idx
}

// setup creates the workload root and the ACL area on both sides and
// takes the root's czxid as the base zxids are shown against.
func (h *harness) setup() {
	for _, s := range []*side{h.ref, h.sut} {
		c := s.sess[0].conn
		for _, p := range []string{root, aclArea} {
			if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				h.t.Fatalf("seed=%d: setup create %s on %s: %v", h.seed, p, s.name, err)
			}
		}
		_, st, err := c.Exists(root)
		if err != nil {
			h.t.Fatalf("seed=%d: setup exists %s on %s: %v", h.seed, root, s.name, err)
		}
		s.base = st.Czxid
	}
}

// doStep runs one op on both sides at once and compares the replies and
// then the watch events.
func (h *harness) doStep(step int, o op) {
	var rr, sr reply
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rr = h.ref.run(o) }()
	go func() { defer wg.Done(); sr = h.sut.run(o) }()
	wg.Wait()
	if rr.text != sr.text && o.unchecked == "" {
		h.mismatch(step, o.String(), rr.text, sr.text)
	}
	h.remember(fmt.Sprintf("step %d: %s\n      -> %s", step, o, rr.text))
	h.gen.learn(rr.created)
	closed := -1
	if o.kind == opCloseSession {
		closed = o.sess
		for i, idx := range h.live {
			if idx == o.sess {
				h.live = append(h.live[:i], h.live[i+1:]...)
				break
			}
		}
	}
	h.settle(step, o, closed)
	if closed >= 0 {
		h.openSession()
	}
}

// settle makes the watch events of a step comparable, then compares them.
//
// After the op, every live session of each side issues one read. The
// server queued any notification this step caused for a connection before
// replying to the op, and a connection's frames leave in order, so once a
// session's read has been answered its events for this step have arrived.
// Should a server break that rule, the counts are polled until both sides
// agree or eventSettleLimit passes; the lists are compared either way.
func (h *harness) settle(step int, o op, closed int) {
	sides := []*side{h.ref, h.sut}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for si, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, idx := range h.live {
				if _, _, err := s.sess[idx].conn.Exists("/"); err != nil {
					errs[si] = fmt.Errorf("barrier read by session#%d: %w", idx, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for si, err := range errs {
		if err != nil {
			h.fail(step, o.String(), fmt.Sprintf("%s: %v", sides[si].name, err))
		}
	}
	watched := append([]int(nil), h.live...)
	if closed >= 0 {
		watched = append(watched, closed)
	}
	pending := func() bool {
		for _, idx := range watched {
			if h.ref.sess[idx].eventCount()-h.seen[0][idx] != h.sut.sess[idx].eventCount()-h.seen[1][idx] {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(eventSettleLimit); pending() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // poll interval of the event-count condition
	}
	for _, idx := range watched {
		re := eventsText(h.ref.sess[idx].eventsFrom(h.seen[0][idx]), closed >= 0)
		se := eventsText(h.sut.sess[idx].eventsFrom(h.seen[1][idx]), closed >= 0)
		if re != se {
			h.mismatch(step, fmt.Sprintf("%s\n    watch events of session#%d after it", o, idx), re, se)
		}
		if re != "[]" {
			h.remember(fmt.Sprintf("      session#%d events %s", idx, re))
		}
		h.seen[0][idx] = h.ref.sess[idx].eventCount()
		h.seen[1][idx] = h.sut.sess[idx].eventCount()
	}
	for _, s := range sides {
		for _, idx := range h.live {
			if tr := s.sess[idx].troubles(); len(tr) > 0 {
				h.fail(step, o.String(), fmt.Sprintf("%s session#%d lost its connection (states %v); the comparison is void", s.name, idx, tr))
			}
		}
	}
}

// eventsText renders events as "Type path" in arrival order. The events of
// a closeSession come from deleting the session's ephemerals, which
// ZooKeeper does in Java HashSet order; that order is no contract, so those
// are compared as a sorted multiset.
func eventsText(evs []zk.Event, unordered bool) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = e.Type.String() + " " + e.Path
	}
	if unordered {
		sort.Strings(parts)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// finish compares the whole tree (as super), closes every session one at a
// time (ephemerals vanish, watches fire) and compares the tree again.
func (h *harness) finish() {
	superIdx := h.openSession()
	for _, s := range []*side{h.ref, h.sut} {
		if err := s.sess[superIdx].conn.AddAuth("digest", []byte(superUser+":"+superPassword)); err != nil {
			h.t.Fatalf("seed=%d: super auth on %s: %v", h.seed, s.name, err)
		}
	}
	h.compareTrees("final tree", superIdx)
	step := h.steps
	for _, idx := range append([]int(nil), h.live...) {
		if idx == superIdx {
			continue
		}
		step++
		h.doStep(step, op{kind: opCloseSession, sess: idx})
	}
	h.compareTrees("tree after closing every session", superIdx)
}

func (h *harness) compareTrees(what string, superIdx int) {
	rt, rerr := h.ref.dumpTree(h.ref.sess[superIdx])
	st, serr := h.sut.dumpTree(h.sut.sess[superIdx])
	if rerr != nil {
		h.t.Fatalf("seed=%d: %s: dump zookeeper: %v", h.seed, what, rerr)
	}
	if serr != nil || rt != st {
		h.t.Fatalf("seed=%d: %s differs\n--- zookeeper\n%s--- zoogate (err=%v)\n%s%sreplay: go test ./tests -run 'TestDifferential$' -seed=%d -steps=%d",
			h.seed, what, rt, serr, st, lineDiff(rt, st), h.seed, h.steps)
	}
}

func (h *harness) remember(s string) {
	h.history = append(h.history, s)
	if len(h.history) > historyLen {
		h.history = h.history[len(h.history)-historyLen:]
	}
}

// mismatch fails the seed with everything needed to understand and replay.
func (h *harness) mismatch(step int, what, ref, sut string) {
	h.t.Helper()
	if h.soft {
		h.t.Errorf("differential mismatch at step %d\nop: %s\nzookeeper: %s\nzoogate:   %s", step, what, ref, sut)
		return
	}
	h.t.Fatalf("differential mismatch: seed=%d step=%d\nrecent steps (zookeeper's answers):\n  %s\nop: %s\nzookeeper: %s\nzoogate:   %s\nreplay: go test ./tests -run 'TestDifferential$' -seed=%d -steps=%d",
		h.seed, step, strings.Join(h.history, "\n  "), what, ref, sut, h.seed, h.steps)
}

// fail stops the seed for a reason other than differing answers.
func (h *harness) fail(step int, what, msg string) {
	h.t.Helper()
	h.t.Fatalf("differential run broken: seed=%d step=%d\nrecent steps (zookeeper's answers):\n  %s\nop: %s\nproblem: %s\nreplay: go test ./tests -run 'TestDifferential$' -seed=%d -steps=%d",
		h.seed, step, strings.Join(h.history, "\n  "), what, msg, h.seed, h.steps)
}

// lineDiff lists the lines present on one side only (a cheap diff).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := make(map[string]bool)
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	am, bm := in(a), in(b)
	var out strings.Builder
	out.WriteString("--- lines that differ\n")
	for _, l := range strings.Split(a, "\n") {
		if !bm[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !am[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}

// TestGeneratorIsDeterministic checks the replay promise: a seed always
// draws the same workload.
func TestGeneratorIsDeterministic(t *testing.T) {
	seed := rand.Int63()
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	draw := func() string {
		g := newGen(seed)
		var b strings.Builder
		for step := 1; step <= 200; step++ {
			o := g.next(step, []int{0, 1, 2, 3})
			b.WriteString(o.String() + "\n")
			if o.kind == opCreate {
				g.learn([]string{o.path + "0000000001"})
			}
		}
		return b.String()
	}
	if a, b := draw(), draw(); a != b {
		t.Fatalf("seed %d drew two different workloads (replay: go test ./tests -run 'TestGeneratorIsDeterministic$' -seed=%d)", seed, seed)
	}
}
