package watch

import (
	"sort"

	"sync"

	"github.com/zoogate/zoogate/core/proto"
)

// ID identifies a watching connection.
type ID uint64

// Kind is the kind of a registered watch.
type Kind int

const (
	Data       Kind = iota // getData/exists watch (one-shot)
	Child                  // getChildren watch (one-shot)
	Persistent             // addWatch mode 0
	Recursive              // addWatch mode 1
	numKinds
)

type table map[string]map[ID]struct{}

func (t table) add(path string, id ID) {
	m := t[path]
	if m == nil {
		m = make(map[ID]struct{})
		t[path] = m
	}
	m[id] = struct{}{}
}

func (t table) remove(path string, id ID) bool {
	m := t[path]
	if _, ok := m[id]; !ok {
		return false
	}
	delete(m, id)
	if len(m) == 0 {
		delete(t, path)
	}
	return true
}

func (t table) has(path string, id ID) bool { _, ok := t[path][id]; return ok }

// Manager holds every watch. It is safe for concurrent use.
type Manager struct {
	mu     sync.Mutex
	tables [numKinds]table
	byConn map[ID]*[numKinds]map[string]struct{}
	// recursiveCount makes the ancestor walk free when nobody uses recursive watches.
	recursiveCount int
}

// New returns an empty manager.
func New() *Manager {
	m := &Manager{byConn: make(map[ID]*[numKinds]map[string]struct{})}
	for i := range m.tables {
		m.tables[i] = make(table)
	}
	return m
}

func (m *Manager) connSet(id ID, k Kind) map[string]struct{} {
	c := m.byConn[id]
	if c == nil {
		c = new([numKinds]map[string]struct{})
		m.byConn[id] = c
	}
	if c[k] == nil {
		c[k] = make(map[string]struct{})
	}
	return c[k]
}

// Add registers a watch of kind k on path for connection id.
func (m *Manager) Add(id ID, path string, k Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k == Recursive && !m.tables[k].has(path, id) {
		m.recursiveCount++
	}
	m.tables[k].add(path, id)
	m.connSet(id, k)[path] = struct{}{}
}

func (m *Manager) removeLocked(id ID, path string, k Kind) bool {
	if !m.tables[k].remove(path, id) {
		return false
	}
	if k == Recursive {
		m.recursiveCount--
	}
	if c := m.byConn[id]; c != nil && c[k] != nil {
		delete(c[k], path)
	}
	return true
}

// RemoveConn drops every watch of a connection (on close).
func (m *Manager) RemoveConn(id ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.byConn[id]
	if c == nil {
		return
	}
	for k, paths := range c {
		for p := range paths {
			m.tables[k].remove(p, id)
			if Kind(k) == Recursive {
				m.recursiveCount--
			}
		}
	}
	delete(m.byConn, id)
}

// kindsFor maps a checkWatches/removeWatches WatcherType to watch kinds.
func kindsFor(watcherType int32) []Kind {
	switch watcherType {
	case proto.WatcherChildren:
		return []Kind{Child}
	case proto.WatcherData:
		return []Kind{Data}
	case proto.WatcherAny:
		return []Kind{Data, Child, Persistent, Recursive}
	case proto.WatcherPersistent:
		return []Kind{Persistent}
	case proto.WatcherPersistentRecursive:
		return []Kind{Recursive}
	}
	return nil
}

// Check reports whether id has a watch of the given WatcherType on path;
// with remove it also removes the matching watches. It returns false when
// nothing matched (the caller answers NoWatcher).
func (m *Manager) Check(id ID, path string, watcherType int32, remove bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	found := false
	for _, k := range kindsFor(watcherType) {
		if m.tables[k].has(path, id) {
			found = true
			if remove {
				m.removeLocked(id, path, k)
			}
		}
	}
	return found
}

// Trigger returns the connections to notify of an event on path, each once,
// removing the one-shot watches that fire. The event types follow
// ZooKeeper: NodeCreated and NodeDataChanged fire data watches; NodeDeleted
// fires data and child watches; NodeChildrenChanged fires child watches.
// Persistent watches fire for all of these on their own path; recursive
// ones fire for all but NodeChildrenChanged on their path and below.
func (m *Manager) Trigger(eventType int32, path string) []ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ID
	seen := make(map[ID]struct{})
	fire := func(id ID) {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	oneShot := func(k Kind) {
		for id := range m.tables[k][path] {
			fire(id)
			m.removeLocked(id, path, k)
		}
	}
	switch eventType {
	case proto.EventNodeCreated, proto.EventNodeDataChanged:
		oneShot(Data)
	case proto.EventNodeDeleted:
		oneShot(Data)
		oneShot(Child)
	case proto.EventNodeChildrenChanged:
		oneShot(Child)
	}
	for id := range m.tables[Persistent][path] {
		fire(id)
	}
	if eventType != proto.EventNodeChildrenChanged && m.recursiveCount > 0 {
		for p := path; ; p = proto.ParentPath(p) {
			for id := range m.tables[Recursive][p] {
				fire(id)
			}
			if p == "/" {
				break
			}
		}
	}
	return out
}

// Stats returns the number of connections with watches, watched paths and
// watches (wchs).
func (m *Manager) Stats() (conns, paths, watches int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]struct{})
	for _, t := range m.tables {
		for p, ids := range t {
			seen[p] = struct{}{}
			watches += len(ids)
		}
	}
	for _, c := range m.byConn {
		for _, s := range c {
			if len(s) > 0 {
				conns++
				break
			}
		}
	}
	return conns, len(seen), watches
}

// ByConn returns every connection's watched paths, sorted (wchc).
func (m *Manager) ByConn() map[ID][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[ID][]string)
	for id, c := range m.byConn {
		set := make(map[string]struct{})
		for _, s := range c {
			for p := range s {
				set[p] = struct{}{}
			}
		}
		if len(set) > 0 {
			out[id] = sortedKeys(set)
		}
	}
	return out
}

// Paths returns the paths with at least one watch of kind k, sorted.
func (m *Manager) Paths(k Kind) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.tables[k]))
	for p := range m.tables[k] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// ByPath returns every watched path with its connections (wchp).
func (m *Manager) ByPath() map[string][]ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	sets := make(map[string]map[ID]struct{})
	for _, t := range m.tables {
		for p, ids := range t {
			if sets[p] == nil {
				sets[p] = make(map[ID]struct{})
			}
			for id := range ids {
				sets[p][id] = struct{}{} // a connection with two kinds of watch is listed once
			}
		}
	}
	out := make(map[string][]ID, len(sets))
	for p, ids := range sets {
		for id := range ids {
			out[p] = append(out[p], id)
		}
	}
	for p := range out {
		sort.Slice(out[p], func(i, j int) bool { return out[p][i] < out[p][j] })
	}
	return out
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
