package replica

import (
	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/zab"
)

// Storage makes a node's state durable: steps 1-3 of a zab.Ready. Every
// method returns only once what it wrote would survive a crash, and is
// called from the executor's goroutine only. It is also the node's
// zab.LogReader: after a method returns, the reader shows the change.
type Storage interface {
	zab.LogReader
	// InstallSnapshot makes snap the durable state: the snapshot first,
	// then every log entry goes (step 1, SNAP).
	InstallSnapshot(snap zab.Snapshot) error
	// TruncateAfter drops every log entry above zxid (step 1, TRUNC).
	TruncateAfter(zxid int64) error
	// Append logs entries after the last one (step 2).
	Append(ents []zab.Entry) error
	// SetHardState persists the two epochs (step 3).
	SetHardState(hs zab.HardState) error
}

// Transport carries messages to the other servers: core/peer's TCP
// transport, its in-memory twin, and later the WAN transport.
type Transport = peer.Transport

// Applier is the state machine.
type Applier interface {
	// Restore replaces the state with the snapshot Storage just installed
	// (SNAP from the upstream).
	Restore(snap zab.Snapshot) error
	// Apply applies one committed entry; entries come in zxid order, each
	// exactly once after the last snapshot restored.
	Apply(e zab.Entry)
}

// Notifier is the client side of a server: what it must learn from the
// protocol. Every method is called from the executor's goroutine.
type Notifier interface {
	// SyncDone answers a sync() whose token this server passed to
	// zab.Node.Sync: everything committed before it is applied here.
	SyncDone(token []byte)
	// RoleChanged reports a new role, leader or serving state; prev is the
	// role before it.
	RoleChanged(prev zab.ServerState, st zab.SoftState)
	// Forwarded is a request a learner forwarded to this server (a leader).
	// It comes after the Ready that carried it is acknowledged, so the
	// notifier may call zab.Node.Propose.
	Forwarded(from uint64, data []byte)
	// Pinged is a learner's PING piggyback (session touches).
	Pinged(from uint64, data []byte)
	// StorageFailed reports that Storage failed under the protocol. The
	// executor stops: it never sends what was to follow a failed write.
	StorageFailed(err error)
}
