package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Where Debian's libzookeeper-mt-dev puts Apache ZooKeeper's C client.
const (
	cclientHeader  = "/usr/include/zookeeper/zookeeper.h"
	cclientInstall = "apt-get install libzookeeper-mt-dev gcc libc6-dev"
)

// buildCClient compiles tests/cclient/zkcheck.c against libzookeeper_mt
// into a temporary directory and returns the binary. A missing compiler or
// library fails the test with the install command.
func buildCClient(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(cclientHeader); err != nil {
		t.Fatalf("ZooKeeper's C client is not installed (%v): run `%s`", err, cclientInstall)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatalf("no C compiler on PATH (%v): run `%s`", err, cclientInstall)
	}
	src, _ := filepath.Abs("cclient/zkcheck.c")
	bin := filepath.Join(t.TempDir(), "zkcheck")
	out, err := runScript(t, 2*time.Minute, nil, cc, "-std=gnu11", "-Wall", "-O1",
		"-o", bin, src, "-lzookeeper_mt", "-lpthread")
	if err != nil {
		t.Fatalf("cc zkcheck.c -lzookeeper_mt: %v (run `%s`)\n%s", err, cclientInstall, out)
	}
	return bin
}

// runCClient runs zkcheck against hosts and fails the test unless it exits
// 0 with every check passed.
func runCClient(t *testing.T, bin, hosts string) {
	t.Helper()
	start := time.Now()
	out, err := runScript(t, 2*time.Minute, nil, bin, hosts)
	m := summaryLine.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] == "0" || m[2] != "0" {
		t.Fatalf("zkcheck against %s: %v\n%s", hosts, err, out)
	}
	t.Logf("zkcheck against %s: %s passed in %v", hosts, m[1], time.Since(start).Round(time.Millisecond))
	t.Log(strings.TrimSpace(out))
}

// TestCClient runs Apache ZooKeeper's C client (libzookeeper_mt, through
// tests/cclient/zkcheck.c: create, get, watches, multi, an ephemeral that
// goes with zookeeper_close, digest ACLs) against Apache ZooKeeper 3.8.0
// (so every expectation is ZooKeeper's), a 3-voter zoogate cluster (the
// connect string names all three) and a zoogate observer with local
// sessions.
func TestCClient(t *testing.T) {
	bin := buildCClient(t)
	t.Run("zookeeper", func(t *testing.T) {
		runCClient(t, bin, startZooKeeper(t, defaultZKOptions()).Addr)
	})
	t.Run("cluster", func(t *testing.T) {
		runCClient(t, bin, clusterHosts(startZoogateCluster(t)))
	})
	t.Run("observer", func(t *testing.T) {
		_, obs := startZoogateSite(t, true)
		runCClient(t, bin, obs.Addr().String())
	})
}
