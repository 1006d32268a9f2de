package tests

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/core/server"
)

// testLogger routes hclog output to t.Log. ZOOGATE_TEST_LOG sets the level
// (default warn, so a passing run stays quiet).
func testLogger(t testing.TB, name string) hclog.Logger {
	level := hclog.Warn
	if v := os.Getenv("ZOOGATE_TEST_LOG"); v != "" {
		level = hclog.LevelFromString(v)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: tWriter{t}})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startZoogate runs an in-process zoogate server configured like the
// ZooKeeper of startZooKeeper: tick 200 ms, max session timeout 20 s, TTL
// nodes on, every four-letter word, the same super digest, and a reaper
// that never runs during a test.
func startZoogate(t testing.TB) *server.Server {
	t.Helper()
	cfg := zoogateConfig(t)
	srv, err := server.New(cfg, testLogger(t, "zoogate"))
	if err != nil {
		t.Fatalf("zoogate config: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("zoogate start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// zoogateConfig is the server config every zoogate of these tests uses.
func zoogateConfig(t testing.TB) server.Config {
	cfg := server.DefaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Tick = 200 * time.Millisecond
	cfg.MaxSessionTimeout = 20 * time.Second
	cfg.MaxClientCnxns = 0
	cfg.TTLNodes = true
	cfg.FourLetterWords = []string{"*"}
	cfg.SuperDigest = superDigest
	cfg.ContainerCheckInterval = time.Hour
	return cfg
}
