package bench

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgsDefaults(t *testing.T) {
	c, err := ParseArgs(nil, io.Discard)
	if err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("ParseArgs(nil) = %+v, want DefaultConfig() %+v", c, DefaultConfig())
	}
}

func TestParseArgsAllOptions(t *testing.T) {
	c, err := ParseArgs(strings.Fields(
		"--servers 127.0.0.1:1,127.0.0.1:2, --sessions 3 --outstanding 5 --read-ratio 0.25 --value-size 1024 "+
			"--keys 7 --mode watch --duration 3s --warmup 0s --rounds 9 --watch-timeout 2s --root /x/y "+
			"--session-timeout 4s --connect-timeout 5s --seed 42 --json --progress --log-level debug"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Servers: []string{"127.0.0.1:1", "127.0.0.1:2"}, Sessions: 3, Outstanding: 5, ReadRatio: 0.25,
		ValueSize: 1024, Keys: 7, Mode: ModeWatch, Client: ClientGoZK, Duration: 3 * time.Second, Rounds: 9,
		WatchTimeout: 2 * time.Second, Root: "/x/y", SessionTimeout: 4 * time.Second,
		ConnectTimeout: 5 * time.Second, Seed: 42, JSON: true, Progress: true, LogLevel: "debug",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseArgsOpsAloneMeansExactlyThatMany(t *testing.T) {
	c, err := ParseArgs([]string{"--ops", "500"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops != 500 || c.Duration != 0 {
		t.Fatalf("--ops alone: Ops=%d Duration=%v, want 500 and no time bound", c.Ops, c.Duration)
	}
	c, err = ParseArgs([]string{"--ops", "500", "--duration", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops != 500 || c.Duration != time.Second {
		t.Fatalf("--ops with --duration: Ops=%d Duration=%v, want both bounds", c.Ops, c.Duration)
	}
}

func TestParseArgsClient(t *testing.T) {
	for _, tc := range []struct {
		args string
		want Client
		bad  bool
	}{
		{"", ClientRaw, false},
		{"--client go-zk", ClientGoZK, false},
		{"--mode create-delete", ClientGoZK, false}, // only mixed mode has a raw loop
		{"--mode watch --client raw", "", true},
		{"--client grpc", "", true},
	} {
		c, err := ParseArgs(strings.Fields(tc.args), io.Discard)
		switch {
		case tc.bad && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "client:")):
			t.Errorf("%q: err = %v, want an invalid-config error naming client", tc.args, err)
		case !tc.bad && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case !tc.bad && c.Client != tc.want:
			t.Errorf("%q: client %q, want %q", tc.args, c.Client, tc.want)
		}
	}
}

func TestValidateReportsEveryProblemNamingTheField(t *testing.T) {
	_, err := ParseArgs(strings.Fields(
		"--servers nohost,127.0.0.1:99999 --sessions 0 --outstanding 0 --read-ratio 1.5 --value-size -1 "+
			"--keys 0 --mode bogus --duration 0s --warmup -1s --root relative --session-timeout 10ms "+
			"--log-level loud"), io.Discard)
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
	}
	for _, field := range []string{"servers[0]", "servers[1]", "sessions", "outstanding", "read-ratio",
		"value-size", "keys", "mode", "duration", "warmup", "root", "session-timeout", "log-level"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %q:\n%v", field, err)
		}
	}
}

func TestParseArgsFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--sessions", "many"},
		{"--no-such-flag"},
		{"--duration", "fast"},
	} {
		if _, err := ParseArgs(args, io.Discard); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v: err = %v, want ErrInvalidConfig", args, err)
		}
	}
	if _, err := ParseArgs([]string{"stray"}, io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("positional argument: err = %v, want ErrUsage", err)
	}
	if _, err := ParseArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}

func TestWatchModeMayBeBoundedByRoundsOnly(t *testing.T) {
	c := DefaultConfig()
	c.Mode, c.Duration, c.Rounds = ModeWatch, 0, 10
	if err := c.Validate(); err != nil {
		t.Fatalf("watch mode bounded by rounds: %v", err)
	}
	c.Mode = ModeMixed
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "duration:") {
		t.Fatalf("unbounded mixed run: err = %v, want a duration problem", err)
	}
}

func TestFailoverConfigValidation(t *testing.T) {
	c, err := ParseFailoverArgs([]string{"--servers", "127.0.0.1:1", "--kill-cmd", "true"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.writers() != 2 {
		t.Errorf("default writers for one server = %d, want 2", c.writers())
	}
	_, err = ParseFailoverArgs(strings.Fields("--servers x --trials 0 --settle -1s --trial-timeout 0s "+
		"--ready-timeout 0s --command-timeout 0s --writers -1 --value-size -2 --root / --session-timeout 1ms"), io.Discard)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	for _, field := range []string{"servers[0]", "kill-cmd", "trials", "settle", "trial-timeout", "ready-timeout",
		"command-timeout", "writers", "value-size", "root", "session-timeout"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %q:\n%v", field, err)
		}
	}
}

func TestToolConfigValidation(t *testing.T) {
	if _, err := ParsePopulateArgs(strings.Fields("--count 0 --fanout 0 --sessions 0 --outstanding 0 --root x"), io.Discard); err == nil {
		t.Error("invalid populate options accepted")
	} else {
		for _, f := range []string{"count", "fanout", "sessions", "outstanding", "root"} {
			if !strings.Contains(err.Error(), f+":") {
				t.Errorf("populate error does not name %q: %v", f, err)
			}
		}
	}
	if _, err := ParseWaitArgs(strings.Fields("--timeout 0s --since-unix-nano -1 --servers :"), io.Discard); err == nil {
		t.Error("invalid wait options accepted")
	} else {
		for _, f := range []string{"timeout", "since-unix-nano", "servers[0]"} {
			if !strings.Contains(err.Error(), f+":") {
				t.Errorf("wait error does not name %q: %v", f, err)
			}
		}
	}
	if _, err := ParseFsyncArgs(strings.Fields("--dir  --duration 0s --block-size 0"), io.Discard); err == nil {
		t.Error("invalid fsync options accepted")
	}
}

func TestValidatePath(t *testing.T) {
	for _, ok := range []string{"/a", "/a/b", "/zoogate-bench"} {
		if err := validatePath(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "/", "/a/", "/a//b", "/a/./b", "/a/..", "/a\x00b"} {
		if err := validatePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseKilledAt(t *testing.T) {
	at, rest, ok := ParseKilledAt("checking...\nkilled-at-unix-ns: 1700000000123456789\nkilled leader node 2\n")
	if !ok || at.UnixNano() != 1700000000123456789 {
		t.Fatalf("got %v %v, want the marked moment", at, ok)
	}
	if rest != "checking...\nkilled leader node 2" {
		t.Fatalf("rest = %q", rest)
	}
	for _, out := range []string{"", "killed", "killed-at-unix-ns: soon", "killed-at-unix-ns: -5"} {
		if _, _, ok := ParseKilledAt(out); ok {
			t.Errorf("%q: found a kill moment", out)
		}
	}
}

// FuzzParseArgs: any argument list either fails with a typed error or
// yields a configuration that validates.
func FuzzParseArgs(f *testing.F) {
	f.Add("--servers 127.0.0.1:2181 --sessions 4")
	f.Add("--mode watch --rounds 3 --duration 0s")
	f.Add("--ops 10 --read-ratio 0")
	f.Add("--root /a/b --value-size 1048576")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseArgs(strings.Fields(line), io.Discard)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, ErrUsage) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
	})
}

// FuzzParseKilledAt: the parser never panics, and what it strips is only
// marker lines.
func FuzzParseKilledAt(f *testing.F) {
	f.Add("killed-at-unix-ns: 1700000000000000000\nkilled leader node 1")
	f.Add("no marker")
	f.Add("killed-at-unix-ns:\nkilled-at-unix-ns: 9223372036854775807")
	f.Fuzz(func(t *testing.T, out string) {
		at, rest, ok := ParseKilledAt(out)
		if ok && at.UnixNano() <= 0 {
			t.Fatalf("accepted non-positive moment %v", at)
		}
		if strings.Contains(rest, KilledAtPrefix) {
			// Only unparsable marker lines may remain.
			for _, line := range strings.Split(rest, "\n") {
				if v, found := strings.CutPrefix(line, KilledAtPrefix); found {
					if _, _, ok2 := ParseKilledAt(KilledAtPrefix + v); ok2 {
						t.Fatalf("a valid marker line was left in %q", rest)
					}
				}
			}
		}
	})
}
