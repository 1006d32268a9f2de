package zab

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// DefaultMaxCounter is the highest zxid counter a leader uses. ZooKeeper
// refuses to propose counter 0xffffffff and forces a new epoch instead.
const DefaultMaxCounter = CounterMask - 1

// Config configures one Node. Durable state comes from the driver's disk.
type Config struct {
	// ID is this server's id (sid); never 0.
	ID uint64
	// Voters are the ids of the voting members (this server included unless
	// it is an observer: a server whose ID is not a voter observes).
	Voters []uint64

	// InitLimit is how many ticks discovery and synchronization may take
	// (ZooKeeper's initLimit).
	InitLimit int
	// SyncLimit is how many ticks a peer may stay silent once synchronized
	// (ZooKeeper's syncLimit): a follower leaves a silent leader, a leader
	// steps down when it has not heard from a quorum.
	SyncLimit int
	// ElectionTicks is how often a LOOKING server re-sends its vote (plus a
	// random jitter of up to ElectionTicks-1).
	ElectionTicks int
	// FinalizeTicks is how long a server waits for a better vote once its
	// vote has a quorum (ZooKeeper's finalizeWait); 0 decides at once.
	FinalizeTicks int
	// MaxCounter is the highest zxid counter the leader assigns; the next
	// proposal makes it step down so a new epoch starts. Tests lower it.
	MaxCounter int64

	// Upstream, on a non-voter, is the server it follows without an
	// election: a relay of its site, or a voter. 0: the leader the
	// election finds. SetUpstream changes it at run time (from a live
	// view).
	Upstream uint64
	// ServeLearners lets a learner serve observers of its own (a relay):
	// they sync from its log and snapshot and get what it commits. A
	// leader always serves learners.
	ServeLearners bool
	// PeerLimits overrides InitLimit and SyncLimit for the link with a
	// given peer: a WAN link needs longer limits than the LAN. A learner
	// applies its upstream's entry; a leader or relay, each learner's.
	PeerLimits map[uint64]Limits

	// Rand is the only source of randomness (election jitter). Required.
	Rand *rand.Rand
	// Logger receives the protocol's logs (sub-loggers zab, zab.election,
	// zab.leader, zab.learner). Nil means no logging.
	Logger hclog.Logger

	// Log gives read access to what the driver has made durable: the
	// snapshot, the last logged zxid, and entries for DIFF. The last logged
	// zxid and the snapshot zxid are read from it.
	Log LogReader
	// AcceptedEpoch and CurrentEpoch are the two durable epochs.
	AcceptedEpoch int64
	CurrentEpoch  int64
	// LastCommittedZxid is the zxid the driver's state machine has applied
	// at start (snapshot plus replayed committed entries).
	LastCommittedZxid int64
}

// Limits are the timing limits of one link, in ticks.
type Limits struct {
	// InitLimit bounds discovery and synchronization with the peer.
	InitLimit int
	// SyncLimit bounds the peer's silence once synchronized.
	SyncLimit int
}

// limits returns the timing limits of the link with peer.
func (n *Node) limits(peer uint64) Limits {
	if l, ok := n.cfg.PeerLimits[peer]; ok {
		return l
	}
	return Limits{InitLimit: n.cfg.InitLimit, SyncLimit: n.cfg.SyncLimit}
}

// DefaultConfig returns ZooKeeper's timing defaults (initLimit 10, syncLimit
// 5, in ticks). ID, Voters, Rand and Log must still be set.
func DefaultConfig() Config {
	return Config{
		InitLimit:     10,
		SyncLimit:     5,
		ElectionTicks: 2,
		FinalizeTicks: 1,
		MaxCounter:    DefaultMaxCounter,
		Logger:        hclog.NewNullLogger(),
	}
}

// FieldError is one problem found by Validate.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("zab: config %s: %s", e.Field, e.Problem) }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every problem of the config at once (errors.Join of
// *FieldError values, each matching ErrInvalidConfig).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.ID == 0 {
		bad("ID", "must not be 0")
	}
	if len(c.Voters) == 0 {
		bad("Voters", "at least one voter is required")
	}
	seen := map[uint64]bool{}
	for _, v := range c.Voters {
		if v == 0 {
			bad("Voters", "id 0 is not allowed")
		}
		if seen[v] {
			bad("Voters", "id %d listed twice", v)
		}
		seen[v] = true
	}
	if c.InitLimit < 1 {
		bad("InitLimit", "must be at least 1 tick, got %d", c.InitLimit)
	}
	if c.SyncLimit < 1 {
		bad("SyncLimit", "must be at least 1 tick, got %d", c.SyncLimit)
	}
	if c.ElectionTicks < 1 {
		bad("ElectionTicks", "must be at least 1 tick, got %d", c.ElectionTicks)
	}
	if c.FinalizeTicks < 0 {
		bad("FinalizeTicks", "must not be negative, got %d", c.FinalizeTicks)
	}
	if c.MaxCounter < 1 || c.MaxCounter > DefaultMaxCounter {
		bad("MaxCounter", "must be in [1, %d], got %d", DefaultMaxCounter, c.MaxCounter)
	}
	if c.Upstream != 0 {
		if c.isVoter(c.ID) {
			bad("Upstream", "a voter follows the elected leader; only a non-voter has an upstream")
		}
		if c.Upstream == c.ID {
			bad("Upstream", "a server cannot follow itself")
		}
	}
	for id, l := range c.PeerLimits {
		if l.InitLimit < 1 || l.SyncLimit < 1 {
			bad("PeerLimits", "peer %d: InitLimit and SyncLimit must be at least 1 tick, got %d and %d", id, l.InitLimit, l.SyncLimit)
		}
	}
	if c.Rand == nil {
		bad("Rand", "a seeded *rand.Rand is required")
	}
	if c.AcceptedEpoch < 0 {
		bad("AcceptedEpoch", "must not be negative")
	}
	if c.CurrentEpoch < 0 {
		bad("CurrentEpoch", "must not be negative")
	}
	if c.CurrentEpoch > c.AcceptedEpoch {
		bad("CurrentEpoch", "%d is above AcceptedEpoch %d", c.CurrentEpoch, c.AcceptedEpoch)
	}
	if c.Log == nil {
		bad("Log", "a LogReader is required")
	} else {
		last, snap := c.Log.LastZxid(), c.Log.SnapshotZxid()
		if c.LastCommittedZxid < snap || c.LastCommittedZxid > last {
			bad("LastCommittedZxid", "%s is outside the log [snapshot %s, last %s]",
				FormatZxid(c.LastCommittedZxid), FormatZxid(snap), FormatZxid(last))
		}
		if EpochOf(last) > c.AcceptedEpoch && last > 0 {
			bad("AcceptedEpoch", "%d is below the epoch of the last logged zxid %s",
				c.AcceptedEpoch, FormatZxid(last))
		}
	}
	return errors.Join(errs...)
}

// isVoter reports whether id is a voting member.
func (c *Config) isVoter(id uint64) bool { return slices.Contains(c.Voters, id) }
