// Package watch keeps the watches of every connection: one-shot data, exist
// and child watches, and persistent and persistent-recursive watches
// (addWatch). Given a trigger from the tree it returns the connections to
// notify, at most once each, removing the one-shot watches it fires.
//
// Watches belong to connections (identified by an opaque ID), not sessions:
// a reconnecting client restores them with setWatches.
//
// It imports core/proto only.
package watch
