package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoogate/zoogate/core/proto"
)

// session is a live client session as the server tracks it for expiry.
type session struct {
	id       int64
	timeout  time.Duration
	expireAt int64 // ms, rounded up to a tick boundary
	conn     *conn // current connection, nil while disconnected
	closing  bool  // a closeSession is on its way; no new work is accepted
}

// sessionTracker expires sessions in tick-sized buckets, like ZooKeeper's
// ExpiryQueue: a session's deadline is rounded up to the next tick, so one
// pass per tick expires whole buckets. It also holds the session secret,
// the key of session passwords (secret.go).
type sessionTracker struct {
	mu      sync.Mutex
	tick    int64 // ms
	byID    map[int64]*session
	buckets map[int64]map[int64]*session
	nextID  int64

	key     atomic.Pointer[[]byte] // the session secret once known; never changes then
	source  secretSource           // where an unknown key comes from; nil when it is fixed
	onKey   func(key []byte)       // called once when the key becomes known from source
	onStall func()                 // called once when a wait for the key lasts secretStall
	closing <-chan struct{}        // the server's; ends a wait for the key
	asked   atomic.Int64           // when source.request was last called, unix ms
	stalled atomic.Bool            // onStall was called
}

// secretSource is the replicated state a tracker learns its key from when
// none is configured (secret.go).
type secretSource interface {
	// current returns the agreed secret, nil while none is applied.
	current() []byte
	// request asks for a secret to be agreed on, if this server may
	// propose one; it never blocks.
	request()
}

// How often a server waiting for the replicated secret looks for it, and
// how often it asks again for one to be proposed (the first proposal may be
// lost with its leader).
const (
	secretPoll  = 5 * time.Millisecond
	secretRetry = time.Second
	secretStall = 10 * time.Second // then the wait is worth a warning
)

// newSessionTracker returns a tracker whose passwords are keyed by key, or,
// when key is nil, by the secret src agrees on; closing ends waits for it.
func newSessionTracker(serverID int64, tick time.Duration, now time.Time, key []byte, src secretSource, closing <-chan struct{}) *sessionTracker {
	t := &sessionTracker{
		tick:    tick.Milliseconds(),
		byID:    make(map[int64]*session),
		buckets: make(map[int64]map[int64]*session),
		source:  src,
		closing: closing,
	}
	if key != nil {
		t.key.Store(&key)
	}
	// ZooKeeper's scheme: server id in the top byte, then the start time.
	t.nextID = serverID<<56 | int64(uint64(now.UnixMilli())<<24>>8)
	return t
}

// newID returns a fresh session id. It waits until the session secret is
// known: no session is handed out with a password nobody can check later,
// or one keyed by anything public.
func (t *sessionTracker) newID() int64 {
	t.waitKey()
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.nextID
	t.nextID++
	return id
}

// setKey records the session secret, unless one is known already; it
// reports whether it did.
func (t *sessionTracker) setKey(key []byte) bool {
	return t.key.CompareAndSwap(nil, &key)
}

// currentKey returns the session secret if it is known now, else nil
// (it does not wait: read-only mode has no quorum to learn it from).
func (t *sessionTracker) currentKey() []byte {
	if k := t.key.Load(); k != nil {
		return *k
	}
	if t.source != nil {
		if k := t.source.current(); k != nil {
			if t.setKey(k) && t.onKey != nil {
				t.onKey(k)
			}
			return *t.key.Load()
		}
	}
	return nil
}

// waitKey returns the session secret, waiting until the replicated state
// holds one; nil only if the server closes first. It runs on connection
// goroutines (a handshake), never on the one that applies transactions, so
// the wait cannot hold up the proposal it waits for.
func (t *sessionTracker) waitKey() []byte {
	if k := t.key.Load(); k != nil {
		return *k
	}
	if t.source == nil {
		return nil // no key and nowhere to learn one: never built so (newSessions)
	}
	var poll *time.Ticker
	start := time.Now()
	for {
		if k := t.source.current(); k != nil {
			if t.setKey(k) && t.onKey != nil {
				t.onKey(k)
			}
			return *t.key.Load()
		}
		now := time.Now().UnixMilli()
		if last := t.asked.Load(); now-last >= secretRetry.Milliseconds() && t.asked.CompareAndSwap(last, now) {
			t.source.request() // one waiter asks, at most once a second
		}
		if time.Since(start) >= secretStall && t.onStall != nil && t.stalled.CompareAndSwap(false, true) {
			t.onStall()
		}
		if poll == nil {
			poll = time.NewTicker(secretPoll)
			defer poll.Stop()
		}
		select {
		case <-poll.C:
		case <-t.closing:
			return nil
		}
		if k := t.key.Load(); k != nil {
			return *k
		}
	}
}

// password derives a session's 16-byte password from its id: an HMAC-SHA256
// keyed by the session secret, so that any server of the deployment can
// check a reconnecting client and nobody without the secret can compute it.
// It waits for the secret like newID.
func (t *sessionTracker) password(id int64) []byte {
	key := t.waitKey()
	if key == nil {
		// The server is closing: hand out nothing anyone could derive.
		pw := make([]byte, proto.PasswordLen)
		rand.Read(pw)
		return pw
	}
	m := hmac.New(sha256.New, key)
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (56 - 8*i))
	}
	m.Write(b[:])
	return m.Sum(nil)[:proto.PasswordLen]
}

func (t *sessionTracker) roundUp(ms int64) int64 {
	return (ms/t.tick + 1) * t.tick
}

// add registers (or re-registers) a session and schedules its expiry.
func (t *sessionTracker) add(id int64, timeout time.Duration, now time.Time) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil {
		s = &session{id: id}
		t.byID[id] = s
	}
	s.timeout = timeout
	t.scheduleLocked(s, now)
	return s
}

func (t *sessionTracker) scheduleLocked(s *session, now time.Time) {
	at := t.roundUp(now.UnixMilli() + s.timeout.Milliseconds())
	if at == s.expireAt {
		return
	}
	if b := t.buckets[s.expireAt]; b != nil {
		delete(b, s.id)
		if len(b) == 0 {
			delete(t.buckets, s.expireAt)
		}
	}
	s.expireAt = at
	b := t.buckets[at]
	if b == nil {
		b = make(map[int64]*session)
		t.buckets[at] = b
	}
	b[s.id] = s
}

// touch pushes a live session's deadline out; false if it is gone or closing.
func (t *sessionTracker) touch(id int64, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil || s.closing {
		return false
	}
	t.scheduleLocked(s, now)
	return true
}

// get returns a live session.
func (t *sessionTracker) get(id int64) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

// setConn records which connection holds a session and returns the one
// that held it before (to be closed).
func (t *sessionTracker) setConn(id int64, c *conn) (old *conn, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil || s.closing {
		return nil, false
	}
	old, s.conn = s.conn, c
	return old, true
}

// clearConn forgets c as the holder of a session (on disconnect).
func (t *sessionTracker) clearConn(id int64, c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.byID[id]; s != nil && s.conn == c {
		s.conn = nil
	}
}

// markClosing flags a session so no new work is accepted for it; false if
// it was already closing or gone.
func (t *sessionTracker) markClosing(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil || s.closing {
		return false
	}
	s.closing = true
	return true
}

// remove forgets a session (after its closeSession applied) and returns the
// connection that held it, if any.
func (t *sessionTracker) remove(id int64) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil {
		return nil
	}
	delete(t.byID, id)
	if b := t.buckets[s.expireAt]; b != nil {
		delete(b, id)
		if len(b) == 0 {
			delete(t.buckets, s.expireAt)
		}
	}
	return s.conn
}

// lapsed returns those of ids whose deadline has passed with no
// connection holding them; it marks nothing.
func (t *sessionTracker) lapsed(ids []int64, now time.Time) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int64
	for _, id := range ids {
		if s := t.byID[id]; s != nil && s.conn == nil && s.expireAt <= now.UnixMilli() {
			out = append(out, id)
		}
	}
	return out
}

// expired returns the sessions whose deadline has passed and marks them
// closing; each is returned once.
func (t *sessionTracker) expired(now time.Time) []session {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms := now.UnixMilli()
	var out []session
	for at, b := range t.buckets {
		if at > ms {
			continue
		}
		for _, s := range b {
			if !s.closing {
				s.closing = true
				out = append(out, *s)
			}
		}
	}
	return out
}

// snapshot returns the live sessions grouped by expiry bucket (dump).
func (t *sessionTracker) snapshot() (map[int64][]int64, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[int64][]int64, len(t.buckets))
	for at, b := range t.buckets {
		for id := range b {
			out[at] = append(out[at], id)
		}
	}
	return out, len(t.byID)
}
