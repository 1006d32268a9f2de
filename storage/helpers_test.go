package storage

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/storage/vfs"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: from $ZOOGATE_SEED or the clock)")

// testSeed returns the seed of a randomized test, printed on failure so the
// run can be replayed with -seed or ZOOGATE_SEED.
func testSeed(t testing.TB) int64 {
	s := *seedFlag
	if s == 0 {
		if env, err := strconv.ParseInt(os.Getenv("ZOOGATE_SEED"), 10, 64); err == nil {
			s = env
		}
	}
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with -seed=%d (or ZOOGATE_SEED=%d)", s, s)
		}
	})
	return s
}

// tWriter routes log output to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// captureWriter keeps log output for assertions and forwards it to t.Log.
type captureWriter struct {
	t   testing.TB
	buf *syncBuffer
}

func (w captureWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return tWriter{w.t}.Write(p)
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: tWriter{t}})
}

func captureLogger(t testing.TB) (hclog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: captureWriter{t, buf}}), buf
}

// smallConfig uses tiny segments so that tests cross segment boundaries.
func smallConfig() LogConfig {
	c := DefaultLogConfig()
	c.SegmentSize = 4 << 10
	c.Preallocate = 2 << 10
	c.MaxRecordSize = 8 << 10
	c.MaxBatchBytes = 16 << 10
	return c
}

// payloadFor is the deterministic payload of a zxid in tests: its length
// and bytes both depend on the zxid.
func payloadFor(zxid int64) []byte {
	n := int(zxid*7919) % 200
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(zxid>>uint(i%8*8)) ^ byte(i*31)
	}
	return []byte(fmt.Sprintf("z%x:", zxid) + string(b))
}

func recs(zxids ...int64) []Record {
	out := make([]Record, len(zxids))
	for i, z := range zxids {
		out[i] = Record{Zxid: z, Payload: payloadFor(z)}
	}
	return out
}

func zxidRange(from, to int64) []int64 {
	var out []int64
	for z := from; z <= to; z++ {
		out = append(out, z)
	}
	return out
}

func openLog(t testing.TB, fsys vfs.FS, dir string, cfg LogConfig) *Log {
	t.Helper()
	l, err := OpenLog(fsys, dir, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("OpenLog: %v", err)
	}
	return l
}

// readAll returns every record of the log.
func readAll(t testing.TB, l *Log, from int64) []Record {
	t.Helper()
	var out []Record
	if err := l.Iterate(from, func(r Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	return out
}

// checkRecords asserts that got holds exactly the zxids want, each with its
// test payload.
func checkRecords(t testing.TB, got []Record, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records %v, want %d %v", len(got), zxidsOf(got), len(want), want)
	}
	for i, r := range got {
		if r.Zxid != want[i] {
			t.Fatalf("record %d: zxid %#x, want %#x (all: %v)", i, r.Zxid, want[i], zxidsOf(got))
		}
		if !bytes.Equal(r.Payload, payloadFor(r.Zxid)) {
			t.Fatalf("record %#x: payload differs", r.Zxid)
		}
	}
}

func zxidsOf(rs []Record) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.Zxid
	}
	return out
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
