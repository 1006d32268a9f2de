package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wanproxy is `zoogate bench wanproxy`: a user-space WAN between the sites
// of a benchmark, the same for both systems. It forwards TCP connections
// (Apache ZooKeeper's observers to its voters) and UDP datagrams (zoogate's
// QUIC between a relay and the voters) from listen addresses to targets,
// holding every chunk or datagram for a fixed one-way delay in each
// direction, and counts the payload bytes it forwards. A control socket
// takes one command per line: "stats" (a JSON line), "cut" and "heal".
//
// A cut is a black hole: UDP datagrams are dropped; TCP bytes are held
// (TCP would retransmit them) and flow again on heal if both ends are still
// there. Byte counts are payloads: TCP/IP and UDP/IP headers are not
// counted for either system.

// ProxyStats is what "stats" answers.
type ProxyStats struct {
	Up        uint64 `json:"bytes_up"`   // from the listen side to the targets
	Down      uint64 `json:"bytes_down"` // from the targets back
	Datagrams uint64 `json:"datagrams"`  // UDP datagrams forwarded
	Conns     uint64 `json:"tcp_conns"`  // TCP connections accepted
	Dropped   uint64 `json:"dropped"`    // UDP datagrams dropped by a cut
	Cut       bool   `json:"cut"`
}

type proxy struct {
	delay                            time.Duration
	up, down, dgrams, conns, dropped atomic.Uint64

	mu     sync.Mutex
	cut    bool
	healed chan struct{} // closed on heal; replaced on cut
}

func newProxy(delay time.Duration) *proxy {
	h := make(chan struct{})
	close(h)
	return &proxy{delay: delay, healed: h}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cut == p.cut {
		return
	}
	p.cut = cut
	if cut {
		p.healed = make(chan struct{})
	} else {
		close(p.healed)
	}
}

// isCut reports the state and the channel closed at the next heal.
func (p *proxy) isCut() (bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut, p.healed
}

func (p *proxy) stats() ProxyStats {
	cut, _ := p.isCut()
	return ProxyStats{Up: p.up.Load(), Down: p.down.Load(), Datagrams: p.dgrams.Load(),
		Conns: p.conns.Load(), Dropped: p.dropped.Load(), Cut: cut}
}

type chunk struct {
	due  time.Time
	data []byte
}

// pipe copies src to dst, each chunk delivered delay after it was read
// and held while the proxy is cut. Order is kept (the delay is constant).
func (p *proxy) pipe(ctx context.Context, src, dst net.Conn, count *atomic.Uint64) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{time.Now().Add(p.delay), buf[:n]}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer dst.Close()
	defer src.Close()
	for c := range q {
		if !sleepUntil(ctx, c.due) {
			return
		}
		for {
			cut, healed := p.isCut()
			if !cut {
				break
			}
			select {
			case <-healed:
			case <-ctx.Done():
				return
			}
		}
		count.Add(uint64(len(c.data))) // before the peer can see them
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *proxy) serveTCP(ctx context.Context, ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		go func() {
			t, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				c.Close()
				return
			}
			go p.pipe(ctx, c, t, &p.up)
			go p.pipe(ctx, t, c, &p.down)
		}()
	}
}

// delayed runs the sends of one UDP direction in order, each delay after
// it was queued, dropping those due while the proxy is cut (and those that
// find the queue full, as a router would).
type delayed struct {
	p     *proxy
	items chan delayedItem
}

type delayedItem struct {
	due time.Time
	fn  func()
}

func (p *proxy) newDelayed(ctx context.Context) *delayed {
	d := &delayed{p: p, items: make(chan delayedItem, 8192)}
	go func() {
		for {
			var it delayedItem
			select {
			case it = <-d.items:
			case <-ctx.Done():
				return
			}
			if !sleepUntil(ctx, it.due) {
				return
			}
			if cut, _ := p.isCut(); cut {
				p.dropped.Add(1)
				continue
			}
			it.fn()
		}
	}()
	return d
}

func (d *delayed) send(fn func()) {
	select {
	case d.items <- delayedItem{time.Now().Add(d.p.delay), fn}:
	default:
		d.p.dropped.Add(1)
	}
}

func (p *proxy) serveUDP(ctx context.Context, pc net.PacketConn, target string) error {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return err
	}
	upQ, downQ := p.newDelayed(ctx), p.newDelayed(ctx)
	var mu sync.Mutex
	upstream := map[string]*net.UDPConn{}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return nil
		}
		data := append([]byte(nil), buf[:n]...)
		mu.Lock()
		u := upstream[from.String()]
		if u == nil {
			u, err = net.DialUDP("udp", nil, taddr)
			if err != nil {
				mu.Unlock()
				continue
			}
			upstream[from.String()] = u
			go func(u *net.UDPConn, client net.Addr) {
				b := make([]byte, 64<<10)
				for {
					n, err := u.Read(b)
					if err != nil {
						if errors.Is(err, net.ErrClosed) {
							return
						}
						continue // ICMP port unreachable while the target restarts
					}
					d := append([]byte(nil), b[:n]...)
					downQ.send(func() {
						p.down.Add(uint64(len(d)))
						p.dgrams.Add(1)
						_, _ = pc.WriteTo(d, client) // UDP: an error is a loss
					})
				}
			}(u, from)
		}
		mu.Unlock()
		upQ.send(func() {
			p.up.Add(uint64(len(data)))
			p.dgrams.Add(1)
			_, _ = u.Write(data) // UDP: an error is a loss
		})
	}
}

func (p *proxy) serveControl(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				switch strings.TrimSpace(sc.Text()) {
				case "stats":
					b, _ := json.Marshal(p.stats())
					fmt.Fprintf(c, "%s\n", b)
				case "cut":
					p.setCut(true)
					fmt.Fprintln(c, "ok")
				case "heal":
					p.setCut(false)
					fmt.Fprintln(c, "ok")
				case "":
				default:
					fmt.Fprintln(c, "error: commands are stats, cut, heal")
				}
			}
		}()
	}
}

// ProxyCommand sends one control command and returns the reply line.
func ProxyCommand(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("wanproxy %s: %s: %w", addr, cmd, err)
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "error") {
		return "", fmt.Errorf("wanproxy %s: %s", addr, line)
	}
	return line, nil
}

// proxyStats reads the counters of the proxy at addr.
func proxyStats(addr string) (ProxyStats, error) {
	var s ProxyStats
	line, err := ProxyCommand(addr, "stats")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal([]byte(line), &s)
}

type mapFlag []string

func (m *mapFlag) String() string     { return strings.Join(*m, ",") }
func (m *mapFlag) Set(v string) error { *m = append(*m, v); return nil }

func runWANProxyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zoogate bench wanproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	delay := fs.Duration("delay", 40*time.Millisecond, "one-way delay in each direction")
	control := fs.String("control", "", "host:port of the control socket (required): lines stats, cut, heal")
	var tcps, udps mapFlag
	fs.Var(&tcps, "tcp", "LISTEN=TARGET: forward TCP connections (repeatable)")
	fs.Var(&udps, "udp", "LISTEN=TARGET: forward UDP datagrams (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zoogate bench wanproxy --control ADDR [--delay 40ms] [--tcp LISTEN=TARGET]... [--udp LISTEN=TARGET]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	var problems []string
	if *control == "" {
		problems = append(problems, "--control: is required")
	}
	if *delay < 0 {
		problems = append(problems, fmt.Sprintf("--delay: must not be negative, got %v", *delay))
	}
	if len(tcps)+len(udps) == 0 {
		problems = append(problems, "--tcp or --udp: give at least one LISTEN=TARGET")
	}
	split := func(kind, v string) (string, string, bool) {
		l, t, ok := strings.Cut(v, "=")
		if !ok || l == "" || t == "" {
			problems = append(problems, fmt.Sprintf("--%s %q: want LISTEN=TARGET", kind, v))
		}
		return l, t, ok
	}
	for _, v := range tcps {
		split("tcp", v)
	}
	for _, v := range udps {
		split("udp", v)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "zoogate bench wanproxy: %s\n", strings.Join(problems, "; "))
		return ExitUsage
	}
	p := newProxy(*delay)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "zoogate bench wanproxy: %v\n", err)
		return ExitFailure
	}
	cl, err := net.Listen("tcp", *control)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, cl)
	for _, v := range tcps {
		l, t, _ := strings.Cut(v, "=")
		ln, err := net.Listen("tcp", l)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, ln)
		go p.serveTCP(ctx, ln, t)
	}
	for _, v := range udps {
		l, t, _ := strings.Cut(v, "=")
		pc, err := net.ListenPacket("udp", l)
		if err != nil {
			return fail(err)
		}
		_ = pc.(*net.UDPConn).SetReadBuffer(8 << 20)
		closers = append(closers, pc)
		go func() {
			if err := p.serveUDP(ctx, pc, t); err != nil {
				fmt.Fprintf(stderr, "zoogate bench wanproxy: --udp %s: %v\n", v, err)
				cancel()
			}
		}()
	}
	go p.serveControl(ctx, cl)
	fmt.Fprintf(stdout, "wanproxy: %d TCP and %d UDP links, %v one way, control on %s\n", len(tcps), len(udps), *delay, cl.Addr())
	<-ctx.Done()
	return ExitOK
}
