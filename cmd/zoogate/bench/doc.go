// Package bench is `zoogate bench`: a load generator and failover timer that
// speaks the ZooKeeper client protocol (through github.com/go-zookeeper/zk),
// so it measures any ZooKeeper-compatible servers: zoogate, Apache ZooKeeper,
// or anything else that answers on a client port.
//
// It owns:
//   - the load generator (`zoogate bench --mode mixed|create-delete|ephemeral|watch`),
//     with pipelined requests per session, a warm-up phase, a live progress
//     line and a text or JSON report of throughput, latency percentiles per
//     operation type and errors by kind;
//   - `zoogate bench failover`, which keeps writing while a user-given command
//     kills a server, and reports how long writes were unavailable;
//   - small helpers used by scripts/bench.sh: `populate` (many znodes),
//     `wait` (time until servers answer), `fsync` (raw fsync rate of a disk);
//   - Histogram, a small HDR-style log-bucket latency histogram.
//
// The entry point is Main(args, stdout, stderr), wired by cmd/zoogate as
// `zoogate bench ...`.
//
// bench is a pure client: it must never import zoogate's server packages
// (core/..., storage/..., bridge/..., wan/..., topology/...). Everything it
// knows about a server it learns over the wire.
package bench
