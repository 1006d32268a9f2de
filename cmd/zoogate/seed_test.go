package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testSeed returns the seed of a randomized process test: ZOOGATE_SEED when
// set, the clock otherwise. It logs the seed with the command that replays
// exactly this test (or subtest) with it.
func testSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("ZOOGATE_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("ZOOGATE_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with ZOOGATE_SEED=%d go test ./cmd/zoogate -run '%s' -count=1 -v)", seed, seed, runPattern(t.Name()))
	return seed
}

// runPattern is a -run pattern that selects exactly the test named name
// (t.Name(): "TestX" or "TestX/sub_test").
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func TestTestSeed(t *testing.T) {
	t.Setenv("ZOOGATE_SEED", "12345")
	if got := testSeed(t); got != 12345 {
		t.Fatalf("testSeed with ZOOGATE_SEED=12345: %d", got)
	}
	t.Run("3 voters", func(t *testing.T) {
		if got, want := runPattern(t.Name()), "^TestTestSeed$/^3_voters$"; got != want {
			t.Fatalf("runPattern(%q) = %q, want %q", t.Name(), got, want)
		}
	})
	if got, want := runPattern("TestA.b+"), `^TestA\.b\+$`; got != want {
		t.Fatalf("runPattern = %q, want %q", got, want)
	}
}
