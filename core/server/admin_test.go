package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// adminClient is bounded in time: no admin test waits forever on a reply.
var adminClient = &http.Client{Timeout: 10 * time.Second}

// adminGet sends method to the admin server of s and returns the status,
// the headers and the body.
func adminDo(t *testing.T, s *Server, method, path, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.AdminAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// adminJSON GETs /commands/<name> and decodes the JSON object it answers.
func adminJSON(t *testing.T, s *Server, name, token string) (int, map[string]any) {
	t.Helper()
	status, hdr, body := adminDo(t, s, http.MethodGet, "/commands/"+name, token)
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("/commands/%s: Content-Type %q, want application/json; body %s", name, ct, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("/commands/%s: not a JSON object: %v\n%s", name, err, body)
	}
	return status, m
}

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// expectKeys checks that m has exactly the keys want (plus command and
// error), and that command and error are what a success answers.
func expectKeys(t *testing.T, name string, m map[string]any, command string, want ...string) {
	t.Helper()
	want = append(want, "command", "error")
	sort.Strings(want)
	if got := keysOf(m); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: keys %v, want %v", name, got, want)
	}
	if m["command"] != command || m["error"] != nil {
		t.Errorf("%s: command %v error %v, want %s and null", name, m["command"], m["error"], command)
	}
}

// TestAdminCommands runs every command against a standalone server a
// go-zookeeper client is using: ZooKeeper's names, aliases and keys, and
// values that reflect the client's session, watches and ephemeral.
func TestAdminCommands(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	c, _ := connect(t, s)
	if _, err := c.Create("/a", []byte("x"), 0, open); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/e", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.GetW("/a"); err != nil {
		t.Fatal(err)
	}
	sid := float64(c.SessionID())

	for name, keys := range map[string][]string{
		"ruok":            nil,
		"server_stats":    {"version", "read_only", "server_stats", "client_response", "node_count"},
		"stats":           {"version", "read_only", "server_stats", "client_response", "node_count", "connections", "secure_connections"},
		"configuration":   {"client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout", "server_id", "client_port_listen_backlog"},
		"connections":     {"connections", "secure_connections"},
		"watch_summary":   {"num_connections", "num_paths", "num_total_watches"},
		"watches":         {"session_id_to_watched_paths"},
		"watches_by_path": {"path_to_session_ids"},
		"dump":            {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths"},
		"is_read_only":    {"read_only"},
		"dirs":            {"datadir_size", "logdir_size"},
		"hash":            {"digests"},
		"zabstate":        {"voting", "zabstate"},
		"get_trace_mask":  {"tracemask"},
		"gossip":          {"view"},
		"topology":        {"cluster", "server_id", "server_state", "sites", "nodes"},
	} {
		status, m := adminJSON(t, s, name, "")
		if status != http.StatusOK {
			t.Errorf("%s: status %d", name, status)
		}
		expectKeys(t, name, m, name, keys...)
	}

	// Values that follow the client's state.
	_, m := adminJSON(t, s, "connections", "")
	conns := m["connections"].([]any)
	if len(conns) != 1 || conns[0].(map[string]any)["session_id"] != sid {
		t.Errorf("connections: %v, want one with session %v", conns, sid)
	}
	_, m = adminJSON(t, s, "watches_by_path", "")
	if ids := m["path_to_session_ids"].(map[string]any)["/a"]; len(ids.([]any)) != 1 || ids.([]any)[0] != sid {
		t.Errorf("watches_by_path: %v, want /a watched by %v", m, sid)
	}
	_, m = adminJSON(t, s, "dump", "")
	eph := m["session_id_to_ephemeral_paths"].(map[string]any)
	if len(eph) != 1 || len(eph[formatSID(c.SessionID())].([]any)) != 1 {
		t.Errorf("dump: ephemerals %v, want /e of %d", eph, c.SessionID())
	}
	_, m = adminJSON(t, s, "server_stats", "")
	if st := m["server_stats"].(map[string]any); st["server_state"] != "standalone" || st["num_alive_client_connections"] != 1.0 {
		t.Errorf("server_stats: %v", st)
	}
	_, m = adminJSON(t, s, "monitor", "")
	if m["znode_count"] != float64(s.tree.NodeCount()) || m["ephemerals_count"] != 1.0 || m["watch_count"] != 1.0 || m["command"] != "monitor" {
		t.Errorf("monitor: %v", m)
	}
	if _, ok := m["version"].(string); !ok {
		t.Errorf("monitor: version %v, want a string", m["version"])
	}

	// Aliases answer as their command.
	for alias, command := range map[string]string{"srvr": "server_stats", "stat": "stats", "mntr": "monitor", "conf": "configuration",
		"config": "configuration", "cons": "connections", "envi": "environment", "env": "environment", "wchs": "watch_summary",
		"wchc": "watches", "wchp": "watches_by_path", "isro": "is_read_only", "lead": "leader", "gtmk": "get_trace_mask",
		"crst": "connection_stat_reset", "srst": "stat_reset", "gsip": "gossip"} {
		if _, m := adminJSON(t, s, alias, ""); m["command"] != command {
			t.Errorf("%s answered as %v, want %s", alias, m["command"], command)
		}
	}

	// The trace mask round-trips; a bad one is a JSON error.
	if _, m := adminJSON(t, s, "stmk?traceMask=306", ""); m["tracemask"] != 306.0 || m["error"] != nil {
		t.Errorf("set_trace_mask: %v", m)
	}
	if status, m := adminJSON(t, s, "set_trace_mask?traceMask=abc", ""); status != http.StatusOK || m["error"] != "setTraceMask requires long traceMask argument, got abc" {
		t.Errorf("set_trace_mask abc: %d %v", status, m)
	}
	// A standalone server has no leader, as ZooKeeper says.
	if _, m := adminJSON(t, s, "leader", ""); m["error"] != "server is not initialized" || m["command"] != "leader" {
		t.Errorf("leader standalone: %v", m)
	}
	// Stat reset zeroes the counters.
	adminJSON(t, s, "srst", "")
	if _, m := adminJSON(t, s, "srvr", ""); m["server_stats"].(map[string]any)["packets_received"] != 0.0 {
		t.Errorf("packets_received after stat_reset: %v", m["server_stats"])
	}

	// /commands lists every command by its primary name.
	status, _, body := adminDo(t, s, http.MethodGet, "/commands", "")
	if status != http.StatusOK {
		t.Fatalf("/commands: %d", status)
	}
	for name := range AdminCommandNames() {
		if !strings.Contains(string(body), `href="/commands/`+name+`"`) {
			t.Errorf("/commands does not list %s:\n%s", name, body)
		}
	}
}

func formatSID(sid int64) string { b, _ := json.Marshal(sid); return string(b) }

// TestAdminBadInput: unknown commands, other methods and other pages get a
// JSON error, never a panic or an HTML page.
func TestAdminBadInput(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	status, m := adminJSON(t, s, "nosuch", "")
	if status != http.StatusOK || m["command"] != "nosuch" || m["error"] != "Unknown command: nosuch" {
		t.Errorf("unknown command: %d %v (ZooKeeper answers 200 with this error)", status, m)
	}
	if _, m := adminJSON(t, s, "ruok/extra", ""); m["error"] != "Unknown command: ruok/extra" {
		t.Errorf("ruok/extra: %v", m)
	}
	for _, path := range []string{"/commands/ruok", "/commands", "/metrics"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			status, hdr, body := adminDo(t, s, method, path, "")
			var m map[string]any
			if status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" || json.Unmarshal(body, &m) != nil ||
				!strings.Contains(m["error"].(string), method) {
				t.Errorf("%s %s: %d Allow %q %s", method, path, status, hdr.Get("Allow"), body)
			}
		}
	}
	status, _, body := adminDo(t, s, http.MethodGet, "/nope", "")
	var nf map[string]any
	if status != http.StatusNotFound || json.Unmarshal(body, &nf) != nil || nf["error"] == nil {
		t.Errorf("/nope: %d %s", status, body)
	}
	if status, _, _ := adminDo(t, s, http.MethodHead, "/commands/ruok", ""); status != http.StatusOK {
		t.Errorf("HEAD ruok: %d", status)
	}
}

// TestAdminWhitelist: a command whose four-letter word is not whitelisted
// is refused with 403 and the four-letter word's message; commands
// without a four-letter word (leader, topology) always run.
func TestAdminWhitelist(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.AdminAddr = "127.0.0.1:0"
		c.FourLetterWords = []string{"ruok", "srvr"}
	})
	for _, name := range []string{"ruok", "server_stats", "srvr", "topology", "zabstate"} {
		if status, m := adminJSON(t, s, name, ""); status != http.StatusOK || m["error"] != nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	for name, word := range map[string]string{"stats": "stat", "mntr": "mntr", "dump": "dump", "watches": "wchc", "environment": "envi"} {
		status, m := adminJSON(t, s, name, "")
		want := word + " is not executed because it is not in the whitelist."
		if status != http.StatusForbidden || m["error"] != want {
			t.Errorf("%s: %d %v, want 403 %q", name, status, m, want)
		}
	}
}

// TestAdminToken: with a token file, the commands that list sessions,
// paths or connections (and the resets) answer 401 unless the request
// carries the token; the others answer without it.
func TestAdminToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("  s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *Config) {
		c.AdminAddr = "127.0.0.1:0"
		c.AdminTokenFile = tokenFile
	})
	guarded := []string{"stats", "stat", "connections", "cons", "watches", "wchc", "watches_by_path", "wchp", "dump",
		"connection_stat_reset", "stat_reset", "set_trace_mask?traceMask=0"}
	for _, name := range guarded {
		for _, tok := range []string{"", "wrong"} {
			status, hdr, body := adminDo(t, s, http.MethodGet, "/commands/"+name, tok)
			var m map[string]any
			if status != http.StatusUnauthorized || json.Unmarshal(body, &m) != nil || m["error"] == nil ||
				!strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s with token %q: %d %s", name, tok, status, body)
			}
		}
		if status, m := adminJSON(t, s, name, "s3cret-token"); status != http.StatusOK || m["error"] != nil {
			t.Errorf("%s with the token: %d %v", name, status, m)
		}
	}
	for _, name := range []string{"ruok", "srvr", "mntr", "conf", "envi", "wchs", "isro", "dirs", "topology", "leader"} {
		if status, m := adminJSON(t, s, name, ""); status != http.StatusOK || m["command"] == nil {
			t.Errorf("%s without a token: %d %v", name, status, m)
		}
	}
	// Metrics list no sessions: no token.
	if status, _, _ := adminDo(t, s, http.MethodGet, "/metrics", ""); status != http.StatusOK {
		t.Errorf("/metrics without a token: %d", status)
	}
}

// TestAdminConfig: a bad admin address, a token given twice, and a token
// file that is missing or empty are errors naming the field.
func TestAdminConfig(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mod   func(*Config)
		field string
		msg   string
	}{
		{func(c *Config) { c.AdminAddr = "localhost" }, "AdminAddr", "port"},
		{func(c *Config) { c.AdminAddr = "127.0.0.1:0"; c.AdminToken = "x"; c.AdminTokenFile = empty }, "AdminToken", "set one"},
		{func(c *Config) { c.AdminAddr = "127.0.0.1:0"; c.AdminTokenFile = filepath.Join(dir, "missing") }, "AdminTokenFile", "admin_token_file"},
		{func(c *Config) { c.AdminAddr = "127.0.0.1:0"; c.AdminTokenFile = empty }, "AdminTokenFile", "empty"},
	} {
		cfg := DefaultConfig()
		cfg.ClientAddr, cfg.DataDir = "127.0.0.1:0", ""
		tc.mod(&cfg)
		s, err := New(cfg, testLogger(t))
		var fe *FieldError
		if err == nil {
			s.Close()
		}
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Problem, tc.msg) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want a FieldError on %s mentioning %q", tc.field, err, tc.field, tc.msg)
		}
	}
	// No admin address: no admin server, AdminAddr is nil.
	if s := startServer(t, nil); s.AdminAddr() != nil {
		t.Errorf("AdminAddr without an admin address: %v", s.AdminAddr())
	}
}

// TestAdminStopsWithServer: the admin port is closed once the server is.
func TestAdminStopsWithServer(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	addr := s.AdminAddr().String()
	if status, _ := adminJSON(t, s, "ruok", ""); status != http.StatusOK {
		t.Fatalf("ruok: %d", status)
	}
	s.Close()
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Fatalf("the admin address %s still accepts connections after Close", addr)
	}
	// A taken admin address fails Start, and frees the client port.
	other := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	cfg := DefaultConfig()
	cfg.ClientAddr, cfg.DataDir, cfg.AdminAddr = "127.0.0.1:0", "", other.AdminAddr().String()
	s2, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "admin address") {
		t.Errorf("Start on a taken admin address: %v", err)
		s2.Close()
	}
}

// startAdminCluster runs a 3-voter cluster whose servers have admin
// addresses; mod adjusts each config further.
func startAdminCluster(t *testing.T, mod func(*Config)) *testCluster {
	tc := &testCluster{t: t, net: newMemNet(), servers: map[uint64]*Server{}, dirs: map[uint64]string{}, voters: []uint64{1, 2, 3}}
	tc.mod = func(c *Config) {
		c.AdminAddr = "127.0.0.1:0"
		if mod != nil {
			mod(c)
		}
	}
	for _, id := range tc.voters {
		tc.dirs[id] = t.TempDir()
		tc.start(id)
	}
	return tc
}

// TestAdminCluster: leader, zabstate and topology on a 3-voter cluster
// whose file places an observer (id 4, never started) in remote site eu:
// one leader everyone agrees on, and the leader reports eu's lag as mntr
// does (no learner of eu connected: -1).
func TestAdminCluster(t *testing.T) {
	tc := startAdminCluster(t, func(c *Config) {
		c.Cluster.Name = "adm"
		c.Cluster.Site = "primary"
		c.Cluster.SiteOf = map[uint64]string{1: "primary", 2: "primary", 3: "primary", 4: "eu"}
		delete(c.Cluster.SiteOf, c.ServerID)
	})
	lead := tc.leader()
	for id, s := range tc.servers {
		_, m := adminJSON(t, s, "leader", "")
		expectKeys(t, "leader", m, "leader", "is_leader", "leader_id", "leader_ip")
		if m["is_leader"] != (id == lead) || m["leader_id"] != float64(lead) {
			t.Errorf("server %d leader: %v, want leader %d", id, m, lead)
		}
		_, m = adminJSON(t, s, "zabstate", "")
		if m["voting"] != true || m["zabstate"] != "BROADCAST" {
			t.Errorf("server %d zabstate: %v", id, m)
		}
		_, m = adminJSON(t, s, "topology", "")
		if m["cluster"] != "adm" || m["server_id"] != float64(id) || len(m["nodes"].([]any)) != 4 || m["leader_id"] != float64(lead) {
			t.Errorf("server %d topology: %v", id, m)
		}
		var eu map[string]any
		for _, site := range m["sites"].([]any) {
			if site := site.(map[string]any); site["name"] == "eu" {
				eu = site
			}
		}
		switch {
		case eu == nil || eu["primary"] != false:
			t.Errorf("server %d topology: no remote site eu in %v", id, m["sites"])
		case id == lead && (eu["lag_txns"] != -1.0 || eu["last_heard_ms"] != -1.0):
			t.Errorf("leader topology: eu %v, want lag_txns and last_heard_ms -1", eu)
		case id != lead && eu["lag_txns"] != nil:
			t.Errorf("follower %d topology reports site lag: %v", id, eu)
		}
		_, m = adminJSON(t, s, "configuration", "")
		if m["role"] != "voter" || m["site"] != "primary" {
			t.Errorf("server %d configuration: %v", id, m)
		}
	}
	for _, n := range mustTopologyNodes(t, tc.servers[lead]) {
		if want := map[float64]string{1: "voter", 2: "voter", 3: "voter", 4: "observer"}[n["id"].(float64)]; n["role"] != want {
			t.Errorf("topology node %v: role %v, want %s", n["id"], n["role"], want)
		}
	}
}

func mustTopologyNodes(t *testing.T, s *Server) []map[string]any {
	_, m := adminJSON(t, s, "topology", "")
	var out []map[string]any
	for _, n := range m["nodes"].([]any) {
		out = append(out, n.(map[string]any))
	}
	return out
}

// TestAdminNotServing: a voter without a quorum answers the commands that
// need a serving server with ZooKeeper's error, and the others normally.
func TestAdminNotServing(t *testing.T) {
	tc := &testCluster{t: t, net: newMemNet(), servers: map[uint64]*Server{}, dirs: map[uint64]string{1: t.TempDir()}, voters: []uint64{1, 2, 3}}
	tc.mod = func(c *Config) { c.AdminAddr = "127.0.0.1:0" }
	s := tc.start(1) // alone: no quorum, no read-only mode
	for _, name := range []string{"server_stats", "monitor", "connections", "configuration", "dump"} {
		if status, m := adminJSON(t, s, name, ""); status != http.StatusOK || m["error"] != "This ZooKeeper instance is not currently serving requests" {
			t.Errorf("%s on a voter without quorum: %d %v", name, status, m)
		}
	}
	for _, name := range []string{"ruok", "is_read_only", "zabstate", "topology"} {
		if _, m := adminJSON(t, s, name, ""); m["error"] != nil {
			t.Errorf("%s on a voter without quorum: %v", name, m)
		}
	}
	if _, m := adminJSON(t, s, "zabstate", ""); m["zabstate"] != "ELECTION" {
		t.Errorf("zabstate without quorum: %v", m)
	}
}
