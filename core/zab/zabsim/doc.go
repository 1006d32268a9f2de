// Package zabsim is a deterministic simulation harness for core/zab: real
// zab.Nodes wired to an in-memory network (one FIFO stream per pair of
// servers, as TCP, with delays, broken streams and partitions) and to an
// in-memory disk per server that keeps only what the driver made durable, so
// a crash loses exactly the un-persisted state. A seeded schedule of client
// proposals, crashes (also in the middle of executing a Ready), restarts,
// partitions, heals and log compactions runs against it while invariants are
// checked after every step.
//
// Besides voters and observers, a cluster may have relays (non-voters with
// ServeLearners, Options.Relays) and observers that follow a relay without
// an election (Options.Upstreams); a live view may move an observer to
// another relay, to the leader or back to the election (SetUpstream). The
// invariants hold the non-voters to what the voters committed: whatever a
// non-voter applies is already in the committed sequence, in its place; a
// leader commits only what a quorum of voters holds durably, whatever
// observers and relays hold; and at the end of a run every non-voter has
// applied the same committed sequence, served by the server it follows.
//
// Each simulated server executes its Readies like a driver, in one of two
// orders (Order): the strict order of zab.Ready's doc, or the relaxed one
// production uses in the broadcast phase (core/replica's Executor: early
// sends and applies before the persist). Crashes can land between any two steps of
// either, including between the early work and the persist, and a crashed
// server's last messages may still be delivered (a process crash).
//
// It is test support: it imports core/zab, the standard library and
// go-hclog, never anything else of zoogate, and nothing outside tests
// should import it. It has no goroutines, no clock and no global randomness.
package zabsim
