package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/server"
)

// curatorJars are Debian's Curator jars; the manifest of each names what
// it needs (guava, slf4j-api, zookeeper, zookeeper-jute) in its Class-Path,
// so these and the slf4j binding are the whole class path.
var curatorJars = []string{
	"/usr/share/java/curator-recipes.jar",
	"/usr/share/java/curator-framework.jar",
	"/usr/share/java/curator-client.jar",
}

const curatorInstall = "apt-get install libcurator-recipes-java libcurator-framework-java libcurator-client-java default-jdk-headless"

// summaryLine is the last line of the Curator program and the C client
// check: "N passed, M failed".
var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// buildCurator compiles tests/curator/CuratorRecipes.java into a temporary
// directory and returns java and the class path to run it with. A missing
// JDK or Curator package fails the test with the install command.
func buildCurator(t *testing.T) (java, classpath string) {
	t.Helper()
	for _, jar := range curatorJars {
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("Curator is not installed (%v): run `%s`", err, curatorInstall)
		}
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("no javac on PATH (%v): run `%s`", err, curatorInstall)
	}
	if java, err = exec.LookPath("java"); err != nil {
		t.Fatalf("no java on PATH (%v): run `%s`", err, curatorInstall)
	}
	jars := strings.Join(curatorJars, ":")
	if _, err := os.Stat(zkLogJar); err == nil {
		jars += ":" + zkLogJar
	}
	classes := t.TempDir()
	src, _ := filepath.Abs("curator/CuratorRecipes.java")
	if out, err := runScript(t, 2*time.Minute, nil, javac, "-nowarn", "-encoding", "UTF-8",
		"-cp", jars, "-d", classes, src); err != nil {
		t.Fatalf("javac CuratorRecipes.java: %v\n%s", err, out)
	}
	return java, classes + ":" + jars
}

// runCurator runs the compiled Curator program against hosts (a connect
// string) and fails the test unless it exits 0 with every check passed.
func runCurator(t *testing.T, java, classpath, hosts string) {
	t.Helper()
	start := time.Now()
	out, err := runScript(t, 3*time.Minute, nil, java,
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
		"-cp", classpath, "CuratorRecipes", hosts)
	m := summaryLine.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] == "0" || m[2] != "0" {
		t.Fatalf("CuratorRecipes against %s: %v\n%s", hosts, err, out)
	}
	t.Logf("CuratorRecipes against %s: %s passed in %v", hosts, m[1], time.Since(start).Round(time.Millisecond))
	t.Log(strings.TrimSpace(out))
}

// clusterHosts is the connect string naming every server of a cluster.
func clusterHosts(servers []*server.Server) string {
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.Addr().String()
	}
	return strings.Join(addrs, ",")
}

// TestCuratorRecipes runs Apache Curator's recipes (tests/curator: mutex,
// leader latch and selector, atomic long, caches, queue, shared count,
// persistent ephemeral node, transactions), each checked by what it does,
// against Apache ZooKeeper 3.8.0 (so every expectation is ZooKeeper's), a
// 3-voter zoogate cluster (the connect string names all three) and a
// zoogate observer with local sessions (its ephemerals upgrade them; its
// writes are forwarded).
func TestCuratorRecipes(t *testing.T) {
	java, classpath := buildCurator(t)
	t.Run("zookeeper", func(t *testing.T) {
		runCurator(t, java, classpath, startZooKeeper(t, defaultZKOptions()).Addr)
	})
	t.Run("cluster", func(t *testing.T) {
		runCurator(t, java, classpath, clusterHosts(startZoogateCluster(t)))
	})
	t.Run("observer", func(t *testing.T) {
		_, obs := startZoogateSite(t, true)
		runCurator(t, java, classpath, obs.Addr().String())
	})
}
