package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/internal/testport"
)

// startZooKeeperEnsemble runs n Apache ZooKeeper servers as one ensemble
// (QuorumPeerMain, ports from testport), waits until every one serves and
// kills them when the test ends. opt.Cfg and opt.Props add to each
// server's zoo.cfg and system properties.
func startZooKeeperEnsemble(t *testing.T, n int, opt zkOptions) *zkEnsemble {
	t.Helper()
	java := requireZooKeeper(t)
	opt.Main = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	lines := []string{"initLimit=10", "syncLimit=5"}
	for id := 1; id <= n; id++ {
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", id, testport.Port(t), testport.Port(t)))
	}
	opt.Cfg = append(lines, opt.Cfg...)
	servers := make([]*zkServer, n)
	for i := range servers {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		z, err := spawnZooKeeper(t, java, opt, dir, testport.Port(t))
		if err != nil {
			t.Fatalf("zookeeper %d: %v", i+1, err)
		}
		servers[i] = z
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, z := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = z.waitServing(opt.StartTimeout) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("zookeeper %d of the ensemble: %v", i+1, err)
		}
	}
	return &zkEnsemble{t: t, java: java, opt: opt, servers: servers}
}

// zkEnsemble is a running ZooKeeper ensemble.
type zkEnsemble struct {
	t       *testing.T
	java    string
	opt     zkOptions
	servers []*zkServer
}

// restart starts server i again (after Stop) on its directory and port,
// without waiting for it.
func (e *zkEnsemble) restart(i int) {
	e.t.Helper()
	old := e.servers[i]
	_, p, _ := net.SplitHostPort(old.Addr)
	port, _ := strconv.Atoi(p)
	z, err := spawnZooKeeper(e.t, e.java, e.opt, old.Dir, port)
	if err != nil {
		e.t.Fatalf("zookeeper %d restart: %v", i+1, err)
	}
	e.servers[i] = z
}
