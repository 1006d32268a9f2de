// Package zab is the ZooKeeper Atomic Broadcast protocol (fast leader
// election, discovery, synchronization and broadcast, plus the observing
// learner) written as a deterministic state machine in the style of etcd's
// raft package.
//
// # What it owns
//
// The protocol's decisions: who leads, which epoch, how a learner is brought
// up to date (DIFF, TRUNC, TRUNC+DIFF or SNAP, decided on the full
// (epoch, zxid) history), which transactions are committed, and in what
// order. Transactions and snapshots are opaque bytes; the package never looks
// inside them.
//
// # What it must never do or import
//
// No goroutines, no clock (time.Now), no sleeping, no network, no files, no
// os, no math/rand globals (a seeded *rand.Rand is injected through Config),
// and no zoogate package: only the standard library and go-hclog. Time is the
// number of Tick calls; input is Step; output is a Ready batch.
//
// # Learners and their upstream
//
// Serving learners is one component, the learner master
// (learner_master.go, learner_sync.go): per learner stream, the sync
// decision and stream, the fan-out of commits (COMMIT to followers, INFORM
// to observers), pings and silence limits, and the sync() answers owed. A
// leader owns one; so does a learner configured with ServeLearners (a relay,
// relay.go), which serves its observers from its own log and snapshot what
// it has committed, and passes their writes and sync() calls upstream.
//
// A voter finds its leader by election. A non-voter either does too, or
// follows a configured upstream (Config.Upstream) or one a live view
// supplies (SetUpstream), without an election. Timing limits are per link
// (Config.PeerLimits): a WAN link is given longer ones than the LAN.
// Status reports a learner's upstream, when it was last heard from, and
// how far behind it is; Learners lists the streams a node serves.
//
// # Driving a Node
//
// core/replica.Executor is the production driver. A driver owns one
// goroutine that is the only caller of a Node:
//
//	for {
//	    select {
//	    case <-ticker:      node.Tick()
//	    case m := <-inbox:  node.Step(m)
//	    case broken peer:   node.Disconnected(peer)
//	    }
//	    for node.HasReady() {
//	        rd := node.Ready()
//	        // 1. rd.Truncate / rd.Snapshot: truncate the log after
//	        //    rd.TruncateAfter, or install rd.Snapshot; durably.
//	        // 2. append rd.Entries to the log; durably (fsync).
//	        // 3. persist rd.HardState (acceptedEpoch, currentEpoch); durably.
//	        // 4. only now send rd.Messages, then close the rd.Disconnect
//	        //    streams.
//	        // 5. apply rd.Committed to the state machine in order, then
//	        //    report rd.SyncDone to the waiting clients.
//	        node.Advance(rd)
//	    }
//	}
//
// The order is the protocol's durability contract and several of
// ZooKeeper's data-loss bugs were violations of it (ZOOKEEPER-3642,
// 3911/4646, 4643): a follower acknowledges NEWLEADER only in a message of
// step 4, after the synced transactions (step 2) and then the new
// currentEpoch (step 3) are on disk; a learner's ACK of a proposal is only
// sent after the proposal is durable; a received snapshot is installed
// durably (step 1) before anything acknowledges it. The core relies on this
// order instead of tracking durability itself, so a driver that sends before
// persisting breaks ZAB's guarantees.
//
// Between Ready and Advance the driver must not call any other method of the
// Node (Step, Tick, Propose... return ErrReadyOutstanding, Tick panics).
//
// # Streams
//
// Peers talk over one ordered stream per pair of servers (TCP in production):
// ZAB depends on it. When a stream breaks, the driver must call
// Disconnected(peer) before delivering any message from a new stream with
// that peer; a learner then resynchronizes from scratch and never skips.
//
// # Snapshots and the state machine
//
// The state machine only ever sees committed transactions (Ready.Committed),
// so a snapshot of it never contains an uncommitted transaction
// (ZOOKEEPER-1549). A driver restarting builds its state from the latest
// snapshot plus the log up to the last zxid it applied, and passes that zxid
// as Config.LastCommittedZxid; entries logged after it are replayed only when
// a leader commits them again.
package zab
