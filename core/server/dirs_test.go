package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/peer"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// segmentsIn lists the log segment files (log.*) of dir.
func segmentsIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestLogDirHoldsTheLog: with LogDir set, the transaction log is written
// under <LogDir>/log and nothing under <DataDir>/log, a restart recovers
// from it, and the four-letter words report both directories.
func TestLogDirHoldsTheLog(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	at := func(c *Config) { c.DataDir, c.LogDir = dataDir, logDir }
	s := startServer(t, at)
	c, _ := connect(t, s)
	for i := 0; i < 10; i++ {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte("x"), 0, open); err != nil {
			t.Fatal(err)
		}
	}
	if out := fourLW(t, s, "conf"); !strings.Contains(out, "dataLogDir="+filepath.Join(logDir, "log")+"\n") ||
		!strings.Contains(out, "dataDir="+dataDir+"\n") {
		t.Errorf("conf does not report the directories:\n%s", out)
	}
	if out := fourLW(t, s, "dirs"); strings.Contains(out, "logdir_size: 0\n") {
		t.Errorf("dirs reports an empty log:\n%s", out)
	}
	c.Close()
	s.Close()
	zxid := s.LastZxid()

	if segs := segmentsIn(t, filepath.Join(logDir, "log")); len(segs) == 0 {
		t.Fatalf("no log segment in %s/log", logDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "log")); !os.IsNotExist(err) {
		t.Fatalf("%s/log exists (%v): the log went to the data dir", dataDir, err)
	}
	for _, dir := range []string{dataDir, logDir} {
		if _, err := os.Stat(filepath.Join(dir, storage.LockFile)); err != nil {
			t.Errorf("no lock file in %s: %v", dir, err)
		}
	}
	// No snapshot was taken: everything comes back from the log in LogDir.
	if snaps, _ := os.ReadDir(filepath.Join(dataDir, "snap")); len(snaps) != 0 {
		t.Fatalf("unexpected snapshots %v", snaps)
	}
	s2 := startServer(t, at)
	if s2.LastZxid() != zxid {
		t.Fatalf("after restart zxid %#x, want %#x", s2.LastZxid(), zxid)
	}
	for i := 0; i < 10; i++ {
		if !s2.tree.Exists(fmt.Sprintf("/n%d", i)) {
			t.Fatalf("/n%d lost: the restart did not read the log in LogDir", i)
		}
	}
}

// TestLogDirCluster: cluster members keep the log in LogDir too (and
// their epoch files in DataDir), across a restart of the whole ensemble.
func TestLogDirCluster(t *testing.T) {
	nw := peer.NewMemNetwork()
	t.Cleanup(nw.Close)
	voters := []uint64{1, 2, 3}
	dataDirs, logDirs := map[uint64]string{}, map[uint64]string{}
	for _, id := range voters {
		dataDirs[id], logDirs[id] = t.TempDir(), t.TempDir()
	}
	start := func() []*Server {
		var servers []*Server
		for _, id := range voters {
			servers = append(servers, startServer(t, func(c *Config) {
				c.ServerID, c.DataDir, c.LogDir = id, dataDirs[id], logDirs[id]
				c.Tick = 50 * time.Millisecond
				c.MinSessionTimeout, c.MaxSessionTimeout = 2*time.Second, 10*time.Second
				c.SessionSecret = "logdir-cluster"
				c.Cluster = &ClusterConfig{Voters: voters, InitLimit: 20, SyncLimit: 10, Transport: nw.Transport(id)}
			}))
		}
		waitFor(t, "a serving leader", 20*time.Second, func() bool {
			for _, s := range servers {
				if s.isLeader() && s.serving() {
					return true
				}
			}
			return false
		})
		return servers
	}
	servers := start()
	var leader *Server
	for _, s := range servers {
		if s.isLeader() {
			leader = s
		}
	}
	c, _ := connect(t, leader)
	if _, err := c.Create("/kept", []byte("v"), 0, open); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, s := range servers {
		s.Close()
	}
	for _, id := range voters {
		if len(segmentsIn(t, filepath.Join(logDirs[id], "log"))) == 0 {
			t.Errorf("server %d: no log segment in its LogDir", id)
		}
		if _, err := os.Stat(filepath.Join(dataDirs[id], "log")); !os.IsNotExist(err) {
			t.Errorf("server %d: %s/log exists (%v)", id, dataDirs[id], err)
		}
		if _, err := os.Stat(filepath.Join(dataDirs[id], storage.CurrentEpochFile)); err != nil {
			t.Errorf("server %d: no epoch file in the data dir: %v", id, err)
		}
	}
	servers = start()
	for _, s := range servers {
		if s.isLeader() {
			c, _ := connect(t, s)
			if data, _, err := c.Get("/kept"); err != nil || string(data) != "v" {
				t.Fatalf("/kept after restarting the ensemble: %q %v", data, err)
			}
		}
	}
}

// TestDataDirLocked: a second server on a data directory (or on a log
// directory) another one holds is refused, with an error naming the
// directory and the holder's pid; once the first closes, it starts.
func TestDataDirLocked(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	first := startServer(t, func(c *Config) { c.DataDir, c.LogDir = dataDir, logDir })
	for name, mod := range map[string]func(*Config){
		"same data dir": func(c *Config) { c.DataDir = dataDir },
		"same log dir":  func(c *Config) { c.DataDir, c.LogDir = t.TempDir(), logDir },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ClientAddr = "127.0.0.1:0"
			cfg.ServerID = 2
			mod(&cfg)
			_, err := New(cfg, testLogger(t))
			var le *storage.DirLockedError
			if !errors.Is(err, storage.ErrDirLocked) || !errors.Is(err, ErrRecovery) || !errors.As(err, &le) {
				t.Fatalf("second server: %v, want a storage.ErrDirLocked", err)
			}
			dir := dataDir
			if cfg.LogDir == logDir {
				dir = logDir
			}
			for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid()), "zoogate server 1, clients on 127.0.0.1:0"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
	first.Close()
	s := startServer(t, func(c *Config) { c.DataDir, c.LogDir = dataDir, logDir })
	s.Close()
}

// TestDataDirLockedMem: the in-memory FS locks too, so tests that run two
// servers on one vfs.Mem see the same refusal.
func TestDataDirLockedMem(t *testing.T) {
	mem := vfs.NewMem()
	first := startServer(t, memConfig(mem))
	cfg := DefaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	memConfig(mem)(&cfg)
	if _, err := New(cfg, testLogger(t)); !errors.Is(err, storage.ErrDirLocked) || !strings.Contains(err.Error(), "/data") {
		t.Fatalf("second server on the same vfs.Mem: %v", err)
	}
	first.Close()
	startServer(t, memConfig(mem))
}

// TestMovedLogDirWarns: a restart whose log directory is new while
// snapshots exist (log_dir changed, the old log lost or put elsewhere)
// says so.
func TestMovedLogDirWarns(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, func(c *Config) { c.DataDir = dataDir })
	c, _ := connect(t, s)
	c.Create("/a", nil, 0, open)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	os.RemoveAll(filepath.Join(dataDir, "log"))
	var out syncBuffer
	cfg := DefaultConfig()
	cfg.ClientAddr, cfg.DataDir, cfg.LogDir = "127.0.0.1:0", dataDir, t.TempDir()
	s2, err := New(cfg, hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Warn}))
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if !strings.Contains(out.String(), "transaction log directory did not") {
		t.Fatalf("no warning about the new log directory:\n%s", out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestLogLeftInDataDirRefused: setting LogDir on a data directory whose
// log is still in <DataDir>/log stops the start (it would lose the
// transactions after the snapshot) until the log is moved.
func TestLogLeftInDataDirRefused(t *testing.T) {
	dataDir, logDir := t.TempDir(), t.TempDir()
	s := startServer(t, func(c *Config) { c.DataDir = dataDir })
	c, _ := connect(t, s)
	c.Create("/after-no-snapshot", nil, 0, open)
	c.Close()
	s.Close()
	cfg := DefaultConfig()
	cfg.ClientAddr, cfg.DataDir, cfg.LogDir = "127.0.0.1:0", dataDir, logDir
	_, err := New(cfg, testLogger(t))
	if !errors.Is(err, ErrLogElsewhere) || !errors.Is(err, ErrRecovery) || !strings.Contains(err.Error(), filepath.Join(dataDir, "log")) {
		t.Fatalf("LogDir set with the log left in the data dir: %v", err)
	}
	if err := os.Rename(filepath.Join(dataDir, "log"), filepath.Join(logDir, "log")); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, func(c *Config) { c.DataDir, c.LogDir = dataDir, logDir })
	if !s2.tree.Exists("/after-no-snapshot") {
		t.Fatal("write lost after moving the log")
	}
}
