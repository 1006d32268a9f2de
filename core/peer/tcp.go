package peer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/zab"
)

// maxHandshakes bounds the accepted connections still in their handshake.
const maxHandshakes = 64

// TCP is the production Transport: one TCP connection per pair of
// servers (voters, and learners with their upstream).
type TCP struct {
	cfg   TCPConfig
	log   hclog.Logger
	ln    net.Listener
	spool dirSpool

	mu     sync.Mutex
	in     *inbox
	peers  map[uint64]*tpeer
	raw    map[net.Conn]struct{} // connections in their handshake
	rnd    *rand.Rand
	closed bool

	done   chan struct{}
	ctx    context.Context // cancelled by Close; bounds dials
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// tpeer is the state kept for one other server.
type tpeer struct {
	id    uint64
	addr  string
	dials bool // this server dials the peer (its id is the higher one, or an upstream)
	// learner: not configured, known since it connected (AcceptLearners);
	// never dialed, so a Send with no connection to carry it is lost.
	learner bool
	// upstream: in Upstreams, always dialed.
	upstream bool
	// links are the streams with the peer, oldest first: only links[0]
	// ever owns a connection; later ones wait for the next connection.
	links []*link
	// incoming numbers accepted connections; only the newest may attach.
	incoming uint64
}

func (p *tpeer) head() *link {
	if len(p.links) == 0 {
		return nil
	}
	return p.links[0]
}

// cur is the stream Sends go to, or nil when a new one must be started.
func (p *tpeer) cur() *link {
	if len(p.links) == 0 {
		return nil
	}
	if l := p.links[len(p.links)-1]; !l.closing && !l.dead {
		return l
	}
	return nil
}

var _ Transport = (*TCP)(nil)

// NewTCP validates cfg, prepares SpoolDir (removing this transport's
// leftover spool files), starts listening and starts dialing the peers with
// higher ids and the upstreams. logger may be nil.
func NewTCP(cfg TCPConfig, logger hclog.Logger) (*TCP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("peer: SpoolDir: %w", err)
		}
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return nil, fmt.Errorf("peer: listen on %s: %w", cfg.ListenAddr, err)
		}
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), cfg.ID))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		cfg:    cfg,
		log:    logger.Named("peer").With("id", cfg.ID),
		ln:     ln,
		spool:  newDirSpool(cfg.SpoolDir, cfg.ID, cfg.Cluster, ln.Addr().String()),
		peers:  map[uint64]*tpeer{},
		raw:    map[net.Conn]struct{}{},
		rnd:    rnd,
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	t.in = newInbox(&t.mu, cfg.MaxInboxBytes)
	for id, addr := range cfg.Peers {
		if id != cfg.ID {
			t.peers[id] = &tpeer{id: id, addr: addr, dials: cfg.ID < id}
		}
	}
	for id, addr := range cfg.Upstreams {
		t.peers[id] = &tpeer{id: id, addr: addr, dials: true, upstream: true}
	}
	if err := t.spool.removeAll(); err != nil {
		t.log.Warn("cannot remove leftover spool files", "dir", t.spool.dir, "error", err)
	}
	t.log.Debug("listening", "addr", ln.Addr().String(), "peers", len(t.peers), "learners", cfg.AcceptLearners)
	// Start the dialers before accepting: acceptLoop may add learners to
	// t.peers.
	for _, p := range t.peers {
		if p.dials {
			t.wg.Add(1)
			go t.dialLoop(p)
		}
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// ID returns this server's id.
func (t *TCP) ID() uint64 { return t.cfg.ID }

// Addr returns the address the transport accepts peers on.
func (t *TCP) Addr() net.Addr { return t.ln.Addr() }

// Notify implements Transport.
func (t *TCP) Notify() <-chan struct{} { return t.in.notify }

// Recv implements Transport.
func (t *TCP) Recv() (Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.in.pop()
}

// Send implements Transport.
func (t *TCP) Send(to uint64, m zab.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	p := t.peers[to]
	if p == nil {
		t.log.Warn("dropping a message to an unknown peer", "peer", to, "type", m.Type)
		return
	}
	if t.in.untold(to) {
		t.log.Trace("dropping a message: the stream broke and the driver was not told yet", "peer", to, "type", m.Type)
		return
	}
	m.From, m.To = t.cfg.ID, to
	l := p.cur()
	if l == nil && p.learner && len(p.links) == 0 {
		// Nothing will carry it (a learner is never dialed): lost, and
		// the driver told at once, as when a connection never comes up.
		t.log.Debug("learner not connected: message lost", "peer", to, "type", m.Type)
		t.in.owe(to)
		t.in.pushBroken(to)
		return
	}
	if l == nil {
		l = t.newLinkL(p)
	}
	n := msgSize(&m)
	if l.qbytes > 0 && l.qbytes+n > t.cfg.MaxQueueBytes {
		t.breakL(l, fmt.Sprintf("send queue over %d bytes (peer not reading?)", t.cfg.MaxQueueBytes), nil)
		return
	}
	l.queue = append(l.queue, m)
	l.qbytes += n
	l.wcond.Signal()
}

// CloseStream implements Transport.
func (t *TCP) CloseStream(peer uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	p := t.peers[peer]
	if p == nil {
		return
	}
	t.in.purge(peer)
	if t.in.untold(peer) {
		return // the driver's stream already broke; later ones are not its
	}
	l := p.cur()
	if l == nil {
		return
	}
	l.closing = true
	if l.conn == nil && len(l.queue) == 0 {
		t.breakL(l, "closed before it connected", nil)
		return
	}
	t.log.Debug("closing stream", "peer", peer, "queued", len(l.queue))
	l.wcond.Broadcast()
	t.in.space.Broadcast()
}

// QueuedBytes reports the bytes queued to peer and not yet written (the
// quantity MaxQueueBytes bounds).
func (t *TCP) QueuedBytes(peer uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	if p := t.peers[peer]; p != nil {
		for _, l := range p.links {
			n += l.qbytes
		}
	}
	return n
}

// Close implements Transport.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	t.cancel()
	err := t.ln.Close()
	for c := range t.raw {
		c.Close()
	}
	for _, p := range t.peers {
		for _, l := range p.links {
			t.killL(l)
		}
		p.links = nil
	}
	t.in.space.Broadcast()
	t.mu.Unlock()
	t.wg.Wait()
	if err := t.spool.removeAll(); err != nil {
		t.log.Warn("cannot remove spool files", "dir", t.spool.dir, "error", err)
	}
	t.log.Debug("closed")
	if err != nil && !isClosedErr(err) {
		return fmt.Errorf("peer: closing the listener: %w", err)
	}
	return nil
}
