package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Sessions of TestDifferentialEdgeCases: 0 has no auth, 1 is alice, 2 is
// bob, 3 is super.
const (
	sAnon = iota
	sAlice
	sBob
	sSuper
)

// edgeCase is a fixed sequence of ops compared step by step between
// ZooKeeper and zoogate, like the random workload but aimed at corners.
type edgeCase struct {
	name string
	ops  []op
}

func aclNamed(name string) aclChoice {
	for _, c := range aclChoices {
		if c.name == name {
			return c
		}
	}
	panic("no ACL choice " + name)
}

func eCreate(s int, p string, flags int32, aclName string) op {
	c := aclNamed(aclName)
	return op{kind: opCreate, sess: s, path: p, data: []byte("x"), flags: flags, acl: c.acl, aclName: c.name}
}
func eContainer(s int, p string) op {
	return op{kind: opCreateContainer, sess: s, path: p, flags: zk.FlagContainer, acl: openACL.acl, aclName: openACL.name}
}
func eTTL(s int, p string, flags int32, ttl time.Duration) op {
	return op{kind: opCreateTTL, sess: s, path: p, flags: flags, ttl: ttl, acl: openACL.acl, aclName: openACL.name}
}
func eDelete(s int, p string, v int32) op { return op{kind: opDelete, sess: s, path: p, version: v} }
func eSet(s int, p, data string, v int32) op {
	return op{kind: opSetData, sess: s, path: p, data: []byte(data), version: v}
}
func eGet(s int, p string, w bool) op      { return op{kind: opGet, sess: s, path: p, watch: w} }
func eExists(s int, p string, w bool) op   { return op{kind: opExists, sess: s, path: p, watch: w} }
func eChildren(s int, p string, w bool) op { return op{kind: opChildren, sess: s, path: p, watch: w} }
func eGetACL(s int, p string) op           { return op{kind: opGetACL, sess: s, path: p} }
func eSetACL(s int, p, aclName string, v int32) op {
	c := aclNamed(aclName)
	return op{kind: opSetACL, sess: s, path: p, acl: c.acl, aclName: c.name, version: v}
}
func unchecked(o op, why string) op   { o.unchecked = why; return o }
func eSync(s int, p string) op        { return op{kind: opSync, sess: s, path: p} }
func eMulti(s int, ops ...multiOp) op { return op{kind: opMulti, sess: s, multi: ops} }
func mCreate(p string, flags int32) multiOp {
	return multiOp{kind: opCreate, path: p, data: []byte("m"), flags: flags, acl: openACL.acl, aclName: openACL.name}
}
func mDelete(p string, v int32) multiOp { return multiOp{kind: opDelete, path: p, version: v} }
func mSet(p, data string, v int32) multiOp {
	return multiOp{kind: opSetData, path: p, data: []byte(data), version: v}
}
func mCheck(p string, v int32) multiOp { return multiOp{kind: "check", path: p, version: v} }

var edgeCases = []edgeCase{
	{"built-in nodes", []op{
		eGet(sAnon, "/", false), eChildren(sAnon, "/", false), eGetACL(sAnon, "/"),
		eGet(sAnon, "/zookeeper", false), eChildren(sAnon, "/zookeeper", false), eGetACL(sAnon, "/zookeeper"),
		eGet(sAnon, "/zookeeper/quota", false), eChildren(sAnon, "/zookeeper/quota", false),
		eGet(sAnon, "/zookeeper/config", false), eGetACL(sAnon, "/zookeeper/config"), eExists(sAnon, "/zookeeper/config", false),
	}},
	{"built-in nodes cannot change", []op{
		eCreate(sAnon, "/zookeeper", 0, "open"), eCreate(sAnon, "/zookeeper/config/x", 0, "open"),
		eDelete(sAnon, "/zookeeper", -1), eDelete(sAnon, "/zookeeper/config", -1), eDelete(sAnon, "/zookeeper/quota", -1),
		eDelete(sAnon, "/", -1), eCreate(sAnon, "/", 0, "open"),
		eSet(sAnon, "/zookeeper/config", "x", -1), eSet(sSuper, "/zookeeper/config", "x", -1),
		eSet(sAnon, "/zookeeper", "y", -1), eGet(sAnon, "/zookeeper", false),
	}},
	{"root as the parent", []op{
		eCreate(sAnon, "/r1", 0, "open"), eCreate(sAnon, "/", zk.FlagSequence, "open"),
		eCreate(sAnon, "/r", zk.FlagEphemeralSequential, "open"), eChildren(sAnon, "/", false),
		eMulti(sAnon, mCreate("/", zk.FlagSequence)), eMulti(sAnon, mCreate("/", 0)),
		eMulti(sAnon, mCreate("/r2", 0), mDelete("/r2", 0)), eDelete(sAnon, "/r1", -1), eGet(sAnon, "/", false),
	}},
	{"versions", []op{
		eCreate(sAnon, "/d/v", 0, "open"), eSet(sAnon, "/d/v", "a", 0), eSet(sAnon, "/d/v", "a", 0),
		eSet(sAnon, "/d/v", "a", 1), eSet(sAnon, "/d/v", "b", -1), eSet(sAnon, "/d/v", "c", -2),
		eDelete(sAnon, "/d/v", 0), eDelete(sAnon, "/d/v", -2), eDelete(sAnon, "/d/v", 3), eExists(sAnon, "/d/v", false),
	}},
	{"sequence numbers and cversion", []op{
		eCreate(sAnon, "/d/s", 0, "open"), eCreate(sAnon, "/d/s/n", zk.FlagSequence, "open"),
		eCreate(sAnon, "/d/s/", zk.FlagSequence, "open"), eCreate(sAnon, "/d/s/plain", 0, "open"),
		eDelete(sAnon, "/d/s/plain", -1), eCreate(sAnon, "/d/s/n", zk.FlagEphemeralSequential, "open"),
		eGet(sAnon, "/d/s", false), eChildren(sAnon, "/d/s", false),
	}},
	{"ephemerals", []op{
		eCreate(sAlice, "/d/eph", zk.FlagEphemeral, "open"), eCreate(sAnon, "/d/eph/child", 0, "open"),
		eCreate(sAnon, "/d/eph/seq", zk.FlagEphemeralSequential, "open"), eExists(sAnon, "/d/eph", false),
		eMulti(sAnon, mCreate("/d/eph/m", 0)),
	}},
	{"containers and TTL", []op{
		eContainer(sAnon, "/d/c"), eCreate(sAnon, "/d/c/k", 0, "open"), eDelete(sAnon, "/d/c/k", -1),
		eGet(sAnon, "/d/c", false), eCreate(sAnon, "/d/c/e", zk.FlagEphemeral, "open"),
		eTTL(sAnon, "/d/t", zk.FlagTTL, time.Hour), eGet(sAnon, "/d/t", false),
		eTTL(sAnon, "/d/ts", zk.FlagPersistentSequentialWithTTL, time.Minute), eChildren(sAnon, "/d", false),
		eTTL(sAnon, "/d/t0", zk.FlagTTL, 0), eTTL(sAnon, "/d/tneg", zk.FlagTTL, -time.Second),
		eTTL(sAnon, "/d/tbig", zk.FlagTTL, time.Duration(1<<40)*time.Millisecond),
		eTTL(sAnon, "/d/tmax", zk.FlagTTL, time.Duration(1<<40-1)*time.Millisecond),
		eCreate(sAnon, "/d/t/child", 0, "open"),
	}},
	{"multi success and failure", []op{
		eMulti(sAnon),
		eMulti(sAnon, mCreate("/d/m", 0), mCreate("/d/m/a", 0), mSet("/d/m", "z", 0), mCheck("/d/m", 1), mCheck("/d/m/a", -1)),
		eMulti(sAnon, mCreate("/d/m/b", 0), mDelete("/d/m/a", 5), mSet("/d/m", "q", -1)),
		eMulti(sAnon, mCheck("/d/nosuch", -1)), eMulti(sAnon, mCheck("/d/m", 7), mCreate("/d/m/c", 0)),
		eMulti(sAnon, mCreate("/d/m/c", 0), mDelete("/d/m/c", -1), mCreate("/d/m/c", zk.FlagSequence)),
		eMulti(sAnon, mDelete("/d/m/a", -1), mDelete("/d/m", -1)), eChildren(sAnon, "/d/m", false),
		eMulti(sAnon, mCreate("/d/m/e", zk.FlagEphemeral), mCreate("/d/m/e/x", 0)),
	}},
	// go-zookeeper and Kazoo put every create of a multi in a plain create
	// op (1), whatever the flags. For flag 4 ZooKeeper creates a container
	// and answers with a create2 result (15), which neither client can
	// decode (go-zk: "api error"); zoogate answers with a create result (1).
	// For the TTL flags ZooKeeper 3.8.0 fails the whole request with -5
	// through a ClassCastException (a ZooKeeper bug); zoogate answers
	// BadArguments for the op. Those replies are not compared; the nodes
	// they leave (or not) are.
	{"multi with container and TTL flags on a plain create", []op{
		unchecked(eMulti(sAnon, mCreate("/d/mc", zk.FlagContainer)), "ZooKeeper's create2 result breaks go-zk"),
		eGet(sAnon, "/d/mc", false),
		unchecked(eMulti(sAnon, mCreate("/d/mt", zk.FlagTTL)), "ZooKeeper 3.8.0 ClassCastException"),
		unchecked(eMulti(sAnon, mCreate("/d/mts", zk.FlagPersistentSequentialWithTTL)), "ZooKeeper 3.8.0 ClassCastException"),
		eExists(sAnon, "/d/mt", false), eChildren(sAnon, "/d", false),
		eMulti(sAnon, mCreate("/d/mbad", 7)),
	}},
	{"watches", []op{
		eExists(sAnon, "/d/w", true), eExists(sBob, "/d/w", true), eCreate(sAlice, "/d/w", 0, "open"),
		eGet(sAnon, "/d/w", true), eExists(sAnon, "/d/w", true), eSet(sAlice, "/d/w", "1", -1),
		eChildren(sAnon, "/d/w", true), eGet(sAnon, "/d/w", true), eCreate(sAlice, "/d/w/k", 0, "open"),
		eChildren(sAnon, "/d/w", true), eGet(sAnon, "/d/w", true), eExists(sBob, "/d/w/k", true),
		eDelete(sAlice, "/d/w/k", -1), eDelete(sAlice, "/d/w", -1),
		eGet(sAnon, "/d/w", true), eChildren(sAnon, "/d/w", true), eCreate(sAlice, "/d/w", 0, "open"),
		eSetACL(sAnon, "/d/w", "open", -1), eSync(sAnon, "/d/w"), eSync(sAnon, "/d/nosuch"),
	}},
	{"ACLs", []op{
		eCreate(sAnon, "/d/acl/c1", 0, "creator-all"), eCreate(sAlice, "/d/acl/c1", 0, "creator-all"),
		eGetACL(sAlice, "/d/acl/c1"), eGetACL(sAnon, "/d/acl/c1"), eGet(sAnon, "/d/acl/c1", false),
		eGet(sSuper, "/d/acl/c1", false), eSet(sBob, "/d/acl/c1", "b", -1), eSet(sAlice, "/d/acl/c1", "a", -1),
		eCreate(sAlice, "/d/acl/m", 0, "alice-read+bob-all"), eGetACL(sAlice, "/d/acl/m"), eGetACL(sBob, "/d/acl/m"),
		eGetACL(sAnon, "/d/acl/m"), eSetACL(sAlice, "/d/acl/m", "open", -1), eSetACL(sBob, "/d/acl/m", "bob-rwa", 3),
		eSetACL(sBob, "/d/acl/m", "bob-rwa", 0), eGetACL(sBob, "/d/acl/m"), eCreate(sBob, "/d/acl/m/k", 0, "open"),
		eDelete(sBob, "/d/acl/m", -1), eSetACL(sSuper, "/d/acl/m", "world-admin", -1), eGetACL(sAnon, "/d/acl/m"),
		eCreate(sAnon, "/d/acl/bad1", 0, "invalid-digest-id"), eCreate(sAnon, "/d/acl/bad2", 0, "invalid-scheme"),
		eCreate(sAnon, "/d/acl/bad3", 0, "invalid-world-id"), eCreate(sAnon, "/d/acl/bad4", 0, "empty"),
		eCreate(sAnon, "/d/acl/dup", 0, "duplicate-open"), eGetACL(sAnon, "/d/acl/dup"),
		eCreate(sAnon, "/d/acl/ip", 0, "ip-loopback-all"), eGet(sAnon, "/d/acl/ip", false),
		eCreate(sAnon, "/d/acl/ip2", 0, "ip-other-net-all"), eGet(sAnon, "/d/acl/ip2", false), eGet(sSuper, "/d/acl/ip2", false),
		eCreate(sAnon, "/d/acl/ro", 0, "world-read"), eCreate(sAnon, "/d/acl/ro/k", 0, "open"), eDelete(sAnon, "/d/acl/ro", -1),
		eMulti(sAnon, mCheck("/d/acl/c1", -1)), eMulti(sAnon, mSet("/d/acl/ro", "x", -1)),
		eExists(sAlice, "/d/acl/c1", false), eChildren(sAnon, "/d/acl/c1", false),
		// No exists by a session without READ: see aclArea (ZOOKEEPER-2590).
	}},
	{"names and sizes", []op{
		eCreate(sAnon, "/d/ünï €", 0, "open"), eChildren(sAnon, "/d", false), eGet(sAnon, "/d/ünï €", false),
		eCreate(sAnon, "/d/a b", 0, "open"), eDelete(sAnon, "/d/a b", -1), eDelete(sAnon, "/d/ünï €", -1),
		{kind: opCreate, sess: sAnon, path: "/d/big", data: make([]byte, 400<<10), acl: openACL.acl, aclName: openACL.name},
		eGet(sAnon, "/d/big", false), eSet(sAnon, "/d/big", "", -1), eGet(sAnon, "/d/big", false),
		{kind: opSetData, sess: sAnon, path: "/d/big", version: -1}, eGet(sAnon, "/d/big", false),
		{kind: opCreate, sess: sAnon, path: "/d/nil", acl: openACL.acl, aclName: openACL.name}, eGet(sAnon, "/d/nil", false),
	}},
	// A character outside the BMP: go-zk sends real UTF-8, Java decodes it
	// to a surrogate pair.
	{"supplementary characters", []op{
		eCreate(sAnon, "/d/emoji😀", 0, "open"), eChildren(sAnon, "/d", false), eGet(sAnon, "/d/emoji😀", false),
		eSet(sAnon, "/d/emoji😀", "e", -1), eDelete(sAnon, "/d/emoji😀", -1), eChildren(sAnon, "/d", false),
	}},
	{"events of a multi", []op{
		eCreate(sAnon, "/d/mw", 0, "open"), eExists(sBob, "/d/mw/a", true), eChildren(sBob, "/d/mw", true),
		eExists(sAnon, "/d/mw/b", true), eGet(sAnon, "/d/mw", true),
		eMulti(sAlice, mCreate("/d/mw/a", 0), mCreate("/d/mw/b", 0), mSet("/d/mw", "z", -1), mDelete("/d/mw/a", -1)),
		eGet(sBob, "/d/mw/b", true), eChildren(sBob, "/d/mw", true), eGet(sAnon, "/d/mw/b", true),
		eMulti(sAlice, mSet("/d/mw/b", "1", -1), mDelete("/d/mw/b", -1), mCheck("/d/mw", 5)),
		eMulti(sAlice, mSet("/d/mw/b", "1", -1), mDelete("/d/mw/b", -1)),
	}},
	// Keep last: it closes alice's session (index 1).
	{"closing a session", []op{
		eCreate(sAlice, "/d/ce", zk.FlagEphemeral, "open"), eCreate(sAlice, "/d/ce2", zk.FlagEphemeralSequential, "open"),
		eExists(sBob, "/d/ce", true), eChildren(sBob, "/d", true), eGet(sAlice, "/d/ce", true), eExists(sAnon, "/d/ce", true),
		{kind: opCloseSession, sess: sAlice},
		eExists(sBob, "/d/ce", false), eChildren(sAnon, "/d", false),
	}},
}

// TestDifferentialEdgeCases runs fixed corner-case sequences against both
// servers and reports every differing step (it does not stop at the first).
func TestDifferentialEdgeCases(t *testing.T) {
	requireZooKeeper(t)
	h := newHarness(t, 0, 0, 4)
	h.soft = true
	step := 0
	for i, u := range []string{"alice:pw-alice", "bob:pw-bob", superUser + ":" + superPassword} {
		step++
		h.doStep(step, op{kind: opAddAuth, sess: i + 1, auth: u})
	}
	parent := h.t
	for _, c := range edgeCases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			defer func() { h.t = parent }()
			for _, o := range c.ops {
				step++
				h.doStep(step, o)
			}
		})
	}
	h.t = parent
	if !t.Failed() {
		h.compareTrees("tree after the edge cases", sSuper)
	}
	t.Log(fmt.Sprintf("%d edge-case steps compared", step))
}
