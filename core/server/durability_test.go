package server

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

func memConfig(mem *vfs.Mem) func(*Config) {
	return func(c *Config) {
		c.FS = mem
		c.DataDir = "/data"
		c.Log.SegmentSize = 64 << 10
		c.Log.Preallocate = 16 << 10
		c.SnapCount = 40
		c.PurgeInterval = 0
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	at := func(c *Config) { c.DataDir = dir; c.SnapCount = 10 }
	s := startServer(t, at)
	c, _ := connect(t, s)
	c.Create("/app", []byte("v0"), 0, open)
	var last string
	for i := 0; i < 25; i++ {
		last, _ = c.Create("/app/seq-", []byte(strconv.Itoa(i)), zk.FlagSequence, open)
		c.Set("/app", []byte("v"+strconv.Itoa(i)), -1)
	}
	if _, err := c.Create("/app/eph", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.Create("/app/after-snapshot", nil, 0, open)
	sid, pw := c.SessionID(), s.sessions.password(c.SessionID())
	zxid := s.LastZxid()
	digest := s.tree.Digest()
	s.Close()

	s2 := startServer(t, at)
	if s2.LastZxid() != zxid || s2.tree.Digest() != digest {
		t.Fatalf("after restart zxid %#x digest %x, want %#x %x", s2.LastZxid(), s2.tree.Digest(), zxid, digest)
	}
	// The session survives the restart: same id and password, ephemeral kept.
	r := dialRaw(t, s2)
	if resp := r.handshake(sid, pw, true); resp.SessionID != sid {
		t.Fatalf("session not resumed after restart: %+v", resp)
	}
	c2, _ := connect(t, s2)
	data, st, err := c2.Get("/app")
	if err != nil || string(data) != "v24" || st.Version != 25 {
		t.Fatalf("/app after restart: %q %+v %v", data, st, err)
	}
	if ok, _, _ := c2.Exists("/app/eph"); !ok {
		t.Fatal("ephemeral of a live session lost on restart")
	}
	// Sequence numbers and zxids continue, never go back.
	next, err := c2.Create("/app/seq-", nil, zk.FlagSequence, open)
	if err != nil || next <= last {
		t.Fatalf("sequence after restart %q, last before %q (%v)", next, last, err)
	}
	_, st, _ = c2.Get(next)
	if st.Czxid <= zxid {
		t.Fatalf("zxid went back: %#x <= %#x", st.Czxid, zxid)
	}
}

// TestCrashRecovery crashes the machine (the in-memory disk keeps what was
// fsynced plus a seeded random part of the rest) at a random moment under
// concurrent writes, many times. After recovery every acknowledged write is
// there, and the tree (snapshot + log replay) equals a replay of the whole
// log from the start.
func TestCrashRecovery(t *testing.T) {
	rounds := 12
	if os.Getenv("ZOOGATE_LONG") != "" {
		rounds = 200
	}
	base := time.Now().UnixNano()
	if v := os.Getenv("ZOOGATE_SEED"); v != "" {
		base, _ = strconv.ParseInt(v, 10, 64)
		rounds = 1
	}
	for i := 0; i < rounds; i++ {
		seed := base + int64(i)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("replay with: ZOOGATE_SEED=%d go test ./core/server -run TestCrashRecovery", seed)
				}
			}()
			crashRound(t, seed)
		})
	}
}

type acked struct {
	mu       sync.Mutex
	created  map[string]int64 // path -> czxid
	versions map[string]int32 // path -> highest acknowledged version
	maxZxid  int64
}

func crashRound(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	mem := vfs.NewMem()
	s := startServer(t, memConfig(mem))
	const writers = 4
	ack := &acked{created: map[string]int64{}, versions: map[string]int32{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		c, _ := connect(t, s)
		wg.Add(1)
		go func(w int, c *zk.Conn) {
			defer wg.Done()
			node := fmt.Sprintf("/w%d", w)
			if _, err := c.Create(node, nil, 0, open); err != nil {
				return
			}
			_, st, err := c.Get(node)
			if err != nil {
				return
			}
			ack.mu.Lock()
			ack.created[node] = st.Czxid
			ack.mu.Unlock()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p, err := c.Create(node+"/s-", []byte{byte(i)}, zk.FlagSequence, open)
				if err != nil {
					return
				}
				st, err := c.Set(node, []byte{byte(i)}, -1)
				if err != nil {
					return
				}
				ack.mu.Lock()
				ack.created[p] = 0
				ack.versions[node] = st.Version
				ack.maxZxid = max(ack.maxZxid, st.Mzxid)
				ack.mu.Unlock()
			}
		}(w, c)
	}
	// Crash after a random amount of acknowledged work.
	target := 20 + rng.Intn(200)
	waitFor(t, "acknowledged writes", 30*time.Second, func() bool {
		ack.mu.Lock()
		defer ack.mu.Unlock()
		return len(ack.created) >= target
	})
	ack.mu.Lock()
	crashed := mem.CrashClone(rng)
	snapshot := struct {
		created  map[string]int64
		versions map[string]int32
		maxZxid  int64
	}{clone(ack.created), clone(ack.versions), ack.maxZxid}
	ack.mu.Unlock()
	close(stop)
	s.Close()
	wg.Wait()

	s2 := startServer(t, memConfig(crashed))
	s2.mu.RLock()
	defer s2.mu.RUnlock()
	for p := range snapshot.created {
		if !s2.tree.Exists(p) {
			t.Fatalf("acknowledged create %s lost (recovered zxid %#x)", p, s2.tree.LastZxid())
		}
	}
	for p, v := range snapshot.versions {
		if st, _ := s2.tree.Stat(p); st.Version < v {
			t.Fatalf("acknowledged setData %s version %d lost (have %d)", p, v, st.Version)
		}
	}
	if s2.tree.LastZxid() < snapshot.maxZxid {
		t.Fatalf("zxid went back: %#x < acknowledged %#x", s2.tree.LastZxid(), snapshot.maxZxid)
	}
	oracle := replayWholeLog(t, crashed)
	if oracle.Digest() != s2.tree.Digest() {
		t.Fatalf("recovered tree differs from a full log replay:\n%s\nvs\n%s", s2.tree.Dump(), oracle.Dump())
	}
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func replayWholeLog(t *testing.T, fsys vfs.FS) *tree.Tree {
	t.Helper()
	lg, err := storage.OpenLog(fsys, "/data/log", storage.DefaultLogConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	tr := tree.New()
	err = lg.Iterate(0, func(r storage.Record) error {
		x, err := txn.Decode(r.Payload)
		if err != nil {
			return err
		}
		_, err = tr.Apply(x)
		return err
	})
	if err != nil {
		t.Fatalf("oracle replay: %v", err)
	}
	return tr
}

func TestLogFailureStopsWritesKeepsReads(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault vfs.Fault
	}{
		{"fsync fails", vfs.Fault{Op: vfs.OpSync, Path: "/data/log"}},
		{"disk full", vfs.Fault{Op: vfs.OpWrite, Path: "/data/log", Err: syscall.ENOSPC}},
		{"short write", vfs.Fault{Op: vfs.OpWrite, Path: "/data/log", ShortWrite: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			s := startServer(t, memConfig(mem))
			c, _ := connect(t, s)
			if _, err := c.Create("/before", []byte("ok"), 0, open); err != nil {
				t.Fatal(err)
			}
			mem.InjectFault(tc.fault)
			// The write under the failure gets no answer (its outcome is unknown).
			if _, err := c.Create("/during", nil, 0, open); err == nil {
				t.Fatal("a write whose log append failed was acknowledged")
			}
			if s.writesStopped() == nil {
				t.Fatal("server did not stop writes")
			}
			c2, _ := connect(t, s)
			if _, err := c2.Create("/after", nil, 0, open); err == nil || errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("write after the failure: %v", err)
			} else if !strings.Contains(err.Error(), "-119") {
				t.Fatalf("write after the failure should be NotReadOnly (-119): %v", err)
			}
			if data, _, err := c2.Get("/before"); err != nil || string(data) != "ok" {
				t.Fatalf("reads stopped too: %q %v", data, err)
			}
			s.mu.RLock()
			defer s.mu.RUnlock()
			if s.tree.Exists("/during") || s.tree.Exists("/after") {
				t.Fatal("an unlogged write reached the tree")
			}
		})
	}
}

func TestCorruptLogStopsStartup(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, func(c *Config) { c.DataDir = dir })
	c, _ := connect(t, s)
	for i := 0; i < 5; i++ {
		c.Create("/n"+strconv.Itoa(i), []byte("payload"), 0, open)
	}
	s.Close()
	// Flip a byte inside the first record: corruption, not a torn tail.
	segs, _ := os.ReadDir(dir + "/log")
	path := dir + "/log/" + segs[0].Name()
	b, _ := os.ReadFile(path)
	b[24+20] ^= 0xff
	os.WriteFile(path, b, 0o644)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.ClientAddr = "127.0.0.1:0"
	_, err := New(cfg, testLogger(t))
	if !errors.Is(err, ErrRecovery) || !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), segs[0].Name()) {
		t.Fatalf("want a recovery error naming %s, got %v", segs[0].Name(), err)
	}
}

func TestRecoverFallsBackToOlderSnapshot(t *testing.T) {
	dir := t.TempDir()
	at := func(c *Config) { c.DataDir = dir; c.PurgeInterval = 0 }
	s := startServer(t, at)
	c, _ := connect(t, s)
	c.Create("/a", nil, 0, open)
	s.Snapshot()
	c.Create("/b", nil, 0, open)
	s.Snapshot()
	c.Create("/c", nil, 0, open)
	s.Close()
	snaps, _ := os.ReadDir(dir + "/snap")
	newest := dir + "/snap/" + snaps[len(snaps)-1].Name()
	b, _ := os.ReadFile(newest)
	b[len(b)/2] ^= 0xff
	os.WriteFile(newest, b, 0o644)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.ClientAddr = "127.0.0.1:0"
	if _, err := New(cfg, testLogger(t)); !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "--recover") {
		t.Fatalf("corrupt snapshot without --recover: %v", err)
	}
	s2 := startServer(t, func(c *Config) { at(c); c.Recover = true })
	for _, p := range []string{"/a", "/b", "/c"} {
		if !s2.tree.Exists(p) {
			t.Fatalf("%s lost with --recover", p)
		}
	}
}
