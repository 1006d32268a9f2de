package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/watch"
)

// Version is what srvr, envi and mntr report. go-zookeeper's FLW parser
// wants an MM/dd/yyyy build date, so the format follows ZooKeeper 3.6.
const (
	Version   = "3.9.2-zoogate"
	BuildDate = "11/22/2026 00:00 GMT"
)

// Server is one zoogate server: standalone, or a voter of a replicated
// ensemble when its Config has a Cluster.
type Server struct {
	cfg     Config
	log     hclog.Logger
	started time.Time

	// mu guards the tree. Reads and prep hold it shared; apply holds it
	// exclusively, so a read never sees half a transaction and watch
	// registration never races with the trigger that should fire it.
	mu      sync.RWMutex
	tree    *tree.Tree
	prep    *prep.Prep
	watches *watch.Manager

	sessions    *sessionTracker
	committer   Committer
	disk        *disk         // nil when DataDir is "" (memory only)
	driver      *driver       // nil for a standalone server
	ro          roState       // read-only mode (readonly.go)
	servingGate *servingGate  // handshakes waiting for a leader (leaderchange.go)
	local       localSessions // local sessions (local.go)
	snapshotter *snapshotter
	writeErr    atomic.Pointer[error] // the log failure that stopped writes
	writes      chan *pendingWrite
	lastZxid    atomic.Int64 // last applied
	nextZxid    int64        // sequencer only

	connMu   sync.Mutex
	conns    map[watch.ID]*conn
	perIP    map[string]int
	nextConn watch.ID

	ln       net.Listener
	tlsLn    net.Listener // the TLS client port, nil without one (tls.go)
	admin    *adminServer // nil without an AdminAddr (admin.go)
	stats    serverStats
	closing  chan struct{}
	once     sync.Once
	diskOnce sync.Once
	wg       sync.WaitGroup
}

// New builds a server from a validated config. Nothing listens until Start.
func New(cfg Config, log hclog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{
		cfg:         cfg,
		log:         log.Named("server"),
		tree:        tree.New(),
		watches:     watch.New(),
		conns:       make(map[watch.ID]*conn),
		perIP:       make(map[string]int),
		writes:      make(chan *pendingWrite, cfg.GlobalOutstandingLimit),
		closing:     make(chan struct{}),
		servingGate: newServingGate(cfg.Cluster == nil),
	}
	// Session ids are int64 on the wire, with the server id in the top
	// byte; passwords are keyed by the session secret (secret.go).
	sessions, err := s.newSessions()
	if err != nil {
		return nil, err
	}
	s.sessions = sessions
	if s.admin, err = newAdminServer(s); err != nil {
		return nil, err
	}
	s.committer = &memCommitter{apply: s.apply}
	replayed := 0
	if cfg.DataDir != "" {
		d, t, n, err := s.recoverDisk(!s.isCluster())
		if err != nil {
			return nil, err
		}
		s.disk, s.tree, replayed = d, t, n
		if s.isCluster() {
			s.prep = prep.New(prep.Config{TTLEnabled: cfg.TTLNodes, SkipACL: cfg.SkipACL}, s.tree)
			if s.driver, err = s.newDriver(t, t.LastZxid()); err != nil {
				d.close()
				return nil, err
			}
			s.committer = nil
		} else {
			s.committer = newLogCommitter(s, d.log)
		}
		s.snapshotter = newSnapshotter(s)
		// Sessions from before the restart live on until they expire, so
		// their clients can reconnect to them.
		now := time.Now()
		for id, to := range t.Sessions() {
			s.sessions.add(id, time.Duration(to)*time.Millisecond, now)
		}
	}
	s.nextZxid = s.tree.LastZxid()
	s.lastZxid.Store(s.tree.LastZxid())
	s.prep = prep.New(prep.Config{TTLEnabled: cfg.TTLNodes, SkipACL: cfg.SkipACL}, s.tree)
	if s.disk != nil {
		s.log.Info("recovered", "data_dir", cfg.DataDir, "txn_log", cfg.LogSegmentDir(), "zxid", hexZxid(s.tree.LastZxid()), "nodes", s.tree.NodeCount(),
			"sessions", len(s.tree.Sessions()), "replayed_txns", replayed)
		if replayed > 0 {
			s.snapshotter.kick <- nil // snapshot soon, so the next start replays less
		}
	}
	return s, nil
}

// ErrServerClosed is returned by calls made while the server shuts down.
var ErrServerClosed = errors.New("server closed")

// Start listens on the client address and starts serving.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.ClientAddr)
	if err != nil {
		return fmt.Errorf("listen on client address %s: %w", s.cfg.ClientAddr, err)
	}
	tlsLn, err := s.listenClientTLS()
	if err != nil {
		ln.Close()
		return err
	}
	if err := s.admin.listen(); err != nil {
		ln.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
		return err
	}
	s.ln, s.tlsLn = ln, tlsLn
	s.started = time.Now()
	s.admin.serve()
	s.log.Info("listening for clients", "addr", ln.Addr().String(), "mode", s.mode())
	s.wg.Add(4)
	if s.snapshotter != nil {
		s.wg.Add(1)
		go s.snapshotter.loop()
	}
	go s.acceptLoop(ln)
	if tlsLn != nil {
		s.log.Info("listening for TLS clients", "addr", tlsLn.Addr().String())
		s.wg.Add(1)
		go s.acceptLoop(tlsLn)
	}
	if s.driver != nil {
		s.ro.markServing(false, time.Now()) // not serving until synced
		s.wg.Add(1)
		go s.readOnlyLoop()
		go s.driver.run()
	} else {
		go s.sequencer()
	}
	go s.leaderLoop(s.cfg.Tick, s.expireSessions)
	go s.leaderLoop(s.cfg.ContainerCheckInterval, func(now time.Time) { s.reapOnce(now) })
	return nil
}

// Addr returns the listening address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// AdminAddr returns the admin HTTP server's listening address (useful with
// port 0), nil when it has none.
func (s *Server) AdminAddr() net.Addr { return s.admin.addr() }

// LastZxid returns the zxid of the last applied transaction.
func (s *Server) LastZxid() int64 { return s.lastZxid.Load() }

// Close stops accepting, closes every connection and waits for the
// server's goroutines.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.closing)
		if s.ln != nil {
			s.ln.Close()
		}
		if s.tlsLn != nil {
			s.tlsLn.Close()
		}
		s.admin.close()
		s.connMu.Lock()
		for _, c := range s.conns {
			c.close()
		}
		s.connMu.Unlock()
	})
	s.wg.Wait()
	s.closeDisk()
	return nil
}

// closeDisk stops the applier, closes the log and releases the directory
// locks, once, after every goroutine that could commit has stopped.
func (s *Server) closeDisk() {
	if s.driver != nil {
		s.driver.exec.Transport().Close()
	}
	s.diskOnce.Do(func() {
		if lc, ok := s.committer.(*logCommitter); ok {
			lc.stop()
		}
		if s.disk != nil {
			if err := s.disk.close(); err != nil {
				s.log.Warn("closing the transaction log", "error", err)
			}
		}
	})
}

// Shutdown is Close with a deadline for the goroutines to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) handshakeTimeout() time.Duration {
	_, max := s.cfg.SessionTimeouts()
	return max
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; backing off", "error", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
				case <-s.closing:
					return
				}
				continue
			}
			s.log.Error("accept failed", "error", err)
			return
		}
		backoff = 0
		s.newConn(nc)
	}
}

func (s *Server) newConn(nc net.Conn) {
	remote := nc.RemoteAddr().String()
	ip, _, _ := net.SplitHostPort(remote)
	s.connMu.Lock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.connMu.Unlock()
		s.log.Warn("too many connections from one address; closing new one", "ip", ip, "limit", s.cfg.MaxClientCnxns)
		nc.Close()
		return
	}
	s.perIP[ip]++
	s.nextConn++
	limit := s.cfg.MaxOutboundBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	c := &conn{
		s: s, nc: nc, id: s.nextConn, remote: remote, ip: ip,
		log:    s.log.With("client", remote),
		items:  make(chan *item, 1024),
		out:    newOutQueue(limit),
		closed: make(chan struct{}),
	}
	ids := []proto.ID{{Scheme: "ip", ID: ip}}
	c.auth.Store(&ids)
	s.conns[c.id] = c
	s.connMu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

// connDone runs when a connection's reader stops.
func (s *Server) connDone(c *conn) {
	c.close()
	s.watches.RemoveConn(c.id)
	if sid := c.session.Load(); sid != 0 {
		s.sessions.clearConn(sid, c)
	}
	s.connMu.Lock()
	delete(s.conns, c.id)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	s.connMu.Unlock()
}

func (s *Server) conn(id watch.ID) *conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.conns[id]
}

func (s *Server) authenticate(a *proto.AuthPacket) ([]proto.ID, error) {
	return acl.Authenticate(a.Scheme, a.Auth, s.cfg.SuperDigest)
}

// leaderLoop calls f every period while this server leads and serves (a
// standalone server always does), until the server closes.
func (s *Server) leaderLoop(period time.Duration, f func(now time.Time)) {
	defer s.wg.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			if s.isLeader() && s.serving() {
				f(now)
			}
		}
	}
}

// expireSessions runs once per tick on the leader, which owns session
// expiry: each expired session becomes a closeSession transaction, so its
// ephemerals vanish everywhere, and its local connection is closed.
func (s *Server) expireSessions(now time.Time) {
	for _, sess := range s.sessions.expired(now) {
		s.log.Info("session expired", "session", hexZxid(sess.id), "timeout", sess.timeout)
		if sess.conn != nil {
			sess.conn.close()
		}
		if !s.submit(s.internalWrite(&prep.Request{SessionID: sess.id, Type: proto.OpCloseSession}), nil) {
			return
		}
	}
}

// closeAllClients disconnects every client (the server stopped serving).
func (s *Server) closeAllClients() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for _, c := range s.conns {
		c.close()
	}
}

// replaceTree swaps in a tree installed from a leader's snapshot.
func (s *Server) replaceTree(t *tree.Tree) {
	s.mu.Lock()
	s.tree = t
	s.prep = prep.New(prep.Config{TTLEnabled: s.cfg.TTLNodes, SkipACL: s.cfg.SkipACL}, t)
	s.lastZxid.Store(t.LastZxid())
	s.mu.Unlock()
}

// Serving reports whether this server answers clients (always, standalone;
// in a cluster, once it leads or has synced with a leader).
func (s *Server) Serving() bool { return s.serving() }

// Mode is what srvr reports: standalone, leader, follower or looking.
func (s *Server) Mode() string { return s.mode() }
