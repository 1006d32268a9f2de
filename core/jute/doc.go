// Package jute implements the binary encoding that ZooKeeper's wire protocol
// and transaction log use (Apache Jute): big-endian integers, length-prefixed
// strings, buffers and vectors, with -1 as the length of a null value.
//
// It owns only the primitive encoding. The records built from these
// primitives live in core/proto (client protocol) and core/txn
// (transactions).
//
// This package imports only the standard library. It must never import any
// other zoogate package.
package jute
