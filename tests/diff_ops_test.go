package tests

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// opKind names one client call of the differential workload.
type opKind string

const (
	opCreate          opKind = "create"
	opCreateContainer opKind = "createContainer"
	opCreateTTL       opKind = "createTTL"
	opDelete          opKind = "delete"
	opSetData         opKind = "setData"
	opGet             opKind = "getData"
	opExists          opKind = "exists"
	opChildren        opKind = "getChildren"
	opGetACL          opKind = "getACL"
	opSetACL          opKind = "setACL"
	opMulti           opKind = "multi"
	opSync            opKind = "sync"
	opAddAuth         opKind = "addAuth"
	opCloseSession    opKind = "closeSession"
)

// op is one step of the workload, run by session index sess (an index into
// the live sessions, resolved before the step runs).
type op struct {
	kind    opKind
	sess    int // session index (same on both sides)
	path    string
	data    []byte
	flags   int32
	version int32
	ttl     time.Duration
	acl     []zk.ACL
	aclName string
	watch   bool
	auth    string // addAuth: "user:password"
	multi   []multiOp
	// unchecked, when set, says why this op's reply is not compared (the
	// watch events it causes and the state it leaves still are).
	unchecked string
}

// multiOp is one sub-operation of a multi.
type multiOp struct {
	kind    opKind // create, delete, setData or "check"
	path    string
	data    []byte
	flags   int32
	version int32
	acl     []zk.ACL
	aclName string
}

func (o op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "session#%d %s", o.sess, o.kind)
	if o.path != "" {
		fmt.Fprintf(&b, " %s", o.path)
	}
	switch o.kind {
	case opCreate, opCreateContainer, opCreateTTL:
		fmt.Fprintf(&b, " data=%s flags=%d acl=%s", dataText(o.data), o.flags, o.aclName)
		if o.kind == opCreateTTL {
			fmt.Fprintf(&b, " ttl=%v", o.ttl)
		}
	case opDelete:
		fmt.Fprintf(&b, " version=%d", o.version)
	case opSetData:
		fmt.Fprintf(&b, " data=%s version=%d", dataText(o.data), o.version)
	case opSetACL:
		fmt.Fprintf(&b, " acl=%s version=%d", o.aclName, o.version)
	case opAddAuth:
		fmt.Fprintf(&b, " digest %s", o.auth)
	case opMulti:
		for _, m := range o.multi {
			fmt.Fprintf(&b, "\n      %s %s", m.kind, m.path)
			switch m.kind {
			case opCreate:
				fmt.Fprintf(&b, " data=%s flags=%d acl=%s", dataText(m.data), m.flags, m.aclName)
			case opSetData:
				fmt.Fprintf(&b, " data=%s version=%d", dataText(m.data), m.version)
			default:
				fmt.Fprintf(&b, " version=%d", m.version)
			}
		}
	}
	if o.watch {
		b.WriteString(" watch")
	}
	return b.String()
}

// Users of the digest scheme. "mallory" authenticates with a password that
// matches no ACL entry (digest auth itself always succeeds).
var digestUsers = []string{"alice:pw-alice", "bob:pw-bob", "mallory:wrong", superUser + ":" + superPassword}

// aclChoice is a named ACL list the workload uses in the ACL area; some are
// invalid on purpose (InvalidACL).
type aclChoice struct {
	name string
	acl  []zk.ACL
}

var aclChoices = []aclChoice{
	{"open", zk.WorldACL(zk.PermAll)},
	{"alice-all", zk.DigestACL(zk.PermAll, "alice", "pw-alice")},
	{"alice-all+world-read", append(zk.DigestACL(zk.PermAll, "alice", "pw-alice"), zk.WorldACL(zk.PermRead)...)},
	{"bob-rwa", zk.DigestACL(zk.PermRead|zk.PermWrite|zk.PermAdmin, "bob", "pw-bob")},
	{"world-read", zk.WorldACL(zk.PermRead)},
	{"world-rcd", zk.WorldACL(zk.PermRead | zk.PermCreate | zk.PermDelete)},
	{"world-admin", zk.WorldACL(zk.PermAdmin)},
	{"creator-all", zk.AuthACL(zk.PermAll)},
	{"alice-read+bob-all", append(zk.DigestACL(zk.PermRead, "alice", "pw-alice"), zk.DigestACL(zk.PermAll, "bob", "pw-bob")...)},
	{"ip-loopback-all", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}}},
	{"ip-other-net-all", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}}},
	{"duplicate-open", append(zk.WorldACL(zk.PermAll), zk.WorldACL(zk.PermAll)...)},
	{"invalid-digest-id", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "no-colon"}}},
	{"invalid-scheme", []zk.ACL{{Perms: zk.PermAll, Scheme: "nosuch", ID: "x"}}},
	{"invalid-world-id", []zk.ACL{{Perms: zk.PermAll, Scheme: "world", ID: "someone"}}},
	{"empty", []zk.ACL{}},
}

var openACL = aclChoices[0]

// The workload's namespace. Everything lives under root. Nodes under
// aclArea get restrictive digest/ip ACLs and setACL; everything else is
// always world:anyone ALL.
//
// No watch is ever set under aclArea: ZooKeeper 3.8.0 predates
// ZOOKEEPER-4799 (3.8.4/3.9.2), which filters watch events by the watcher's
// READ permission at delivery time, and zoogate implements that filter. A
// watch on a node whose ACL denies READ to the watcher would legitimately
// fire on 3.8.0 and not on zoogate, so watches stay on always-open nodes.
// For the same reason no exists is issued under aclArea: 3.8.0 also
// predates ZOOKEEPER-2590 (exists checks READ on an existing node), which
// zoogate implements.
const (
	root    = "/d"
	aclArea = root + "/acl"
)

var (
	level1 = []string{"a", "b", "c", "d"}
	level2 = []string{"a", "b", "c"}
	level3 = []string{"a", "b"}
	aclL1  = []string{"p", "q", "r"}
	aclL2  = []string{"s", "t"}
	// specialPaths exercises the built-in nodes and the root.
	specialPaths = []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", root}
)

// gen draws the workload from a seeded source. It knows the names the
// reference server returned for sequential creates, so later steps can
// target them; that keeps replays exact because ZooKeeper answers the same
// way for the same seed.
type gen struct {
	r     *rand.Rand
	known []string // sequential names created so far (most recent last)
	step  int
}

func newGen(seed int64) *gen { return &gen{r: rand.New(rand.NewSource(seed))} }

func (g *gen) pick(xs []string) string { return xs[g.r.Intn(len(xs))] }

// openPath returns a path in the open area, often one that exists.
func (g *gen) openPath() string {
	if len(g.known) > 0 && g.r.Intn(4) == 0 {
		return g.known[len(g.known)-1-g.r.Intn(min(len(g.known), 8))]
	}
	p := root + "/" + g.pick(level1)
	if g.r.Intn(3) > 0 {
		p += "/" + g.pick(level2)
		if g.r.Intn(3) == 0 {
			p += "/" + g.pick(level3)
		}
	}
	return p
}

func (g *gen) aclPath() string {
	p := aclArea + "/" + g.pick(aclL1)
	if g.r.Intn(2) == 0 {
		p += "/" + g.pick(aclL2)
	}
	return p
}

// path returns a path and whether it may carry a watch.
func (g *gen) path() (string, bool) {
	switch n := g.r.Intn(20); {
	case n < 5:
		return g.aclPath(), false
	case n == 5:
		return g.pick(specialPaths), true
	default:
		return g.openPath(), true
	}
}

func (g *gen) version() int32 { return int32(g.r.Intn(5)) - 1 } // -1..3

func (g *gen) data() []byte {
	switch g.r.Intn(6) {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		return []byte(fmt.Sprintf("v%d-%d", g.step, g.r.Intn(100)))
	}
}

// aclFor returns the ACL a create at path uses: open outside the ACL area.
func (g *gen) aclFor(path string) aclChoice {
	if strings.HasPrefix(path, aclArea+"/") && g.r.Intn(3) > 0 {
		return aclChoices[g.r.Intn(len(aclChoices))]
	}
	return openACL
}

func (g *gen) createFlags() int32 {
	switch n := g.r.Intn(10); {
	case n < 4:
		return zk.FlagPersistent
	case n < 6:
		return zk.FlagEphemeral
	case n < 8:
		return zk.FlagSequence
	default:
		return zk.FlagEphemeralSequential
	}
}

// next draws the op for step; live lists the session indexes still open.
func (g *gen) next(step int, live []int) op {
	g.step = step
	o := op{sess: live[g.r.Intn(len(live))]}
	path, watchable := g.path()
	o.path = path
	switch n := g.r.Intn(100); {
	case n < 20:
		o.kind, o.flags, o.data = opCreate, g.createFlags(), g.data()
	case n < 23:
		o.kind, o.flags, o.data = opCreateContainer, zk.FlagContainer, g.data()
	case n < 26:
		o.kind, o.data = opCreateTTL, g.data()
		o.flags = zk.FlagTTL
		if g.r.Intn(2) == 0 {
			o.flags = zk.FlagPersistentSequentialWithTTL
		}
		o.ttl = time.Hour
		if g.r.Intn(8) == 0 {
			o.ttl = 0 // BadArguments
		}
	case n < 38:
		o.kind, o.version = opDelete, g.version()
	case n < 48:
		o.kind, o.data, o.version = opSetData, g.data(), g.version()
	case n < 57:
		o.kind = opGet
	case n < 66:
		o.kind = opExists
	case n < 75:
		o.kind = opChildren
	case n < 79:
		o.kind = opGetACL
	case n < 85:
		o.kind, o.version = opSetACL, int32(g.r.Intn(3))-1
		if !strings.HasPrefix(o.path, aclArea+"/") {
			o.path = g.aclPath()
		}
		c := aclChoices[g.r.Intn(len(aclChoices))]
		o.acl, o.aclName = c.acl, c.name
	case n < 94:
		o.kind, o.path, watchable = opMulti, "", false
		o.multi = g.multi()
	case n < 96:
		o.kind = opSync
	case n < 98:
		o.kind, o.path, watchable = opAddAuth, "", false
		o.auth = g.pick(digestUsers)
	default:
		o.kind, o.path, watchable = opCloseSession, "", false
	}
	switch o.kind {
	case opCreate, opCreateContainer, opCreateTTL:
		c := g.aclFor(o.path)
		o.acl, o.aclName = c.acl, c.name
	case opGet, opExists, opChildren:
		o.watch = watchable && g.r.Intn(2) == 0
	}
	if o.kind == opExists && strings.HasPrefix(o.path, aclArea+"/") {
		o.path = g.openPath() // ZOOKEEPER-2590, see aclArea
	}
	return o
}

// multi draws 1..4 sub-operations. A third of them build a fresh subtree
// (create then create child), which usually succeeds.
func (g *gen) multi() []multiOp {
	var ops []multiOp
	if g.r.Intn(3) == 0 {
		p := g.openPath()
		ops = append(ops,
			multiOp{kind: opCreate, path: p, data: g.data(), acl: openACL.acl, aclName: openACL.name},
			multiOp{kind: opCreate, path: p + "/m", data: g.data(), flags: g.createFlags(), acl: openACL.acl, aclName: openACL.name})
	}
	for n := 1 + g.r.Intn(3); n > 0; n-- {
		p, _ := g.path()
		m := multiOp{path: p, version: g.version()}
		switch g.r.Intn(4) {
		case 0:
			m.kind, m.data, m.flags = opCreate, g.data(), g.createFlags()
			if g.r.Intn(20) == 0 {
				m.flags = 7 // no such CreateMode: BadArguments
			}
			c := g.aclFor(p)
			m.acl, m.aclName = c.acl, c.name
		case 1:
			m.kind = opDelete
		case 2:
			m.kind, m.data = opSetData, g.data()
		default:
			m.kind = "check"
		}
		ops = append(ops, m)
	}
	return ops
}

// learn records names the reference server created outside the ACL area
// (sequential names especially), so later steps can target them.
func (g *gen) learn(names []string) {
	for _, n := range names {
		if !strings.HasPrefix(n, root+"/") || strings.HasPrefix(n, aclArea) {
			continue
		}
		g.known = append(g.known, n)
		if len(g.known) > 64 {
			g.known = g.known[1:]
		}
	}
}

// sortedCopy returns a sorted copy of xs.
func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
