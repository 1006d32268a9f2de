package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// worker does one operation per step and keeps whatever state the workload
// needs between steps (a znode to delete, a session to close).
type worker interface {
	// step performs the next operation. It returns the operation's kind, the
	// moment the operation started (after any unmeasured preparation) and
	// its error.
	step(ctx context.Context) (op opKind, start time.Time, err error)
	// cleanup undoes leftovers (unmeasured) after the run.
	cleanup()
}

// keyPath is the i-th key of mixed mode; keys are per value size, so reads
// return values of the configured size even when runs share a server.
func keyPath(root string, valueSize, i int) string {
	return fmt.Sprintf("%s/v%d/k-%06d", root, valueSize, i)
}

// prepareKeys creates the keys of mixed mode (existing ones are kept and
// overwritten with a value of the right size), pipelined over the sessions.
func prepareKeys(ctx context.Context, ss []*session, cfg Config, value []byte) error {
	if err := ensurePath(ss[0].conn, fmt.Sprintf("%s/v%d", cfg.Root, cfg.ValueSize)); err != nil {
		return err
	}
	next := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < len(ss)*min(cfg.Outstanding, 16); w++ {
		conn := ss[w%len(ss)].conn
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := keyPath(cfg.Root, cfg.ValueSize, i)
				_, err := conn.Create(p, value, 0, zk.WorldACL(zk.PermAll))
				if errors.Is(err, zk.ErrNodeExists) {
					_, err = conn.Set(p, value, -1)
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("%w: %s: %v", ErrPrepare, p, err):
					default:
					}
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := 0; i < cfg.Keys; i++ {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = fmt.Errorf("%w: %v", ErrPrepare, context.Cause(ctx))
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// mixedWorker reads or overwrites a random key.
type mixedWorker struct {
	conn      *zk.Conn
	cfg       Config
	value     []byte
	rng       *rand.Rand
	keyPrefix string
}

func (w *mixedWorker) step(context.Context) (opKind, time.Time, error) {
	p := fmt.Sprintf("%s/k-%06d", w.keyPrefix, w.rng.IntN(w.cfg.Keys))
	if w.rng.Float64() < w.cfg.ReadRatio {
		start := time.Now()
		_, _, err := w.conn.Get(p)
		return opGet, start, err
	}
	start := time.Now()
	_, err := w.conn.Set(p, w.value, -1)
	return opSet, start, err
}

func (w *mixedWorker) cleanup() {}

// createDeleteWorker alternates between creating a znode and deleting it.
type createDeleteWorker struct {
	conn    *zk.Conn
	value   []byte
	prefix  string // parent + "/" + run id + worker id
	seq     int
	pending string
}

func (w *createDeleteWorker) step(context.Context) (opKind, time.Time, error) {
	if w.pending != "" {
		start := time.Now()
		err := w.conn.Delete(w.pending, -1)
		if err == nil || errors.Is(err, zk.ErrNoNode) {
			w.pending = ""
		}
		return opDelete, start, err
	}
	w.seq++
	p := fmt.Sprintf("%s-%d", w.prefix, w.seq)
	start := time.Now()
	_, err := w.conn.Create(p, w.value, 0, zk.WorldACL(zk.PermAll))
	if err == nil {
		w.pending = p
	}
	return opCreate, start, err
}

func (w *createDeleteWorker) cleanup() {
	if w.pending != "" {
		_ = w.conn.Delete(w.pending, -1)
		w.pending = ""
	}
}

// ephemeralWorker churns sessions: connect, create an ephemeral znode,
// close the session.
type ephemeralWorker struct {
	servers []string
	cfg     Config
	value   []byte
	prefix  string
	log     hclog.Logger
	seq     int
	conn    *zk.Conn
	created bool
}

func (w *ephemeralWorker) step(ctx context.Context) (opKind, time.Time, error) {
	switch {
	case w.conn == nil:
		start := time.Now()
		dctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
		s, err := dialSession(dctx, w.servers, w.cfg.SessionTimeout, w.log)
		cancel()
		if err != nil {
			return opConnect, start, err
		}
		w.conn, w.created = s.conn, false
		return opConnect, start, nil
	case !w.created:
		w.seq++
		p := fmt.Sprintf("%s-%d", w.prefix, w.seq)
		start := time.Now()
		_, err := w.conn.Create(p, w.value, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if err == nil {
			w.created = true
		} else if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing) {
			w.conn.Close()
			w.conn = nil
		}
		return opCreateEphemeral, start, err
	default:
		start := time.Now()
		w.conn.Close() // sends closeSession and waits (bounded) for its reply
		w.conn = nil
		return opClose, start, nil
	}
}

func (w *ephemeralWorker) cleanup() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// newWorkers builds the workers of a mixed, create-delete or ephemeral run:
// Outstanding per session, sharing the session's connection. In ephemeral
// mode ss holds nil entries: each worker churns its own sessions.
func newWorkers(cfg Config, ss []*session, value []byte, runID string, log hclog.Logger) []worker {
	var ws []worker
	for si, s := range ss {
		for k := 0; k < cfg.Outstanding; k++ {
			id := si*cfg.Outstanding + k
			switch cfg.Mode {
			case ModeMixed:
				ws = append(ws, &mixedWorker{
					conn: s.conn, cfg: cfg, value: value,
					rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(id))),
					keyPrefix: fmt.Sprintf("%s/v%d", cfg.Root, cfg.ValueSize),
				})
			case ModeCreateDelete:
				ws = append(ws, &createDeleteWorker{conn: s.conn, value: value,
					prefix: fmt.Sprintf("%s/cd/%s-%d", cfg.Root, runID, id)})
			case ModeEphemeral:
				ws = append(ws, &ephemeralWorker{servers: rotate(cfg.Servers, si), cfg: cfg, value: value,
					prefix: fmt.Sprintf("%s/eph/%s-%d", cfg.Root, runID, id), log: log})
			}
		}
	}
	return ws
}
