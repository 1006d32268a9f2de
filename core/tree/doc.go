// Package tree is the ZooKeeper data tree: znodes with their data, ACLs and
// Stat, the session table, and the indexes a server needs (ephemerals per
// session, container and TTL nodes). The tree changes only by applying
// transactions (core/txn) in zxid order; every replica that applies the same
// transactions holds the same tree, which Digest lets tests verify.
//
// Apply reports which watch triggers a transaction fired (Event); deciding
// who receives them is the server's job.
//
// A Tree is not safe for concurrent use; the server guards it.
// It imports core/proto, core/txn and core/jute; never the server, ZAB or
// storage.
package tree
