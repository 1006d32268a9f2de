// Package tests holds zoogate's real-client compatibility tests: a
// differential test that runs seeded random workloads from several
// go-zookeeper sessions in lockstep against Apache ZooKeeper 3.8.0 (the
// reference) and an in-process zoogate server, comparing every reply and
// every watch event; and Go wrappers that check the Kazoo and zkCli.sh
// scripts (tests/kazoo, tests/zkcli) against ZooKeeper itself, so their
// expectations are ZooKeeper's real answers.
//
// The package has no library code: everything lives in _test.go files.
// It imports core/server (the system under test) and client libraries; it
// must never be imported by anything, and it must never import cmd, bridge,
// wan or topology.
package tests
