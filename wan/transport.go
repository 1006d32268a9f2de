package wan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Transport moves frames and blobs between this server and its WAN peers:
// one QUIC connection per pair, mutual TLS, the semantics of the package
// documentation. Send, SendBlob, CloseStream, Notify, Recv and Stats may
// be called from any goroutine, but the guarantees are stated for one
// driver goroutine that is the only caller of Recv.
type Transport struct {
	cfg      Config
	log      logger
	pc       net.PacketConn
	qt       *quic.Transport
	ln       *quic.Listener
	dialConf *quic.Config
	spool    dirSpool

	mu       sync.Mutex
	in       *inbox
	peers    map[uint64]*peer
	rnd      *rand.Rand
	closed   bool
	shutdown atomic.Bool // closed, for callbacks that may not take mu

	done   chan struct{}
	ctx    context.Context // cancelled by Close; bounds dials and accepts
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// peer is the state kept for one other server. Fields are guarded by mu.
type peer struct {
	id    uint64
	addr  string // dialed address ("" for a peer that dials us)
	dials bool   // in Config.Dial: this server dials it
	// links are the streams with the peer, oldest first: only links[0]
	// ever owns a connection; later ones wait for the next connection.
	links []*link

	// Totals of the connections that ended, for Stats.
	sent, recv, lost, conns uint64
	lastErr                 string
}

func (p *peer) head() *link {
	if len(p.links) == 0 {
		return nil
	}
	return p.links[0]
}

// cur is the stream Sends go to, or nil when a new one must be started.
func (p *peer) cur() *link {
	if len(p.links) == 0 {
		return nil
	}
	if l := p.links[len(p.links)-1]; !l.closing && !l.dead {
		return l
	}
	return nil
}

// New validates cfg, prepares SpoolDir (removing this transport's leftover
// spool files), starts listening and starts dialing the peers of
// cfg.Dial. log may be nil (no logging); pass an hclog.Logger named "wan".
func New(cfg Config, log Logger) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = nullLogger{}
	}
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("wan: SpoolDir: %w", err)
		}
	}
	pc := cfg.PacketConn
	if pc == nil {
		ua, err := net.ResolveUDPAddr("udp", cfg.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("wan: ListenAddr %s: %w", cfg.ListenAddr, err)
		}
		uc, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, fmt.Errorf("wan: listen on %s: %w", cfg.ListenAddr, err)
		}
		pc = uc
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), cfg.ID))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:    cfg,
		log:    logger{l: log, kv: []any{"id", cfg.ID}},
		pc:     pc,
		spool:  newDirSpool(cfg.SpoolDir, cfg.ID, cfg.Cluster, pc.LocalAddr().String()),
		peers:  map[uint64]*peer{},
		rnd:    rnd,
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	t.in = newInbox(&t.mu, cfg.MaxInboxBytes)
	key := quic.StatelessResetKey(statelessResetKey(cfg.TLS.cert))
	t.qt = &quic.Transport{Conn: pc, StatelessResetKey: &key, ConnContext: t.connContext}
	acceptConf := t.quicConfig(2)
	t.dialConf = t.quicConfig(-1)
	ln, err := t.qt.Listen(t.serverConfig(), acceptConf)
	if err != nil {
		cancel()
		t.qt.Close()
		if cfg.PacketConn == nil {
			pc.Close()
		}
		return nil, fmt.Errorf("wan: listen: %w", err)
	}
	t.ln = ln
	for id, addr := range cfg.Dial {
		t.peers[id] = &peer{id: id, addr: addr, dials: true}
	}
	if err := t.spool.removeAll(); err != nil {
		t.log.Warn("cannot remove leftover spool files", "dir", t.spool.dir, "error", err)
	}
	t.log.Debug("listening", "addr", pc.LocalAddr().String(), "dials", len(cfg.Dial))
	t.wg.Add(1)
	go t.acceptLoop()
	for _, p := range t.peers {
		t.wg.Add(1)
		go t.dialLoop(p)
	}
	return t, nil
}

// quicConfig returns the QUIC settings; bidi is how many bidirectional
// streams the peer may open (2 for accepted connections, none for dialed
// ones: the dialer opens both lanes).
func (t *Transport) quicConfig(bidi int64) *quic.Config {
	c := t.cfg
	return &quic.Config{
		HandshakeIdleTimeout:           c.HandshakeTimeout,
		MaxIdleTimeout:                 c.IdleTimeout,
		KeepAlivePeriod:                c.KeepAlive,
		InitialStreamReceiveWindow:     min(2<<20, c.StreamReceiveWindow),
		MaxStreamReceiveWindow:         c.StreamReceiveWindow,
		InitialConnectionReceiveWindow: min(4<<20, c.ConnReceiveWindow),
		MaxConnectionReceiveWindow:     c.ConnReceiveWindow,
		MaxIncomingStreams:             bidi,
		MaxIncomingUniStreams:          maxBlobStreams,
	}
}

// maxBlobStreams bounds the blob streams a peer may have open at once
// (it sends one at a time; the receiver spools one ahead).
const maxBlobStreams = 4

// ID returns this server's id.
func (t *Transport) ID() uint64 { return t.cfg.ID }

// Addr returns the UDP address the transport listens and dials from.
func (t *Transport) Addr() net.Addr { return t.pc.LocalAddr() }

// Notify returns a channel that holds a token when events are waiting.
func (t *Transport) Notify() <-chan struct{} { return t.in.notify }

// Recv takes the oldest waiting event; ok is false when there is none.
// Never blocks.
func (t *Transport) Recv() (Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.in.pop()
}

// Send queues frame on lane of the stream to peer to and returns at once.
// The frame is dropped if the stream with that peer broke and the driver
// has not yet taken the Broken event, if to is not a known peer (neither
// dialed nor ever connected), or after Close; a frame to a peer that
// dials this server and is not connected is lost and the driver told
// Broken at once. The transport keeps frame until it is written: the
// caller must not modify it after Send.
func (t *Transport) Send(to uint64, lane Lane, frame []byte) {
	t.enqueue(to, outItem{lane: lane, data: frame})
}

// SendBlob queues a blob on the stream to peer to: header travels on
// LaneOrdered in order with the other ordered frames, the blob's bytes on
// a stream of their own; the peer receives the header, with a SpoolBlob
// holding the whole blob, once it is all on its disk, and the ordered
// frames sent after it only after it. The blob is opened and read when its
// turn comes, so it must stay readable until then; if it cannot be read
// whole (or its length differs from Size), the stream breaks on both
// sides and nothing truncated is ever delivered.
func (t *Transport) SendBlob(to uint64, header []byte, blob Blob) {
	t.enqueue(to, outItem{lane: LaneOrdered, data: header, blob: blob})
}

func (t *Transport) enqueue(to uint64, it outItem) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if it.lane != LaneOrdered && it.lane != LaneRequests {
		t.log.Error("dropping a frame on an unknown lane", "peer", to, "lane", int(it.lane))
		return
	}
	p := t.peers[to]
	if p == nil {
		t.log.Warn("dropping a frame to an unknown peer", "peer", to, "lane", it.lane)
		return
	}
	if t.in.untold(to) {
		t.log.Trace("dropping a frame: the stream broke and the driver was not told yet", "peer", to, "lane", it.lane)
		return
	}
	l := p.cur()
	if l == nil && !p.dials && len(p.links) == 0 {
		// Nothing will carry it (a peer that dials us is never dialed):
		// lost, and the driver told at once.
		t.log.Debug("peer not connected: frame lost", "peer", to, "lane", it.lane)
		t.in.owe(to)
		t.in.pushBroken(to)
		return
	}
	if l == nil {
		l = t.newLinkL(p)
	}
	switch {
	case len(it.data) > t.cfg.MaxFrameSize:
		t.breakL(l, codeBroken, fmt.Sprintf("a frame of %d bytes, above MaxFrameSize %d", len(it.data), t.cfg.MaxFrameSize), ErrFrameTooLarge)
		return
	case it.blob != nil && it.blob.Size() < 0:
		t.breakL(l, codeBroken, fmt.Sprintf("a blob of size %d", it.blob.Size()), ErrBlobRead)
		return
	}
	n := len(it.data) + 48
	if l.qbytes > 0 && l.qbytes+n > t.cfg.MaxQueueBytes {
		t.breakL(l, codeBroken, fmt.Sprintf("send queue over %d bytes (peer not reading?)", t.cfg.MaxQueueBytes), nil)
		return
	}
	if it.lane == LaneOrdered {
		l.ordQ = append(l.ordQ, it)
	} else {
		l.reqQ = append(l.reqQ, it)
	}
	l.qbytes += n
	l.wcond.Broadcast()
}

// CloseStream gracefully closes the stream with peer: what was already
// sent (frames and blobs) is delivered, then the peer is told Broken.
// Frames from peer not yet taken by Recv are discarded; this side gets no
// Broken for it, and its next Send starts a new stream.
func (t *Transport) CloseStream(peer uint64) {
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
	if l.conn == nil && len(l.ordQ) == 0 && len(l.reqQ) == 0 {
		t.breakL(l, codeClosed, "closed before it connected", nil)
		return
	}
	t.log.Debug("closing stream", "peer", peer, "queued", len(l.ordQ)+len(l.reqQ))
	l.wakeL()
}

// Stats returns the state of the link with every known peer.
func (t *Transport) Stats() map[uint64]PeerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[uint64]PeerStats, len(t.peers))
	for id, p := range t.peers {
		s := PeerStats{BytesSent: p.sent, BytesReceived: p.recv, PacketsLost: p.lost, Connections: p.conns, LastError: p.lastErr}
		for _, l := range p.links {
			s.QueuedBytes += l.qbytes
		}
		if h := p.head(); h != nil && h.conn != nil && !h.dead {
			cs := h.conn.ConnectionStats()
			s.Connected = true
			s.Remote = h.conn.RemoteAddr().String()
			s.SmoothedRTT, s.MinRTT, s.LatestRTT = cs.SmoothedRTT, cs.MinRTT, cs.LatestRTT
			s.BytesSent += cs.BytesSent
			s.BytesReceived += cs.BytesReceived
			s.PacketsLost += cs.PacketsLost
		}
		out[id] = s
	}
	return out
}

// Peers returns the ids of the known peers, sorted.
func (t *Transport) Peers() []uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]uint64, 0, len(t.peers))
	for id := range t.peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Close closes every connection (the peers see Broken), stops every
// goroutine of the transport, closes the PacketConn, removes the spool
// files it still owns, and returns once all that is done.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.shutdown.Store(true)
	close(t.done)
	t.cancel()
	for _, p := range t.peers {
		for _, l := range p.links {
			t.killL(l, codeShutdown, "transport closing")
		}
		p.links = nil
	}
	t.in.drain()
	t.in.space.Broadcast()
	t.mu.Unlock()
	t.ln.Close()
	t.wg.Wait()
	t.qt.Close()
	err := t.pc.Close()
	if e := t.spool.removeAll(); e != nil {
		t.log.Warn("cannot remove spool files", "dir", t.spool.dir, "error", e)
	}
	t.log.Debug("closed")
	if err != nil {
		return fmt.Errorf("wan: closing the PacketConn: %w", err)
	}
	return nil
}
