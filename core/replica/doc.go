// Package replica executes the batches of work (zab.Ready) of a ZAB node for
// any kind of server that replicates the log: a voter today, an observer or
// a relay next. It owns the durability order of core/zab/doc.go and the two
// relaxations of zab.Ready that production uses, and nothing else.
//
// # What it owns
//
// Executor: given a zab.Node and four small interfaces (the way
// hashicorp/raft's constructor takes a log store, a snapshot store and a
// transport), it delivers transport events to the node and executes every
// Ready:
//
//   - Storage persists steps 1-3 (snapshot or truncation, entries, epochs),
//     each durable before it returns, and is the zab.LogReader the node
//     reads through;
//   - Transport (core/peer) sends step 4's messages and closes streams;
//   - Applier applies step 5's committed entries to the state machine, and
//     loads a snapshot received from the upstream;
//   - Notifier tells the client side what it must know: sync() answers,
//     role changes, requests forwarded by learners, session touches, and a
//     storage failure.
//
// DiskStorage is the Storage of a server with a data directory: the
// transaction log, the snapshot store and the two epoch files of package
// storage, plus an in-memory mirror of the entries since the last snapshot
// (what DIFF streams from). A snapshot is handed to the node as a zab.Blob
// of its file, so that SNAP never reads it whole into memory.
//
// # What it must never import
//
// core/server (the client side is reached only through Applier and
// Notifier), topology, bridge, wan or cmd. It may import core/zab,
// core/peer and storage.
package replica
