package tests

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// side is one server under the differential test (ZooKeeper or zoogate)
// with the sessions the workload opened on it, by session index.
type side struct {
	name string
	addr string
	sess []*session    // every session ever opened, by index
	idx  map[int64]int // session id -> index, for ephemeralOwner
	base int64         // czxid of the workload root: zxids are shown relative to it
}

func newSide(name, addr string) *side {
	return &side{name: name, addr: addr, idx: make(map[int64]int)}
}

// session is one go-zookeeper session. It records, in arrival order, every
// watch notification the server sent, and any session-state trouble.
type session struct {
	conn   *zk.Conn
	id     int64
	closed bool

	mu      sync.Mutex
	events  []zk.Event // server notifications only (no session events)
	trouble []string   // unexpected session states (disconnects, expiry)
	hasSess chan struct{}
	granted bool // the first session grant was seen; later trouble counts
	once    sync.Once
}

// sessionTimeout is what every session asks for; both servers allow up to
// 20 s, so a loaded machine does not expire sessions mid-run.
const sessionTimeout = 10 * time.Second

// open connects a new session and waits until the server has granted it.
func (s *side) open() (*session, error) {
	ss := &session{hasSess: make(chan struct{})}
	cb := func(ev zk.Event) {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		switch ev.Type {
		case zk.EventNodeCreated, zk.EventNodeDeleted, zk.EventNodeDataChanged, zk.EventNodeChildrenChanged:
			ss.events = append(ss.events, ev)
		case zk.EventSession:
			switch ev.State {
			case zk.StateHasSession:
				ss.once.Do(func() { ss.granted = true; close(ss.hasSess) })
			case zk.StateConnecting, zk.StateConnected:
			default:
				if !ss.closed && ss.granted {
					ss.trouble = append(ss.trouble, ev.State.String())
				}
			}
		}
	}
	c, _, err := zk.Connect([]string{s.addr}, sessionTimeout,
		zk.WithEventCallback(cb), zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	select {
	case <-ss.hasSess:
	case <-time.After(15 * time.Second):
		c.Close()
		return nil, fmt.Errorf("%s: no session after 15s", s.name)
	}
	ss.conn = c
	ss.id = c.SessionID()
	s.idx[ss.id] = len(s.sess)
	s.sess = append(s.sess, ss)
	return ss, nil
}

// close ends the session (closeSession) and waits for the reply.
func (ss *session) close() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.conn.Close()
}

// eventCount and eventsFrom read the recorded notifications.
func (ss *session) eventCount() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.events)
}

func (ss *session) eventsFrom(i int) []zk.Event {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if i >= len(ss.events) {
		return nil
	}
	return append([]zk.Event(nil), ss.events[i:]...)
}

func (ss *session) troubles() []string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]string(nil), ss.trouble...)
}

func (s *side) closeAll() {
	for _, ss := range s.sess {
		if !ss.closed {
			ss.close()
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
