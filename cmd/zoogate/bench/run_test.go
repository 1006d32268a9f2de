package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// shortConfig is a small, fast run against addr.
func shortConfig(addr string, mode Mode) Config {
	c := DefaultConfig()
	c.Servers = []string{addr}
	c.Mode = mode
	c.Sessions = 2
	c.Outstanding = 2
	c.Keys = 50
	c.Duration = 700 * time.Millisecond
	c.Warmup = 100 * time.Millisecond
	c.Root = "/bench-test"
	c.Seed = 7
	return c
}

func opByName(t *testing.T, r *Report, name string) OpStats {
	t.Helper()
	for _, o := range r.Ops {
		if o.Op == name {
			return o
		}
	}
	t.Fatalf("report has no %q row: %+v", name, r.Ops)
	return OpStats{}
}

func requireNoErrors(t *testing.T, r *Report) {
	t.Helper()
	if r.Total.Errors != 0 || len(r.Errors) != 0 {
		t.Fatalf("run saw errors: total=%d %v", r.Total.Errors, r.Errors)
	}
}

func TestRunMixedAgainstZooKeeper(t *testing.T) {
	for _, client := range []Client{ClientRaw, ClientGoZK} {
		t.Run(string(client), func(t *testing.T) { testRunMixed(t, client) })
	}
}

func testRunMixed(t *testing.T, client Client) {
	t.Parallel()
	addr := sharedServer(t)
	c := shortConfig(addr, ModeMixed)
	c.Client = client
	c.Root += "-" + string(client)
	c.ReadRatio = 0.5
	r, err := Run(context.Background(), c, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, r)
	get, set := opByName(t, r, "get"), opByName(t, r, "set")
	if get.Count == 0 || set.Count == 0 {
		t.Fatalf("mixed 50/50 run: get=%d set=%d, want both", get.Count, set.Count)
	}
	if r.Total.Count != get.Count+set.Count {
		t.Fatalf("total %d != get %d + set %d", r.Total.Count, get.Count, set.Count)
	}
	if r.ElapsedSeconds < c.Duration.Seconds() {
		t.Fatalf("measured %.3fs, shorter than --duration %v", r.ElapsedSeconds, c.Duration)
	}
	if get.Latency.P50 <= 0 || get.Latency.P99 < get.Latency.P50 || get.Latency.P999 < get.Latency.P99 || get.Latency.Max < get.Latency.P999 {
		t.Fatalf("latencies not ordered: %+v", get.Latency)
	}
	// The keys exist with values of the configured size.
	s, err := dialSession(context.Background(), []string{addr}, 10*time.Second, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	data, _, err := s.conn.Get(keyPath(c.Root, c.ValueSize, c.Keys-1))
	if err != nil || len(data) != c.ValueSize {
		t.Fatalf("last key: %d bytes, err %v; want %d bytes", len(data), err, c.ValueSize)
	}
}

func TestRunReadOnlyAndOpsBound(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	c := shortConfig(addr, ModeMixed)
	c.ReadRatio = 1
	c.Ops, c.Duration = 300, 0
	r, err := Run(context.Background(), c, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, r)
	if r.Total.Count != 300 {
		t.Fatalf("--ops 300 measured %d operations", r.Total.Count)
	}
	if len(r.Ops) != 1 || r.Ops[0].Op != "get" {
		t.Fatalf("read-ratio 1 ran %+v, want only get", r.Ops)
	}
}

func TestRunCreateDeleteLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	c := shortConfig(addr, ModeCreateDelete)
	r, err := Run(context.Background(), c, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, r)
	cr, del := opByName(t, r, "create"), opByName(t, r, "delete")
	if cr.Count == 0 || del.Count == 0 {
		t.Fatalf("create=%d delete=%d", cr.Count, del.Count)
	}
	if d := cr.Count - del.Count; d < -int64(c.Sessions*c.Outstanding) || d > int64(c.Sessions*c.Outstanding) {
		t.Fatalf("creates %d and deletes %d differ by more than one per worker", cr.Count, del.Count)
	}
	s, err := dialSession(context.Background(), []string{addr}, 10*time.Second, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	kids, _, err := s.conn.Children(c.Root + "/cd")
	if err != nil || len(kids) != 0 {
		t.Fatalf("after the run %s/cd has %d children (%v), want none", c.Root, len(kids), err)
	}
}

func TestRunEphemeralChurnsSessions(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	c := shortConfig(addr, ModeEphemeral)
	c.Outstanding = 1
	r, err := Run(context.Background(), c, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, r)
	for _, op := range []string{"connect", "create_ephemeral", "close"} {
		if opByName(t, r, op).Count == 0 {
			t.Fatalf("no %s measured", op)
		}
	}
	// Closed sessions took their ephemeral znodes with them.
	s, err := dialSession(context.Background(), []string{addr}, 10*time.Second, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	kids, _, err := s.conn.Children(c.Root + "/eph")
	if err != nil || len(kids) != 0 {
		t.Fatalf("ephemeral znodes left: %v (%v)", kids, err)
	}
}

func TestRunWatchNotifiesEveryWatcherEveryRound(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	c := shortConfig(addr, ModeWatch)
	c.Sessions = 3
	c.Rounds = 20
	c.Duration = 30 * time.Second // rounds end the run first
	r, err := Run(context.Background(), c, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, r)
	if r.Rounds != 20 {
		t.Fatalf("rounds = %d, want 20", r.Rounds)
	}
	if n := opByName(t, r, "notify").Count; n != 60 {
		t.Fatalf("notifications = %d, want 3 watchers x 20 rounds", n)
	}
	if n := opByName(t, r, "set").Count; n != 20 {
		t.Fatalf("writes = %d, want 20", n)
	}
	if n := opByName(t, r, "arm_watch").Count; n != 60 {
		t.Fatalf("arms = %d, want 60", n)
	}
}

func TestRunFailsClearlyWhenNoServerAnswers(t *testing.T) {
	c := shortConfig(fmt.Sprintf("127.0.0.1:%d", freePort(t)), ModeMixed)
	c.ConnectTimeout = 500 * time.Millisecond
	_, err := Run(context.Background(), c, nil, testLogger(t))
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
}

func TestMainJSONReportShape(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--servers", addr, "--sessions", "2", "--duration", "300ms",
		"--warmup", "0s", "--keys", "10", "--root", "/bench-test-json", "--json"}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"mode", "servers", "sessions", "outstanding", "read_ratio", "value_size", "keys", "seed",
		"started", "warmup_seconds", "elapsed_seconds", "ops", "total", "errors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report has no %q", k)
		}
	}
	ops, _ := m["ops"].([]any)
	if len(ops) == 0 {
		t.Fatalf("no ops in %s", out.String())
	}
	row := ops[0].(map[string]any)
	for _, k := range []string{"op", "count", "errors", "ops_per_sec", "latency"} {
		if _, ok := row[k]; !ok {
			t.Errorf("op row has no %q", k)
		}
	}
	lat := row["latency"].(map[string]any)
	for _, k := range []string{"p50_ms", "p99_ms", "p999_ms", "mean_ms", "min_ms", "max_ms"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency has no %q", k)
		}
	}
	if errb.Len() != 0 {
		t.Errorf("stderr not empty without --progress on a non-terminal: %q", errb.String())
	}
}

func TestMainTextReportAndProgress(t *testing.T) {
	t.Parallel()
	addr := sharedServer(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--servers", addr, "--sessions", "1", "--duration", "1500ms",
		"--warmup", "0s", "--keys", "10", "--root", "/bench-test-text", "--progress"}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"mode=mixed", "get", "set", "total", "p99.9 ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "ops/s") {
		t.Errorf("--progress printed no progress line: %q", errb.String())
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--sessions", "0"}, &out, &errb); code != ExitUsage {
		t.Errorf("invalid option: exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errb.String(), "sessions:") {
		t.Errorf("stderr does not name the bad option: %q", errb.String())
	}
	if code := run(context.Background(), []string{"--help"}, &out, &errb); code != ExitOK {
		t.Errorf("--help: exit %d, want 0", code)
	}
	if code := run(context.Background(), []string{"failover"}, &out, &errb); code != ExitUsage {
		t.Errorf("failover without --kill-cmd: exit %d, want %d", code, ExitUsage)
	}
}

// The report's per-op counts add up and the error table is filled by name.
func TestReportAccountsErrorsByName(t *testing.T) {
	s := newStats()
	now := time.Now()
	s.ok(opGet, now, now.Add(time.Millisecond))
	s.fail(opSet, zk.ErrNoNode, now)
	s.fail(opSet, fmt.Errorf("wrapped: %w", zk.ErrConnectionClosed), now)
	rows, total, errs := opStatsFrom(s, time.Second)
	if total.Count != 1 || total.Errors != 2 {
		t.Fatalf("total = %+v", total)
	}
	if errs["no_node"] != 1 || errs["connection_closed"] != 1 {
		t.Fatalf("errors = %v", errs)
	}
	if len(rows) != 2 || rows[0].Op != "get" || rows[1].Op != "set" || rows[1].Errors != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	var buf bytes.Buffer
	r := &Report{Mode: ModeMixed, Ops: rows, Total: total, Errors: errs}
	if err := r.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "no_node") {
		t.Fatalf("text report: %v\n%s", err, buf.String())
	}
}

// A server that drops the connection mid-run: the raw client counts every
// request in flight as connection_closed and the run still ends.
func TestRawClientCountsALostConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fakeServerThatHangsUpAfter(c, 5)
		}
	}()
	c := shortConfig(l.Addr().String(), ModeMixed)
	c.ReadRatio = 1
	c.Sessions, c.Outstanding = 1, 3
	c.Warmup, c.Duration = 0, 0
	c.Ops = 50
	r, err := runRaw(context.Background(), c, makeValue(c.ValueSize), nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	get := opByName(t, r, "get")
	if get.Count != 5 || get.Errors != 3 || r.Errors["connection_closed"] != 3 {
		t.Fatalf("get count %d errors %d (%v); want 5 answered and the 3 in flight failed as connection_closed", get.Count, get.Errors, r.Errors)
	}
}

// fakeServerThatHangsUpAfter answers the handshake and n requests with empty
// OK replies, then closes the connection.
func fakeServerThatHangsUpAfter(c net.Conn, n int) {
	defer c.Close()
	readFrame := func() []byte {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return nil
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			return nil
		}
		return b
	}
	if readFrame() == nil {
		return
	}
	resp := []byte{0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0x27, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16}
	resp = append(resp, make([]byte, 16)...)
	if _, err := c.Write(resp); err != nil {
		return
	}
	for i := 0; i < n; i++ {
		req := readFrame()
		if req == nil {
			return
		}
		reply := []byte{0, 0, 0, 16}
		reply = append(reply, req[0:4]...)         // xid
		reply = append(reply, make([]byte, 12)...) // zxid 0, err 0
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
	for i := 0; i < 3; i++ { // take the next requests without answering
		if readFrame() == nil {
			return
		}
	}
}

// The raw loop builds key paths by hand; they must be mixed mode's keys.
func TestRawSessionKeysAreKeyPaths(t *testing.T) {
	c := DefaultConfig()
	c.Keys = 2_000_000
	s := &rawSession{cfg: c, prefix: fmt.Sprintf("%s/v%d/k-", c.Root, c.ValueSize),
		rng: rand.New(rand.NewPCG(1, 2))}
	ref := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		want := keyPath(c.Root, c.ValueSize, ref.IntN(c.Keys))
		if got := s.key(); got != want {
			t.Fatalf("raw key %q, want %q", got, want)
		}
	}
}
