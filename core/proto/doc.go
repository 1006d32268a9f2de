// Package proto holds the ZooKeeper client protocol vocabulary: opcodes,
// error codes and their mapping to zoogate's typed errors, and the request and
// response records with their jute encodings, exactly as
// shared/reference/zk-client-protocol.md describes them.
//
// It imports only core/jute and the standard library; it must never import
// the server, the tree, storage or anything outside core.
package proto
