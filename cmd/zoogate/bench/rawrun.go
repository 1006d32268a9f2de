package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// rawInflight is one request on the wire, oldest first.
type rawInflight struct {
	xid      int32
	op       opKind
	start    time.Time
	measured bool
}

// rawSession drives one raw connection: Outstanding requests in flight,
// replies matched in order (servers answer a session's requests in the
// order they were sent), a new request queued for every reply, and the
// socket flushed only when no further reply is already buffered.
type rawSession struct {
	rc      *rawConn
	cfg     Config
	value   []byte
	rng     *rand.Rand
	prefix  string
	pathBuf []byte
	queue   []rawInflight // FIFO ring
	head, n int
	st      *stats
	ph      *phase
}

func (s *rawSession) push(f rawInflight) {
	s.queue[(s.head+s.n)%len(s.queue)] = f
	s.n++
}

func (s *rawSession) pop() rawInflight {
	f := s.queue[s.head]
	s.head = (s.head + 1) % len(s.queue)
	s.n--
	return f
}

// key returns the path of a random key, formatted like keyPath.
func (s *rawSession) key() string {
	b := append(s.pathBuf[:0], s.prefix...)
	i := s.rng.IntN(s.cfg.Keys)
	for d := 100000; d > 1 && i < d; d /= 10 {
		b = append(b, '0') // zero-pad to six digits as keyPath does
	}
	b = strconv.AppendInt(b, int64(i), 10)
	s.pathBuf = b
	return string(b)
}

// issue queues one request if the phase admits it.
func (s *rawSession) issue() (bool, error) {
	ok, measured := s.ph.admit()
	if !ok {
		return false, nil
	}
	f := rawInflight{measured: measured, start: time.Now()}
	var err error
	if s.rng.Float64() < s.cfg.ReadRatio {
		f.op = opGet
		f.xid, err = s.rc.queueGet(s.key())
	} else {
		f.op = opSet
		f.xid, err = s.rc.queueSet(s.key(), s.value)
	}
	if err != nil {
		return false, err
	}
	s.push(f)
	return true, nil
}

// run keeps the session busy until the phase stops admitting operations and
// every request in flight is answered, or the connection fails.
func (s *rawSession) run() {
	fail := func(err error) {
		// Named like go-zookeeper's error for a lost connection.
		err = fmt.Errorf("%w: %w", zk.ErrConnectionClosed, err)
		end := time.Now()
		for s.n > 0 {
			f := s.pop()
			s.ph.finish(f.measured, err)
			if f.measured {
				s.st.fail(f.op, err, end)
			}
		}
	}
	for i := 0; i < s.cfg.Outstanding; i++ {
		ok, err := s.issue()
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			break
		}
	}
	if err := s.rc.flush(); err != nil {
		fail(err)
		return
	}
	for s.n > 0 {
		xid, rerr, fatal := s.rc.readReply()
		if fatal {
			fail(rerr)
			return
		}
		end := time.Now()
		f := s.pop()
		if xid != f.xid {
			s.push(f)
			fail(fmt.Errorf("%w: reply xid %d, expected %d", errRawProtocol, xid, f.xid))
			return
		}
		s.ph.finish(f.measured, rerr)
		if f.measured {
			if rerr != nil {
				s.st.fail(f.op, rerr, end)
			} else {
				s.st.ok(f.op, f.start, end)
			}
		}
		if _, err := s.issue(); err != nil {
			fail(err)
			return
		}
		if !s.rc.buffered() {
			if err := s.rc.flush(); err != nil {
				fail(err)
				return
			}
		}
	}
}

// runRaw is the measured loop of mixed mode with the raw client. The keys
// must exist already (prepareKeys).
func runRaw(ctx context.Context, cfg Config, value []byte, progress io.Writer, log hclog.Logger) (*Report, error) {
	conns := make([]*rawConn, cfg.Sessions)
	errs := make([]error, cfg.Sessions)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			conns[i], errs[i] = dialRaw(cfg.Servers[i%len(cfg.Servers)], cfg.SessionTimeout, cfg.ConnectTimeout)
		}()
	}
	wg.Wait()
	defer func() {
		var cw sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				cw.Add(1)
				go func() { defer cw.Done(); c.close() }()
			}
		}
		cw.Wait()
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	log.Debug("raw sessions ready", "sessions", len(conns))

	ph := newPhase(cfg.Ops)
	if cfg.Warmup == 0 {
		ph.measuring.Store(true) // the very first operations are measured
	}
	all := make([]*stats, len(conns))
	prefix := fmt.Sprintf("%s/v%d/k-", cfg.Root, cfg.ValueSize)
	for i, c := range conns {
		s := &rawSession{
			rc: c, cfg: cfg, value: value, prefix: prefix,
			rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i))),
			queue: make([]rawInflight, cfg.Outstanding),
			st:    newStats(), ph: ph,
		}
		all[i] = s.st
		wg.Add(1)
		go func() { defer wg.Done(); s.run() }()
	}
	go func() {
		// A session ends only when the phase stops admitting or its
		// connection failed; once all have ended nothing more will run.
		wg.Wait()
		ph.closeExhausted()
	}()
	return measure(ctx, cfg, ph, progress, &wg, all), nil
}
