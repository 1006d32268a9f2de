// Package txn defines zoogate's transactions: the deterministic, idempotent
// records that the leader's prep step makes from client requests, that the
// transaction log stores and ZAB replicates, and that every replica applies
// to its data tree in zxid order.
//
// A transaction carries everything needed to apply it without looking at
// the request again (sequence suffix already chosen, new versions computed,
// ephemeral paths of a closing session listed), so that every replica ends
// with the same tree.
//
// The encoding is jute, in the spirit of ZooKeeper's TxnHeader + record, so
// `zoogate log dump` can show it. Type numbers are ZooKeeper opcodes, plus
// zoogate's internal types numbered from -1001 down (OpSessionSecret), and
// are append-only.
//
// It imports core/jute and core/proto only; never the tree, the server or
// storage.
package txn
