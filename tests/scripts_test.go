package tests

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

var updateFlag = flag.Bool("update", false, "TestZkCliTranscriptAgainstZooKeeper: rewrite tests/zkcli/expected.txt from ZooKeeper's answers")

// debianPython has python3-kazoo; the python3 first on PATH may not.
const debianPython = "/usr/bin/python3"

// runScript runs a client script with a time limit and returns its output.
func runScript(t *testing.T, limit time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v:\n%s", name, limit, out)
	}
	return string(out), err
}

// TestZkCliTranscriptAgainstZooKeeper checks that tests/zkcli/expected.txt
// is ZooKeeper 3.8.0's real answer to the zkCli script (with -update it
// rewrites the file from that answer). scripts/test-clients.sh then holds
// zoogate to the same transcript.
func TestZkCliTranscriptAgainstZooKeeper(t *testing.T) {
	z := startZooKeeper(t, binaryZKOptions())
	if _, err := os.Stat(zkCliPath); err != nil {
		t.Fatalf("%s (%v)", installMsg, err)
	}
	var env []string
	if *updateFlag {
		env = append(env, "ZKCLI_UPDATE=1")
	}
	out, err := runScript(t, 5*time.Minute, env, "bash", "zkcli/zkcli.sh", z.Addr)
	if err != nil {
		t.Fatalf("zkcli.sh against ZooKeeper %s: %v\n%s", z.Addr, err, out)
	}
	t.Log(strings.TrimSpace(out))
}

// TestKazooScriptAgainstZooKeeper checks that every assertion of the Kazoo
// script holds on ZooKeeper 3.8.0 itself, so a failure against zoogate is
// zoogate's.
func TestKazooScriptAgainstZooKeeper(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import kazoo").Run(); err != nil {
		t.Fatalf("%s cannot import kazoo (%v): run `apt-get install python3-kazoo`", debianPython, err)
	}
	z := startZooKeeper(t, binaryZKOptions())
	out, err := runScript(t, 5*time.Minute, nil, debianPython, "kazoo/kazoo_test.py", "--hosts", z.Addr)
	if err != nil {
		t.Fatalf("kazoo_test.py against ZooKeeper %s: %v\n%s", z.Addr, err, out)
	}
	summary := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindStringSubmatch(out)
	if summary == nil || summary[1] == "0" {
		t.Fatalf("kazoo_test.py printed no passing summary:\n%s", out)
	}
	t.Logf("kazoo against ZooKeeper: %s passed", summary[1])
}
