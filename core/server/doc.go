// Package server is one zoogate server: the listener on the client port,
// connections speaking the ZooKeeper protocol, sessions and their expiry,
// the request pipeline (per-session FIFO, writes through the prep step and
// the committer, replies after apply), watches, ACL checks, four-letter
// words and the container/TTL reaper; its disk (persist.go: the data and
// log directories, locked while it runs, recovery; snapshotter.go:
// snapshots and purging); and, for a member of a replicated ensemble, the
// driver around core/replica's executor (cluster*.go).
//
// It imports the other core packages and storage; never bridge, wan,
// topology or cmd.
package server
