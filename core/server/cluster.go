package server

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/core/replica"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/zab"
)

// PeerEvent is what a peer transport delivers: a message, or the news that
// the stream with a peer broke (delivered before any message of a new
// stream with that peer).
type PeerEvent = peer.Event

// PeerTransport carries ZAB messages between voters: one ordered stream per
// pair of servers (core/peer: TCP, and an in-memory twin for tests).
type PeerTransport = peer.Transport

// ClusterConfig makes a server a member of a replicated ensemble: a voter,
// or an observer that replicates every committed transaction without
// voting.
type ClusterConfig struct {
	Name string // cluster name, checked when peers connect
	Site string // this server's site (conf, mntr); "" in a one-site file
	// SiteOf maps other servers' ids to their sites, so that a leader
	// reports the lag of each remote site (mntr).
	SiteOf map[uint64]string
	Voters []uint64 // ids of the voting members
	// Peers maps ids to peer addresses (host:port): every voter's, and this
	// server's own when it has one. Voters dial each other (the lower id
	// dials); an observer dials every voter in it (or only its Upstream).
	Peers     map[uint64]string
	InitLimit int // ticks
	SyncLimit int // ticks
	// PeerLimits overrides InitLimit and SyncLimit (in ticks) for the link
	// with one peer: a WAN link needs longer limits than the LAN.
	PeerLimits map[uint64]zab.Limits
	// Observer makes this server an observer: it is not in Voters, never
	// votes and never counts toward a quorum; it serves reads and forwards
	// writes and sync() to the leader.
	Observer bool
	// Upstream, on an observer, is the server it follows without an
	// election (a relay of its site); 0: the leader the election finds.
	Upstream uint64
	// Fallbacks, on an observer with an Upstream, are the servers it moves
	// to, in order, when its upstream has not served it for SyncLimit
	// ticks (its site's other relays), wrapping around (upstream.go).
	Fallbacks []uint64
	// FallbackToPrimary adds, after the Fallbacks, following the leader the
	// election finds (across the WAN, for an observer of another site that
	// has a WAN link of its own) when no relay of its list serves it.
	FallbackToPrimary bool
	// ServeLearners makes an observer a relay: observers may follow it
	// (Upstream) and sync from its own log and snapshots; it passes their
	// writes, sync() calls and session touches upstream. On a voter it
	// does the same while the voter follows (relays follow followers:
	// relay_upstream = "follower"); a leader serves learners anyway.
	ServeLearners bool
	// ReadOnly lets the server take read-only clients while it does not
	// serve (no quorum, no upstream): topology's [cluster] read_only.
	ReadOnly bool
	// LocalSessions makes the sessions created on this server local
	// (local.go) when it is an observer or a relay: topology's [cluster]
	// local_sessions.
	LocalSessions bool
	// ReadOnlyMaxStaleness bounds read-only mode: once the server's last
	// contact with the committed stream is older, it serves nobody.
	// 0: unbounded. topology's read_only_max_staleness (per site or
	// cluster).
	ReadOnlyMaxStaleness time.Duration
	// LeaderWait is how long a server that stops serving (its leader or
	// upstream lost) keeps its clients: connections open, reads answered,
	// writes and sync() held for the next leader (leaderchange.go); 0:
	// drop them at once, as ZooKeeper does. topology's leader_wait.
	LeaderWait time.Duration
	// RemoteSessionHold is how long a server that serves learners of other
	// sites keeps their sessions alive while such a learner is cut off
	// (sessionhold.go); 0: expire them as ZooKeeper does. topology's
	// remote_session_hold.
	RemoteSessionHold time.Duration
	// AcceptLearners lets this server accept observers that are not in
	// Peers (a voter of a deployment with observers, a relay).
	AcceptLearners bool
	// AdmitLearner, when set, vets a learner AcceptLearners would accept:
	// verified tells whether it came over TLS with a certificate naming it
	// (core/peer's TCPConfig.AdmitLearner).
	AdmitLearner func(id uint64, verified bool) error
	// PeerTLS, when set, lets the peer transport speak mutual TLS: it
	// accepts TLS connections beside plain ones, and dials over TLS when
	// PeerTLS.Dial is set (an observer that joined at run time).
	PeerTLS *peer.TLSConfig
	// Transport, when set, is used instead of TCP on Peers (tests).
	Transport PeerTransport
	// WrapTransport, when set, wraps the LAN transport the server opens
	// (TCP on Peers) in one that also reaches other sites (bridge/: the
	// WAN over QUIC). The result is closed with the server.
	WrapTransport func(lan PeerTransport) (PeerTransport, error)
}

// openTransport starts the TCP transport on this voter's peer address.
func (s *Server) openTransport() (PeerTransport, error) {
	cc := s.cfg.Cluster
	if cc.Transport != nil {
		return cc.Transport, nil
	}
	pc := peer.DefaultTCPConfig(s.cfg.ServerID)
	pc.Cluster = cc.Name
	pc.AcceptLearners = cc.AcceptLearners
	pc.AdmitLearner, pc.TLS = cc.AdmitLearner, cc.PeerTLS
	pc.ListenAddr = cc.Peers[s.cfg.ServerID]
	if cc.Observer {
		// An observer dials the voters (election notifications, then its
		// leader's stream), or only its upstream. Without a peer address
		// of its own it accepts nothing: it listens on a loopback port
		// nobody dials.
		pc.Upstreams = map[uint64]string{}
		for id, addr := range cc.Peers {
			if id != s.cfg.ServerID && (cc.Upstream == 0 || cc.FallbackToPrimary || id == cc.Upstream || slices.Contains(cc.Fallbacks, id)) {
				pc.Upstreams[id] = addr
			}
		}
		if pc.ListenAddr == "" {
			pc.ListenAddr = "127.0.0.1:0"
		}
	} else {
		pc.Peers = cc.Peers
	}
	// Snapshots from the leader arrive in chunks, spooled to disk beside
	// the snapshot store; DiskStorage streams them into the store.
	spool, err := filepath.Abs(filepath.Join(s.cfg.DataDir, "spool"))
	if err != nil {
		return nil, err
	}
	pc.SpoolDir = spool
	return peer.NewTCP(pc, s.log) // names its logger "peer"
}

// zabTickMax is the longest protocol tick: elections resend votes every
// two of them and wait one for a better vote before deciding.
const (
	zabTickMax   = 25 * time.Millisecond
	finalizeWait = 100 * time.Millisecond
)

// writeKey identifies a client write across the ensemble: the session and
// the request's xid (createSession and expiry use xid 0).
type writeKey struct {
	session int64
	cxid    int32
}

// driver is the client side of a replicated server: it owns the goroutine
// that runs the replica.Executor (the only one that touches the zab.Node),
// turns client writes into proposals or forwards, and implements the
// executor's Applier and Notifier (cluster_apply.go) on the server's tree,
// sessions and waiting clients. The executor keeps the durability order.
type driver struct {
	s       *Server
	exec    *replica.Executor
	node    *zab.Node
	store   *replica.DiskStorage
	log     hclog.Logger
	compact chan int64

	pending map[writeKey]*pendingWrite // local writes waiting for their commit
	owners  map[int64]uint64           // leader: the voter each session is connected to (owners.go)
	// via and cutSince hold the sessions of cut-off remote learners
	// (sessionhold.go); heldSessions counts them for mntr.
	via          map[int64]uint64
	cutSince     map[uint64]time.Time
	heldSessions atomic.Int64
	route        chan uint64              // upstreams chosen by gossip (routing.go)
	syncs        map[uint64]*pendingWrite // local sync() calls waiting for SyncDone
	token        uint64

	wasServing bool  // as of the last role change
	epoch      int64 // the epoch of the last role change (SoftState.Epoch)

	// Leader changes (leaderchange.go): writes and sync() calls that
	// arrived while the server did not serve, in arrival order; the
	// arrival counter; whether the server gave up on its clients.
	waiting []*pendingWrite
	resend  []*pendingWrite // to send once the running Ready is done
	// waitingCount is len(waiting), for readers off the driver goroutine.
	waitingCount atomic.Int64
	seq          uint64
	gaveUp       bool

	zabTick time.Duration // how often the node is ticked

	upstreams upstreamWatch // an observer's move to its next upstream
	// caughtUp is when (unix ms) a learner last had nothing to catch up
	// with its upstream: while it lags, now minus caughtUp bounds how far
	// behind it is in time (mntr's zk_observer_lag_ms).
	caughtUp atomic.Int64
	// learners is the node's learner streams as of the last tick, for mntr.
	learners atomic.Pointer[[]zab.LearnerStatus]

	touchMu sync.Mutex
	touched map[int64]struct{} // sessions seen since the last ping (learners)
}

func (s *Server) isCluster() bool { return s.cfg.Cluster != nil }

// serving reports whether this server may answer clients.
func (s *Server) serving() bool { return s.driver == nil || s.driver.exec.Serving() }

// isLeader reports whether this server leads (standalone servers do).
func (s *Server) isLeader() bool {
	return s.driver == nil || s.driver.exec.Role() == zab.Leading
}

// newDriver prepares the ZAB node from the recovered disk. In a cluster the
// tree holds only the snapshot: logged entries after it may not have been
// committed, so they are applied only when a leader commits them (again).
func (s *Server) newDriver(t *tree.Tree, snapZxid int64) (*driver, error) {
	cc := s.cfg.Cluster
	d := &driver{
		s: s, log: s.log.Named("driver"),
		compact: make(chan int64, 4),
		route:   make(chan uint64, 4),
		pending: make(map[writeKey]*pendingWrite),
		syncs:   make(map[uint64]*pendingWrite),
		touched: make(map[int64]struct{}),
	}
	var err error
	d.store, err = replica.OpenDiskStorage(s.disk.fs, s.cfg.DataDir, s.disk.log, s.disk.snaps, snapZxid, s.log.Named("replica"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecovery, err)
	}
	hs := d.store.HardState()
	zc := zab.DefaultConfig()
	zc.ID = s.cfg.ServerID
	zc.Voters = cc.Voters
	zc.Upstream = cc.Upstream
	zc.ServeLearners = cc.ServeLearners
	// The protocol runs on a finer clock than tickTime, so that an election
	// (vote resends, the finalize wait) takes tens of milliseconds, not
	// seconds; initLimit and syncLimit keep their meaning in tickTime units.
	d.zabTick = min(s.cfg.Tick, zabTickMax)
	scale := int(s.cfg.Tick / d.zabTick)
	if cc.InitLimit > 0 {
		zc.InitLimit = cc.InitLimit
	}
	if cc.SyncLimit > 0 {
		zc.SyncLimit = cc.SyncLimit
	}
	zc.InitLimit *= scale
	zc.SyncLimit *= scale
	if len(cc.PeerLimits) > 0 {
		zc.PeerLimits = make(map[uint64]zab.Limits, len(cc.PeerLimits))
		for id, l := range cc.PeerLimits {
			zc.PeerLimits[id] = zab.Limits{InitLimit: l.InitLimit * scale, SyncLimit: l.SyncLimit * scale}
		}
	}
	// Wait ~100 ms for a better vote once one has a quorum (ZooKeeper's
	// finalizeWait is 200 ms): long enough for the votes of servers that are
	// up to arrive, short enough for a quick failover.
	zc.FinalizeTicks = int(finalizeWait / d.zabTick)
	zc.Rand = rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(s.cfg.ServerID)))
	zc.Logger = s.log
	zc.Log = d.store
	zc.AcceptedEpoch, zc.CurrentEpoch = hs.AcceptedEpoch, hs.CurrentEpoch
	zc.LastCommittedZxid = snapZxid
	if d.node, err = zab.New(zc); err != nil {
		return nil, err
	}
	tr, err := s.openTransport()
	if err != nil {
		return nil, fmt.Errorf("peer transport: %w", err)
	}
	if cc.WrapTransport != nil {
		wrapped, err := cc.WrapTransport(tr)
		if err != nil {
			tr.Close()
			return nil, fmt.Errorf("peer transport: %w", err)
		}
		tr = wrapped
	}
	d.caughtUp.Store(time.Now().UnixMilli())
	if len(cc.Fallbacks) > 0 || cc.FallbackToPrimary {
		order := append([]uint64{cc.Upstream}, cc.Fallbacks...)
		if cc.FallbackToPrimary {
			order = append(order, 0) // 0: the leader the election finds
		}
		d.upstreams = upstreamWatch{order: order, after: time.Duration(zc.SyncLimit) * d.zabTick}
	}
	d.exec, err = replica.New(replica.Config{
		Node: d.node, Storage: d.store, Transport: tr,
		Applier: (*clusterApplier)(d), Notifier: (*clusterNotifier)(d),
		Logger: s.log.Named("replica"),
	})
	if err != nil {
		tr.Close()
		return nil, err
	}
	return d, nil
}

// run is the driver goroutine.
func (d *driver) run() {
	s := d.s
	defer s.wg.Done()
	ticker := time.NewTicker(d.zabTick)
	defer ticker.Stop()
	tr := d.exec.Transport()
	d.process()
	for {
		select {
		case <-s.closing:
			d.failAll("server closing")
			return
		case <-ticker.C:
			if d.exec.Stopped() {
				continue
			}
			if b := d.takeTouched(); b != nil {
				d.node.SetPingData(b)
			}
			d.node.Tick()
			now := time.Now()
			d.upstreams.check(d, now)
			d.checkHeld(now)
			st := d.exec.Status()
			if st.Lag == 0 {
				d.caughtUp.Store(now.UnixMilli())
			}
			if st.Serving {
				// In contact with the committed stream: a leader now, a
				// learner when it last heard from its upstream.
				heard := now
				if st.Upstream != 0 && st.UpstreamHeardTicks > 0 {
					heard = now.Add(-time.Duration(st.UpstreamHeardTicks) * d.zabTick)
				}
				s.ro.contact(heard)
			}
			ls := d.node.Learners()
			if ls != nil || d.learners.Load() != nil {
				d.learners.Store(&ls)
			}
			d.holdRemoteSessions(now, ls)
		case <-tr.Notify():
			d.exec.Deliver()
		case w := <-s.writes:
			d.handleWrite(w)
			// Take whatever else is queued, so one Ready (one fsync) carries it all.
			for more := true; more; {
				select {
				case w := <-s.writes:
					d.handleWrite(w)
				default:
					more = false
				}
			}
		case id := <-d.route:
			d.routeTo(id)
		case z := <-d.compact:
			if err := d.store.Compact(z); err != nil {
				d.log.Debug("log view not compacted", "zxid", hexZxid(z), "error", err)
			}
		}
		d.process()
	}
}
