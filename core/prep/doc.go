// Package prep is the leader's prep step: it validates a write request
// against the data tree plus every transaction prepared but not yet applied
// (the outstanding changes), and turns it into a deterministic, idempotent
// transaction (sequence suffix chosen, versions computed, ACLs fixed up) or
// an error transaction. Checks run in ZooKeeper's order so that error codes
// match Apache ZooKeeper's exactly.
//
// Prep is single-threaded: one goroutine (the leader's sequencer) calls it.
// It reads the tree through the Reader interface, under the server's lock.
//
// It imports core/proto, core/txn, core/tree and core/acl; never the server,
// ZAB, storage or anything outside core.
package prep
