package gossip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// Config is one node's gossip set-up.
type Config struct {
	Cluster string // cluster name: the pools' label, so two deployments never mix
	ID      uint64
	Site    string
	// LAN is where the node joins its site's pool (host:port, TCP and
	// UDP); LANSeeds the pool members it tries to join (its site's other
	// nodes' gossip addresses).
	LAN      string
	LANSeeds []string
	// WAN, for voters and relays, is where the node joins the WAN pool
	// ("" = not in it); WANAdvertise what other sites reach it at;
	// WANSeeds the WAN pool members it tries to join.
	WAN, WANAdvertise string
	WANSeeds          []string
	// Key encrypts gossip (AES-256-GCM with 32 bytes); nil = plaintext
	// (refused with a WAN pool).
	Key []byte
	// RejoinInterval is how often seeds that are not alive members are
	// joined again (after a partition memberlist forgets dead members).
	RejoinInterval time.Duration
	// MetaInterval bounds how often zxid and lag changes are gossiped,
	// stretched to PerMemberInterval times the pool's size (every member
	// hears every node's updates, so this keeps what a node receives flat
	// as the pool grows); state, role and leader changes go out at once.
	MetaInterval, PerMemberInterval time.Duration
	// Tune, when set, adjusts a pool's memberlist configuration (tests
	// shorten the profiles; lan tells which pool).
	Tune func(lan bool, c *memberlist.Config)
	// Admit, when set, vets a member before the pools accept it (its
	// metadata decoded): an error refuses it.
	Admit func(m Meta, addr string) error
	// TLS, when set, gives the pools certificate identity: memberlist's
	// streams (joins and state exchange) run over mutual TLS 1.3 with it,
	// and a member enters the view only once a TLS handshake with its
	// gossip address showed a certificate naming the id it gossips.
	TLS *TLSIdentity
	// JoinState, when set, is handed to a node that joins through this one
	// (memberlist's LocalState on a join); OnJoinState receives what the
	// seed a node joined through handed it (MergeRemoteState on a join).
	// memberlist's join exchange goes both ways and does not tell its
	// delegate which side it is on: OnJoinState is called only while this
	// node has a join of its own under way in the pool, so a seed that is
	// not joining never takes its joiner's state, but one that is (at
	// start, or retrying a seed that is down) may. OnJoinState runs on
	// memberlist's goroutine and must not block.
	JoinState   func() []byte
	OnJoinState func([]byte)
}

// DefaultConfig returns memberlist's LAN and WAN profiles as they are,
// rejoining every 10 s and gossiping zxid and lag moves at most every
// second, or every 600 ms times the number of members (30 s in a pool of
// 50): memberlist retransmits each update about 4·log10(n) times from every
// member, so an update costs each member ~800 bytes in a pool of 50
// (measured with zoogate bench gossip; docs/topology.md).
func DefaultConfig() Config {
	return Config{RejoinInterval: 10 * time.Second, MetaInterval: time.Second, PerMemberInterval: 600 * time.Millisecond}
}

// ErrConfig is returned (wrapped) for a configuration Start refuses.
var ErrConfig = errors.New("gossip: invalid configuration")

// Agent is a node's membership in its pools.
type Agent struct {
	cfg  Config
	log  hclog.Logger
	lan  *memberlist.Memberlist
	wan  *memberlist.Memberlist
	view atomic.Pointer[View]

	mu      sync.Mutex
	meta    Meta
	encoded []byte
	sent    Meta                 // last meta pushed with UpdateNode
	sentAt  time.Time            // when
	boot    uint64               // Meta.Boot of this run
	pools   [2]map[string]*entry // 0: LAN, 1: WAN; by memberlist name
	subs    []chan struct{}

	kick    chan struct{}
	closing chan struct{}
	done    sync.WaitGroup
	closed  atomic.Bool

	joining [2]atomic.Int32 // Join calls under way, by pool (see OnJoinState)

	// With Config.TLS (identity.go):
	transports [2]*tlsTransport // by pool
	refused    map[idKey]error  // members refused, and why (under mu)
	refusals   atomic.Int64     // how many refusals (tests wait on it)
	probes     chan struct{}    // bounds the identity probes under way
	ctx        context.Context  // cancelled by Close: cuts probes short
	cancel     context.CancelFunc
}

type entry struct {
	meta   Meta
	health Health
	addr   string
	heard  time.Time
	// With Config.TLS: the verdict about key checked, and whether a probe
	// goroutine works on the entry.
	checked idKey
	verdict verdict
	probing bool
}

// Start joins the pools (in the background: seeds that are down now are
// retried) and returns the agent.
func Start(cfg Config, meta Meta, log hclog.Logger) (*Agent, error) {
	if cfg.RejoinInterval <= 0 || cfg.MetaInterval <= 0 {
		return nil, fmt.Errorf("%w: RejoinInterval and MetaInterval must be positive", ErrConfig)
	}
	if cfg.WAN != "" && len(cfg.Key) == 0 {
		return nil, fmt.Errorf("%w: a WAN pool needs a key (gossip_key_file): gossip does not cross the WAN in plaintext", ErrConfig)
	}
	if k := len(cfg.Key); k != 0 && k != 16 && k != 24 && k != 32 {
		return nil, fmt.Errorf("%w: key of %d bytes (want 32)", ErrConfig, k)
	}
	if cfg.TLS != nil {
		t, err := checkTLS(cfg.TLS, cfg.ID)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	meta.ID, meta.Site = cfg.ID, cfg.Site
	meta.Boot = rand.Uint64()
	enc, err := meta.Encode()
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: log, meta: meta, encoded: enc, sent: meta, boot: meta.Boot,
		kick: make(chan struct{}, 1), closing: make(chan struct{}),
		refused: map[idKey]error{}, probes: make(chan struct{}, maxProbes)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.pools[0], a.pools[1] = map[string]*entry{}, map[string]*entry{}
	a.publish()
	if a.lan, err = a.create(true); err != nil {
		a.cancel()
		return nil, err
	}
	if cfg.WAN != "" {
		if a.wan, err = a.create(false); err != nil {
			// Members may have joined the LAN pool meanwhile: end their
			// identity probes, and start no more.
			a.closed.Store(true)
			a.lan.Shutdown()
			close(a.closing)
			a.cancel()
			a.done.Wait()
			return nil, err
		}
	}
	a.done.Add(2)
	go a.joinLoop()
	go a.metaLoop()
	return a, nil
}

// create starts one pool's memberlist.
func (a *Agent) create(lan bool) (*memberlist.Memberlist, error) {
	var c *memberlist.Config
	bind, advertise, name := a.cfg.LAN, "", strconv.FormatUint(a.cfg.ID, 10)
	if lan {
		c = memberlist.DefaultLANConfig()
	} else {
		c = memberlist.DefaultWANConfig()
		bind, advertise = a.cfg.WAN, a.cfg.WANAdvertise
		name += "." + a.cfg.Site // unique across sites, as Consul names WAN members
	}
	c.Name = name
	host, port, err := splitHostPort(bind)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	if advertise != "" {
		if c.AdvertiseAddr, c.AdvertisePort, err = splitHostPort(advertise); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	c.Label = "zoogate/" + a.cfg.Cluster
	if len(a.cfg.Key) > 0 {
		c.SecretKey = a.cfg.Key
	}
	d := &delegate{a: a, pool: 0}
	if !lan {
		d.pool = 1
	}
	pool := poolName(d.pool)
	log := a.log.Named(pool)
	c.Logger = log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	c.LogOutput = nil
	c.Delegate, c.Events, c.Alive, c.Ping = d, d, d, d
	var tr *tlsTransport
	if a.cfg.TLS != nil {
		if tr, err = newTLSTransport(host, port, a.cfg.TLS, log); err != nil {
			return nil, fmt.Errorf("gossip: %s pool on %s: %w", pool, bind, err)
		}
		c.Transport = tr
		if port == 0 { // memberlist learns a port its own transport picked, not ours
			c.BindPort = tr.boundPort()
			if advertise == "" {
				c.AdvertisePort = c.BindPort
			}
		}
		a.transports[d.pool] = tr
	}
	if a.cfg.Tune != nil {
		a.cfg.Tune(lan, c)
	}
	ml, err := memberlist.Create(c)
	if err != nil {
		if tr != nil {
			tr.Shutdown()
		}
		return nil, fmt.Errorf("gossip: %s pool on %s: %w", pool, bind, err)
	}
	return ml, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

// joinLoop joins the seeds that are not alive members now, at once and
// then every RejoinInterval, until the agent closes.
func (a *Agent) joinLoop() {
	defer a.done.Done()
	t := time.NewTicker(a.cfg.RejoinInterval)
	defer t.Stop()
	for {
		a.rejoin(a.lan, 0, a.cfg.LANSeeds)
		if a.wan != nil {
			a.rejoin(a.wan, 1, a.cfg.WANSeeds)
		}
		select {
		case <-a.closing:
			return
		case <-t.C:
		}
	}
}

// rejoin joins the seeds that are not alive members, one at a time in a
// random order, skipping those an earlier seed's state has shown alive:
// one answering seed is enough to learn the whole pool, and memberlist's
// Join with every seed at once would exchange the full state with each of
// them (n-1 state exchanges for a node starting in a pool of n: measured,
// they were most of the gossip bytes of a pool of 50 for a minute after it
// formed).
func (a *Agent) rejoin(ml *memberlist.Memberlist, pool int, seeds []string) {
	var missing []string
	for _, s := range seeds {
		if !a.aliveAt(pool, s) {
			missing = append(missing, s)
		}
	}
	rand.Shuffle(len(missing), func(i, j int) { missing[i], missing[j] = missing[j], missing[i] })
	for i, s := range missing {
		if i > 0 && a.aliveAt(pool, s) {
			continue
		}
		a.joining[pool].Add(1)
		_, err := ml.Join([]string{s})
		a.joining[pool].Add(-1)
		if err != nil {
			a.log.Debug("seed did not answer", "pool", poolName(pool), "seed", s, "error", err)
		}
		select {
		case <-a.closing:
			return
		default:
		}
	}
}

// aliveAt reports whether the member at addr is an alive member of pool.
func (a *Agent) aliveAt(pool int, addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.pools[pool] {
		if e.addr == addr && e.health == Alive {
			return true
		}
	}
	return false
}

func poolName(pool int) string { return [...]string{"lan", "wan"}[pool] }

// important reports whether a change from old to m must be gossiped at
// once: anything but the zxid and the lag, and a lag that moved to another
// order of magnitude (routing compares relays' lags).
func important(old, m Meta) bool {
	if lagClass(old.LagTxns) != lagClass(m.LagTxns) {
		return true
	}
	old.Zxid, old.LagTxns, old.LagMs = m.Zxid, m.LagTxns, m.LagMs
	return old != m
}

// lagClass buckets a lag in transactions: under 100, under 1,000, more.
func lagClass(lag int64) int {
	switch {
	case lag < 100:
		return 0
	case lag < 1000:
		return 1
	}
	return 2
}

// SetMeta replaces what the node gossips about itself (ID, Site and Boot
// are kept). State, role, leader and address changes go out at once; zxid
// and lag changes at most every MetaInterval.
func (a *Agent) SetMeta(m Meta) error {
	m.ID, m.Site, m.Boot = a.cfg.ID, a.cfg.Site, a.boot
	enc, err := m.Encode()
	if err != nil {
		return err
	}
	a.mu.Lock()
	changed := m != a.meta
	now := important(a.sent, m)
	a.meta, a.encoded = m, enc
	a.mu.Unlock()
	if changed && now {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// metaLoop pushes metadata changes with UpdateNode: important ones when
// kicked, zxid and lag ones once the interval has passed.
func (a *Agent) metaLoop() {
	defer a.done.Done()
	t := time.NewTicker(a.cfg.MetaInterval)
	defer t.Stop()
	for {
		select {
		case <-a.closing:
			return
		case <-a.kick:
			a.push()
		case <-t.C:
			wait := max(a.cfg.MetaInterval, time.Duration(a.lan.NumMembers())*a.cfg.PerMemberInterval)
			a.mu.Lock()
			due := time.Since(a.sentAt) >= wait
			a.mu.Unlock()
			if due {
				a.push()
			}
		}
	}
}

// push gossips the current metadata if it changed since the last push.
func (a *Agent) push() {
	a.mu.Lock()
	m := a.meta
	due := m != a.sent
	a.sent = m
	if due {
		a.sentAt = time.Now()
	}
	a.mu.Unlock()
	if !due {
		return
	}
	for _, ml := range []*memberlist.Memberlist{a.lan, a.wan} {
		if ml == nil {
			continue
		}
		if err := ml.UpdateNode(2 * time.Second); err != nil {
			a.log.Debug("metadata update not broadcast in time", "error", err)
		}
	}
	a.mu.Lock()
	a.publishLocked()
	a.mu.Unlock()
}

// View returns the current live view.
func (a *Agent) View() *View { return a.view.Load() }

// Subscribe returns a channel that receives (without blocking the agent:
// capacity one, coalesced) whenever a new view is published.
func (a *Agent) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	a.subs = append(a.subs, ch)
	a.mu.Unlock()
	return ch
}

// NumMembers returns how many alive members each pool has (WAN -1 when
// the node is not in it).
func (a *Agent) NumMembers() (lan, wan int) {
	wan = -1
	if a.wan != nil {
		wan = a.wan.NumMembers()
	}
	return a.lan.NumMembers(), wan
}

// Close announces that the node leaves (its state "leaving", then
// memberlist's leave) and shuts the pools down.
func (a *Agent) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	a.mu.Lock()
	m := a.meta
	a.mu.Unlock()
	m.State = StateLeaving
	if err := a.SetMeta(m); err == nil {
		a.push()
	}
	close(a.closing)
	a.cancel()
	a.done.Wait()
	var errs []error
	for _, ml := range []*memberlist.Memberlist{a.lan, a.wan} {
		if ml == nil {
			continue
		}
		if err := ml.Leave(time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := ml.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// publish builds a new view from the pools and tells subscribers.
func (a *Agent) publish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.publishLocked()
}

func (a *Agent) publishLocked() {
	now := time.Now()
	byID := map[uint64]*Member{}
	self := &Member{Meta: a.meta, Health: Alive, LAN: true, WAN: a.cfg.WAN != "", Gossip: a.cfg.LAN, Heard: now}
	byID[a.cfg.ID] = self
	for pool, entries := range a.pools {
		for _, e := range entries {
			if e.meta.ID == a.cfg.ID {
				continue
			}
			if a.cfg.TLS != nil && e.verdict != verified {
				continue // not proven yet, or refused (identity.go)
			}
			m := byID[e.meta.ID]
			if m == nil {
				m = &Member{Meta: e.meta, Health: e.health, Gossip: e.addr, Heard: e.heard}
				byID[e.meta.ID] = m
			} else if e.heard.After(m.Heard) {
				// The freshest report wins: a node the LAN pool has
				// just found dead is dead, though the WAN profile
				// (slower by design) still thinks it alive.
				m.Meta, m.Health, m.Gossip, m.Heard = e.meta, e.health, e.addr, e.heard
			}
			if pool == 0 {
				m.LAN = true
			} else {
				m.WAN = true
			}
		}
	}
	v := &View{Self: a.cfg.ID, Site: a.cfg.Site, At: now}
	for _, m := range byID {
		v.Members = append(v.Members, *m)
	}
	slices.SortFunc(v.Members, func(x, y Member) int { return cmp.Compare(x.ID, y.ID) })
	a.view.Store(v)
	for _, ch := range a.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
