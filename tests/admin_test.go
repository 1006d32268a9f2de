package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/internal/testport"
)

// servletJar is the servlet API Jetty needs for ZooKeeper's AdminServer:
// the zookeeper package's manifest puts Jetty on the class path but not
// it (without it ZooKeeper logs NoClassDefFoundError javax/servlet/Servlet
// and runs without an AdminServer).
const servletJar = "/usr/share/java/servlet-api.jar"

// adminHTTP bounds every admin request of these tests.
var adminHTTP = &http.Client{Timeout: 10 * time.Second}

// adminAnswer is one admin server answer, its JSON decoded with numbers
// kept as json.Number so integers and decimals stay apart.
type adminAnswer struct {
	status int
	body   map[string]any
	raw    string
}

func adminGet(t *testing.T, base, path string) adminAnswer {
	t.Helper()
	resp, err := adminHTTP.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	a := adminAnswer{status: resp.StatusCode, raw: string(raw)}
	if strings.HasPrefix(path, "/commands/") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			t.Fatalf("GET %s%s: not a JSON object: %v\n%s", base, path, err, raw)
		}
	}
	return a
}

// kind names a JSON value's type: null, bool, string, int, decimal,
// object, array.
func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return "decimal"
		}
		return "int"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// sameKind: the same JSON type; an integer where ZooKeeper writes a
// decimal is fine (Go writes 0.0 as 0), the other way round is not.
func sameKind(zk, zg any) bool {
	kz, kg := kind(zk), kind(zg)
	return kz == kg || kz == "decimal" && kg == "int"
}

// shapeRules say where zoogate's answer may differ from ZooKeeper's in
// its keys, per command.
type shapeRules struct {
	// zoogateOnly keys zoogate adds; zkOnly keys only ZooKeeper has
	// (monitor: ZooKeeper's JVM and pipeline internals).
	zoogateOnly, zkOnly map[string]bool
	anyZKOnly           bool // every ZooKeeper-only key is acceptable (monitor)
}

// idKeyed are objects keyed by session ids, paths or expiry times: their
// keys differ between servers; their values are compared.
var idKeyed = map[string]bool{"session_id_to_watched_paths": true, "path_to_session_ids": true,
	"expiry_time_to_session_ids": true, "session_id_to_ephemeral_paths": true}

// compareShape compares two JSON values field by field: key sets (per
// rules at the top level) and value types, recursively; arrays by their
// first elements when both have one. It returns the differences.
func compareShape(where string, zkv, zgv any, rules *shapeRules) []string {
	var out []string
	errorf := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if !sameKind(zkv, zgv) {
		errorf("%s: ZooKeeper has %s (%v), zoogate %s (%v)", where, kind(zkv), zkv, kind(zgv), zgv)
		return out
	}
	switch zkv := zkv.(type) {
	case map[string]any:
		zgm := zgv.(map[string]any)
		if idKeyed[where[strings.LastIndexByte(where, '.')+1:]] {
			zkVal, zgVal := firstValue(zkv), firstValue(zgm)
			if zkVal == nil || zgVal == nil {
				errorf("%s: empty on one side (ZooKeeper %d entries, zoogate %d): the load should fill both", where, len(zkv), len(zgm))
				return out
			}
			return append(out, compareShape(where+".<id>", zkVal, zgVal, nil)...)
		}
		for k, v := range zkv {
			w, ok := zgm[k]
			switch {
			case ok:
				out = append(out, compareShape(where+"."+k, v, w, nil)...)
			case rules == nil || !rules.anyZKOnly && !rules.zkOnly[k]:
				errorf("%s: ZooKeeper has key %q (%s), zoogate does not", where, k, kind(v))
			}
		}
		for k := range zgm {
			if _, ok := zkv[k]; !ok && (rules == nil || !rules.zoogateOnly[k]) {
				errorf("%s: zoogate has key %q, ZooKeeper does not", where, k)
			}
		}
	case []any:
		zga := zgv.([]any)
		if len(zkv) > 0 && len(zga) > 0 {
			out = append(out, compareShape(where+"[0]", zkv[0], zga[0], nil)...)
		} else if len(zkv) != len(zga) {
			errorf("%s: ZooKeeper has %d elements, zoogate %d: the load should fill both", where, len(zkv), len(zga))
		}
	}
	return out
}

// firstValue returns the value of m's first key (sorted) that is not an
// empty array (ZooKeeper's session expiry buckets can be emptied), nil if
// none.
func firstValue(m map[string]any) any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a, ok := m[k].([]any); !ok || len(a) > 0 {
			return m[k]
		}
	}
	return nil
}

// adminLoad gives a server the state every command has something to show:
// a session holding an ephemeral node and a data watch, and enough
// transactions (130) for ZooKeeper to record a digest (one per 128).
func adminLoad(t *testing.T, addr string) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 20*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/adm", []byte("x"), 0, acl); err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	if _, err := c.Create("/adm/eph", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	for i := 0; i < 130; i++ {
		if _, err := c.Create(fmt.Sprintf("/adm/n%d", i), nil, 0, acl); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	if _, _, _, err := c.GetW("/adm"); err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
}

// TestAdminAgainstZooKeeper compares zoogate's admin server with Apache
// ZooKeeper 3.8.0's AdminServer (Jetty, admin.enableServer=true), both
// standalone and under the same load: for every command zoogate shares
// with ZooKeeper, and every alias, the "command" it answers as, "error",
// the HTTP status, and the JSON field by field (key sets, value types;
// not values such as versions, ports or times). Unknown commands and
// other methods too; and every ZooKeeper-named metric of zoogate's
// /metrics is one ZooKeeper's monitor dumps, with the same kind (Debian's
// package has no PrometheusMetricsProvider to scrape; its names are the
// ones its monitor prints). What differs on purpose: monitor lists only the
// mntr keys zoogate has (ZooKeeper adds ~300 JVM and pipeline internals,
// logged here), plus zoogate's last_zxid; environment adds go.version and
// os.procs. ZooKeeper 3.8.0's AdminServer ignores 4lw.commands.whitelist
// (checked with curl), so the answer zoogate gives to a command outside
// its whitelist (403, ZooKeeper's error shape and the four-letter word's
// message) has no ZooKeeper counterpart to compare with; the cluster-only
// shape of leader (is_leader, leader_id, leader_ip) is ZooKeeper's
// LeaderCommand's as its documentation gives it, checked in core/server's
// TestAdminCluster, since a standalone ZooKeeper answers "server is not
// initialized" as zoogate does here.
func TestAdminAgainstZooKeeper(t *testing.T) {
	requireZooKeeper(t)
	if _, err := os.Stat(servletJar); err != nil {
		t.Fatalf("%s: ZooKeeper's AdminServer needs the servlet API (apt-get install libservlet-api-java): %v", servletJar, err)
	}
	adminPort := testport.Port(t)
	opt := defaultZKOptions()
	opt.Jars = []string{servletJar}
	opt.Cfg = []string{"admin.enableServer=true", fmt.Sprintf("admin.serverPort=%d", adminPort), "admin.serverAddress=127.0.0.1"}
	opt.Props = []string{"zookeeper.admin.enableServer=true", fmt.Sprintf("zookeeper.admin.serverPort=%d", adminPort),
		"zookeeper.admin.serverAddress=127.0.0.1"}
	z := startZooKeeper(t, opt)
	zkBase := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := adminHTTP.Get(zkBase + "/commands/ruok")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper's AdminServer on %s did not answer within 30s (%v); ZooKeeper's output:\n%s", zkBase, err, z.out.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of the AdminServer's start
	}

	cfg := zoogateConfig(t)
	cfg.AdminAddr = "127.0.0.1:0"
	srv, err := server.New(cfg, testLogger(t, "zoogate"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	zgBase := "http://" + srv.AdminAddr().String()

	adminLoad(t, z.Addr)
	adminLoad(t, srv.Addr().String())

	zoogateOwn := map[string]bool{"topology": true, "gossip": true}
	rules := map[string]*shapeRules{
		"monitor":     {zoogateOnly: map[string]bool{"last_zxid": true}, anyZKOnly: true},
		"environment": {zoogateOnly: map[string]bool{"go.version": true, "os.procs": true}},
	}
	// The mntr keys both must have: what dashboards for ZooKeeper read.
	monitorCore := []string{"version", "server_state", "avg_latency", "max_latency", "min_latency", "packets_received",
		"packets_sent", "num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
		"ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions", "open_file_descriptor_count",
		"max_file_descriptor_count", "auth_failed_count"}

	names := server.AdminCommandNames()
	var shared []string
	for name := range names {
		if !zoogateOwn[name] {
			shared = append(shared, name)
		}
	}
	sort.Strings(shared)
	for _, name := range shared {
		t.Run(name, func(t *testing.T) {
			path := "/commands/" + name
			if name == "set_trace_mask" {
				path += "?traceMask=306"
			}
			zka, zga := adminGet(t, zkBase, path), adminGet(t, zgBase, path)
			if zka.status != zga.status {
				t.Errorf("%s: HTTP %d from ZooKeeper, %d from zoogate", name, zka.status, zga.status)
			}
			if zka.body["command"] != zga.body["command"] || kind(zka.body["error"]) != kind(zga.body["error"]) {
				t.Errorf("%s: ZooKeeper answers command %v error %v, zoogate command %v error %v",
					name, zka.body["command"], zka.body["error"], zga.body["command"], zga.body["error"])
			}
			if _, ok := zga.body["error"]; !ok {
				t.Errorf("%s: zoogate's answer has no \"error\" key", name)
			}
			if kind(zka.body["error"]) == "string" && zka.body["error"] != zga.body["error"] {
				t.Errorf("%s: ZooKeeper's error %q, zoogate's %q", name, zka.body["error"], zga.body["error"])
			}
			for _, p := range compareShape(name, zka.body, zga.body, rules[name]) {
				t.Error(p)
			}
			if name == "monitor" {
				for _, k := range monitorCore {
					if _, ok := zka.body[k]; !ok {
						t.Errorf("monitor: ZooKeeper has no %s", k)
					}
					if _, ok := zga.body[k]; !ok {
						t.Errorf("monitor: zoogate has no %s", k)
					}
				}
				t.Logf("monitor: ZooKeeper has %d keys, zoogate %d", len(zka.body), len(zga.body))
			}
			if t.Failed() {
				t.Logf("%s from ZooKeeper:\n%s\nfrom zoogate:\n%s", name, zka.raw, zga.raw)
			}
			// Every alias answers as the same command on both.
			for _, alias := range names[name] {
				p := "/commands/" + alias
				if name == "set_trace_mask" {
					p += "?traceMask=306"
				}
				zkc, zgc := adminGet(t, zkBase, p).body["command"], adminGet(t, zgBase, p).body["command"]
				if zkc != name || zgc != name {
					t.Errorf("alias %s: ZooKeeper answers as %v, zoogate as %v, want %s", alias, zkc, zgc, name)
				}
			}
		})
	}

	// ZooKeeper's /commands page links every command zoogate shares, and
	// zoogate's links them too; ZooKeeper's others are logged.
	zkList, zgList := adminGet(t, zkBase, "/commands").raw, adminGet(t, zgBase, "/commands").raw
	for _, name := range shared {
		link := `href="/commands/` + name + `"`
		if !strings.Contains(zkList, link) || !strings.Contains(zgList, link) {
			t.Errorf("/commands: %s listed by ZooKeeper %v, by zoogate %v", name, strings.Contains(zkList, link), strings.Contains(zgList, link))
		}
	}
	var missing []string
	for _, line := range strings.Split(zkList, "\n") {
		if _, rest, ok := strings.Cut(line, `href="/commands/`); ok {
			name, _, _ := strings.Cut(rest, `"`)
			if _, known := names[name]; !known && !zoogateOwn[name] {
				missing = append(missing, name)
			}
		}
	}
	t.Logf("ZooKeeper commands zoogate does not have: %v", missing)

	// Every metric zoogate's /metrics exports is ZooKeeper's (its
	// Prometheus names are the metrics its monitor command dumps: a gauge
	// under its name, a summary as avg_<name>, min_<name>, ...), zoogate's
	// own, or the Go and process collectors'.
	zkMonitor := adminGet(t, zkBase, "/commands/monitor").body
	metricsText := adminGet(t, zgBase, "/metrics").raw
	zoogateMetrics := map[string]bool{"last_zxid": true, "current_epoch": true, "accepted_epoch": true,
		"held_remote_sessions": true, "upstream": true, "upstream_last_heard_ms": true, "observer_lag_txns": true,
		"observer_lag_ms": true, "site_lag_txns": true, "site_last_heard_ms": true, "connected_learners": true}
	seen := 0
	for _, line := range strings.Split(metricsText, "\n") {
		rest, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		name, typ, _ := strings.Cut(rest, " ")
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || zoogateMetrics[name] {
			continue
		}
		seen++
		_, gauge := zkMonitor[name]
		_, summary := zkMonitor["avg_"+name]
		if !(typ == "gauge" && gauge || typ == "summary" && summary) {
			t.Errorf("/metrics: %s (%s) is not a metric of ZooKeeper's monitor (gauge %v, summary %v)", name, typ, gauge, summary)
		}
	}
	if seen < 15 {
		t.Errorf("/metrics: only %d ZooKeeper metrics found:\n%s", seen, metricsText)
	}

	// An unknown command: 200 and the same error on both; another method:
	// 405 on both (ZooKeeper's page is HTML, zoogate's JSON).
	zka, zga := adminGet(t, zkBase, "/commands/nosuch"), adminGet(t, zgBase, "/commands/nosuch")
	if zka.status != zga.status || zka.body["error"] != zga.body["error"] || zka.body["command"] != zga.body["command"] {
		t.Errorf("unknown command: ZooKeeper %d %v, zoogate %d %v", zka.status, zka.body, zga.status, zga.body)
	}
	for _, base := range []string{zkBase, zgBase} {
		resp, err := adminHTTP.Post(base+"/commands/ruok", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s/commands/ruok: %d, want 405", base, resp.StatusCode)
		}
	}
}

// TestAdminShapeCompare checks the comparison TestAdminAgainstZooKeeper
// relies on: it reports a missing or extra key, a changed type and a
// decimal where ZooKeeper has an integer, and accepts equal shapes.
func TestAdminShapeCompare(t *testing.T) {
	decode := func(s string) map[string]any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	zkv := decode(`{"a": 1, "b": 0.5, "c": [{"x": "s"}], "session_id_to_watched_paths": {"7": ["/p"]}, "error": null}`)
	for _, tc := range []struct {
		zoogate string
		want    int // problems
	}{
		{`{"a": 2, "b": 0, "c": [{"x": "t"}], "session_id_to_watched_paths": {"9": ["/q"]}, "error": null}`, 0},
		{`{"a": 2, "b": 1, "c": [{"x": "t"}], "session_id_to_watched_paths": {"9": ["/q"]}}`, 1},                        // no error key
		{`{"a": 2, "b": 1, "c": [{"x": "t"}], "session_id_to_watched_paths": {"9": ["/q"]}, "error": null, "d": 1}`, 1}, // extra key
		{`{"a": "2", "b": 1, "c": [{"x": 1}], "session_id_to_watched_paths": {"9": [3]}, "error": null}`, 3},            // types
		{`{"a": 1.5, "b": 1, "c": [], "session_id_to_watched_paths": {}, "error": null}`, 3},                            // decimal, empty
	} {
		got := compareShape("cmd", zkv, decode(tc.zoogate), nil)
		if len(got) != tc.want {
			t.Errorf("zoogate %s: %d problems %v, want %d", tc.zoogate, len(got), got, tc.want)
		}
	}
}
