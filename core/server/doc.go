// Package server is a zoogate server's client side: the listener on the
// client port, connections speaking the ZooKeeper protocol, sessions and
// their expiry, the request pipeline (per-session FIFO, writes through the
// prep step and the committer, replies after apply), watches, ACL checks,
// four-letter words and the container/TTL reaper.
//
// It imports the other core packages and storage; never bridge, wan,
// topology or cmd.
package server
