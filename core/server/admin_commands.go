package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zoogate/zoogate/core/watch"
	"github.com/zoogate/zoogate/core/zab"
)

// adminCommand is one command of the admin server. Names, aliases and
// JSON keys are Apache ZooKeeper 3.8's AdminServer's (tests/admin_test.go
// compares them with a running ZooKeeper); values come from the same
// state the four-letter words print (fourlw.go).
type adminCommand struct {
	names []string // the primary name first (the answer's "command"), then aliases
	// word is the four-letter word whose place in the whitelist
	// (four_letter_words) decides whether the command runs; "" = always.
	word string
	// needsServing: like the four-letter word, the command answers only
	// while the server serves (or serves read-only).
	needsServing bool
	// guarded: the command lists sessions, paths or connections, or resets
	// state, so it asks for the admin token when one is set.
	guarded bool
	run     func(s *Server, r *http.Request, resp map[string]any) error
}

// adminCommands is the command table, in the order /commands lists it.
var adminCommands = []*adminCommand{
	{names: []string{"configuration", "conf", "config"}, word: "conf", needsServing: true, run: (*Server).adminConf},
	{names: []string{"connection_stat_reset", "crst"}, word: "crst", guarded: true, run: (*Server).adminConnStatReset},
	{names: []string{"connections", "cons"}, word: "cons", needsServing: true, guarded: true, run: (*Server).adminConnections},
	{names: []string{"dirs"}, word: "dirs", needsServing: true, run: (*Server).adminDirs},
	{names: []string{"dump"}, word: "dump", needsServing: true, guarded: true, run: (*Server).adminDump},
	{names: []string{"environment", "env", "envi"}, word: "envi", needsServing: true, run: (*Server).adminEnvironment},
	{names: []string{"get_trace_mask", "gtmk"}, word: "gtmk", run: (*Server).adminGetTraceMask},
	{names: []string{"gossip", "gsip"}, word: "gsip", run: (*Server).adminGossip},
	{names: []string{"hash"}, word: "hash", run: (*Server).adminHash},
	{names: []string{"is_read_only", "isro"}, word: "isro", run: (*Server).adminIsReadOnly},
	{names: []string{"leader", "lead"}, run: (*Server).adminLeader},
	{names: []string{"monitor", "mntr"}, word: "mntr", needsServing: true, run: (*Server).adminMonitor},
	{names: []string{"ruok"}, word: "ruok", run: func(*Server, *http.Request, map[string]any) error { return nil }},
	{names: []string{"server_stats", "srvr"}, word: "srvr", needsServing: true, run: (*Server).adminServerStats},
	{names: []string{"set_trace_mask", "stmk"}, word: "stmk", guarded: true, run: (*Server).adminSetTraceMask},
	{names: []string{"stat_reset", "srst"}, word: "srst", guarded: true, run: (*Server).adminStatReset},
	{names: []string{"stats", "stat"}, word: "stat", needsServing: true, guarded: true, run: (*Server).adminStats},
	{names: []string{"topology"}, run: (*Server).adminTopology},
	{names: []string{"watch_summary", "wchs"}, word: "wchs", needsServing: true, run: (*Server).adminWatchSummary},
	{names: []string{"watches", "wchc"}, word: "wchc", needsServing: true, guarded: true, run: (*Server).adminWatches},
	{names: []string{"watches_by_path", "wchp"}, word: "wchp", needsServing: true, guarded: true, run: (*Server).adminWatchesByPath},
	{names: []string{"zabstate"}, run: (*Server).adminZabState},
}

// lookupAdminCommand finds a command by any of its names; nil if none.
func lookupAdminCommand(name string) *adminCommand {
	for _, c := range adminCommands {
		for _, n := range c.names {
			if n == name {
				return c
			}
		}
	}
	return nil
}

// adminCommandNames returns every command's primary name, sorted.
func adminCommandNames() []string {
	names := make([]string, len(adminCommands))
	for i, c := range adminCommands {
		names[i] = c.names[0]
	}
	sort.Strings(names)
	return names
}

// AdminCommandNames returns the admin server's commands: primary names
// with their aliases, as /commands/<name> accepts them.
func AdminCommandNames() map[string][]string {
	out := make(map[string][]string, len(adminCommands))
	for _, c := range adminCommands {
		out[c.names[0]] = append([]string(nil), c.names[1:]...)
	}
	return out
}

// noBuffers is ZooKeeper's client_response block when nothing was
// measured: zoogate does not track response buffer sizes.
func noBuffers() map[string]any {
	return map[string]any{"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}
}

func (s *Server) adminServerStats(_ *http.Request, resp map[string]any) error {
	min, avg, max := s.stats.latencies()
	data, log := s.dirSizes()
	s.mu.RLock()
	nodes := s.tree.NodeCount()
	s.mu.RUnlock()
	resp["version"] = Version + ", built on " + BuildDate
	resp["read_only"] = s.readOnly()
	resp["server_stats"] = map[string]any{
		"packets_sent":                 s.stats.sent.Load(),
		"packets_received":             s.stats.received.Load(),
		"fsync_threshold_exceed_count": 0,
		"client_response_stats":        noBuffers(),
		"data_dir_size":                data,
		"log_dir_size":                 log,
		"provider_null":                false,
		"server_state":                 s.mode(),
		"last_processed_zxid":          s.LastZxid(),
		"outstanding_requests":         len(s.writes),
		"avg_latency":                  math.Round(avg*10000) / 10000,
		"max_latency":                  max,
		"min_latency":                  min,
		"num_alive_client_connections": s.connCount(),
		"uptime":                       time.Since(s.started).Milliseconds(),
		"auth_failed_count":            s.stats.authFailed.Load(),
		"non_mtlsremote_conn_count":    0,
		"non_mtlslocal_conn_count":     0,
	}
	resp["client_response"] = noBuffers()
	resp["node_count"] = nodes
	return nil
}

func (s *Server) adminStats(r *http.Request, resp map[string]any) error {
	s.adminServerStats(r, resp)
	resp["connections"] = s.connectionInfo(true)
	resp["secure_connections"] = []any{}
	return nil
}

func (s *Server) adminConnections(_ *http.Request, resp map[string]any) error {
	resp["connections"] = s.connectionInfo(false)
	resp["secure_connections"] = []any{}
	return nil
}

// connectionInfo describes every client connection: brief (stats) or with
// its session and latencies (connections).
func (s *Server) connectionInfo(brief bool) []map[string]any {
	out := []map[string]any{}
	s.forEachConn(func(c *conn) {
		st := &c.stats
		info := map[string]any{
			"remote_socket_address": c.remote,
			"interest_ops":          1, // reading, as ZooKeeper's NIO OP_READ
			"outstanding_requests":  len(c.items),
			"packets_received":      st.received.Load(),
			"packets_sent":          st.sent.Load(),
		}
		if !brief {
			st.mu.Lock()
			lop, avg := "NA", int64(0)
			if st.count > 0 {
				lop = strings.ToUpper(st.lastOp.String())
				avg = st.sumLat.Milliseconds() / st.count
			}
			info["session_id"] = c.session.Load()
			info["last_operation"] = lop
			info["established"] = st.established.UnixMilli()
			info["session_timeout"] = c.timeout.Milliseconds()
			info["last_cxid"] = st.lastCxid
			info["last_zxid"] = st.lastZxid
			info["last_response_time"] = st.lastResp.UnixMilli()
			info["last_latency"] = st.lastLat.Milliseconds()
			info["min_latency"] = st.minLat.Milliseconds()
			info["avg_latency"] = avg
			info["max_latency"] = st.maxLat.Milliseconds()
			st.mu.Unlock()
		}
		out = append(out, info)
	})
	return out
}

// adminMonitor is mntr as JSON: the same keys without "zk_", numbers as
// numbers, as ZooKeeper's monitor command.
func (s *Server) adminMonitor(_ *http.Request, resp map[string]any) error {
	for k, v := range s.mntrValues() {
		resp[k] = v
	}
	return nil
}

// mntrValues parses mntr's lines: key (without "zk_") to an int64, a
// float64 or a string.
func (s *Server) mntrValues() map[string]any {
	var b strings.Builder
	s.writeMntr(&b)
	out := map[string]any{}
	for _, line := range strings.Split(b.String(), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(k, "zk_")
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil && strings.ContainsAny(v, ".") {
			out[k] = f
		} else {
			out[k] = v
		}
	}
	return out
}

func (s *Server) adminConf(_ *http.Request, resp map[string]any) error {
	port := 0
	if _, p, err := net.SplitHostPort(s.Addr().String()); err == nil {
		port, _ = strconv.Atoi(p)
	}
	min, max := s.cfg.SessionTimeouts()
	dataDir, logDir := "", ""
	if s.cfg.DataDir != "" {
		dataDir, _ = filepath.Abs(s.cfg.SnapDir())
		logDir, _ = filepath.Abs(s.cfg.LogSegmentDir())
	}
	resp["client_port"] = port
	resp["data_dir"] = dataDir
	resp["data_log_dir"] = logDir
	resp["tick_time"] = s.cfg.Tick.Milliseconds()
	resp["max_client_cnxns"] = s.cfg.MaxClientCnxns
	resp["min_session_timeout"] = min.Milliseconds()
	resp["max_session_timeout"] = max.Milliseconds()
	resp["server_id"] = s.cfg.ServerID
	resp["client_port_listen_backlog"] = -1
	if cc := s.cfg.Cluster; cc != nil {
		// zoogate's own, as in the conf four-letter word.
		resp["role"] = s.role()
		if cc.Site != "" {
			resp["site"] = cc.Site
		}
	}
	return nil
}

// role is this server's role in the deployment: voter, observer or relay
// (standalone servers are voters of one).
func (s *Server) role() string {
	cc := s.cfg.Cluster
	switch {
	case cc == nil || !cc.Observer:
		return "voter"
	case cc.ServeLearners:
		return "relay"
	}
	return "observer"
}

func (s *Server) adminEnvironment(_ *http.Request, resp map[string]any) error {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mb := func(n uint64) string { return fmt.Sprintf("%dMB", n>>20) }
	maxMem := "unlimited"
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		maxMem = mb(uint64(limit))
	}
	userName, userHome := os.Getenv("USER"), os.Getenv("HOME")
	if u, err := user.Current(); err == nil {
		userName, userHome = u.Username, u.HomeDir
	}
	osVersion := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		osVersion = strings.TrimSpace(string(b))
	}
	// ZooKeeper's keys; the java.* ones carry the Go runtime's nearest
	// equivalents ("<NA>" where there is none, as ZooKeeper says).
	resp["zookeeper.version"] = Version + ", built on " + BuildDate
	resp["host.name"] = host
	resp["java.version"] = runtime.Version()
	resp["java.vendor"] = "Go (" + runtime.Compiler + ")"
	resp["java.home"] = "<NA>"
	resp["java.class.path"] = exe
	resp["java.library.path"] = "<NA>"
	resp["java.io.tmpdir"] = os.TempDir()
	resp["java.compiler"] = "<NA>"
	resp["os.name"] = runtime.GOOS
	resp["os.arch"] = runtime.GOARCH
	resp["os.version"] = osVersion
	resp["user.name"] = userName
	resp["user.home"] = userHome
	resp["user.dir"] = wd
	resp["os.memory.free"] = mb(ms.HeapIdle - ms.HeapReleased)
	resp["os.memory.max"] = maxMem
	resp["os.memory.total"] = mb(ms.Sys)
	// zoogate's own, as in the envi four-letter word.
	resp["go.version"] = runtime.Version()
	resp["os.procs"] = runtime.NumCPU()
	return nil
}

func (s *Server) adminWatchSummary(_ *http.Request, resp map[string]any) error {
	conns, paths, total := s.watches.Stats()
	resp["num_connections"] = conns
	resp["num_paths"] = paths
	resp["num_total_watches"] = total
	return nil
}

// sessionOf returns the session of connection id (0 when it has none or
// is gone).
func (s *Server) sessionOf(id watch.ID) int64 {
	if c := s.conn(id); c != nil {
		return c.session.Load()
	}
	return 0
}

func (s *Server) adminWatches(_ *http.Request, resp map[string]any) error {
	out := map[string][]string{}
	for id, paths := range s.watches.ByConn() {
		key := strconv.FormatInt(s.sessionOf(id), 10)
		out[key] = append(out[key], paths...)
	}
	for _, paths := range out {
		sort.Strings(paths)
	}
	resp["session_id_to_watched_paths"] = out
	return nil
}

func (s *Server) adminWatchesByPath(_ *http.Request, resp map[string]any) error {
	out := map[string][]int64{}
	for path, ids := range s.watches.ByPath() {
		sids := make([]int64, 0, len(ids))
		for _, id := range ids {
			sids = append(sids, s.sessionOf(id))
		}
		sort.Slice(sids, func(i, j int) bool { return sids[i] < sids[j] })
		out[path] = sids
	}
	resp["path_to_session_ids"] = out
	return nil
}

func (s *Server) adminDump(_ *http.Request, resp map[string]any) error {
	buckets, _ := s.sessions.snapshot()
	expiry := make(map[string][]int64, len(buckets))
	for at, ids := range buckets {
		ids = append([]int64(nil), ids...)
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		expiry[strconv.FormatInt(at, 10)] = ids
	}
	ephemerals := map[string][]string{}
	s.mu.RLock()
	for sid := range s.tree.EphemeralSessions() {
		ephemerals[strconv.FormatInt(sid, 10)] = append([]string{}, s.tree.Ephemerals(sid)...)
	}
	s.mu.RUnlock()
	resp["expiry_time_to_session_ids"] = expiry
	resp["session_id_to_ephemeral_paths"] = ephemerals
	return nil
}

func (s *Server) adminIsReadOnly(_ *http.Request, resp map[string]any) error {
	resp["read_only"] = s.readOnly()
	return nil
}

func (s *Server) adminDirs(_ *http.Request, resp map[string]any) error {
	data, log := s.dirSizes()
	resp["datadir_size"] = data
	resp["logdir_size"] = log
	return nil
}

// adminDigestVersion marks zoogate's tree digest (core/tree), which is not
// ZooKeeper's: digests compare between zoogate servers only.
const adminDigestVersion = 1000

// adminHash answers ZooKeeper's digest list with one entry: the digest of
// the tree as of its last applied zxid (zoogate keeps no history of them).
func (s *Server) adminHash(_ *http.Request, resp map[string]any) error {
	s.mu.RLock()
	zxid, digest := s.tree.LastZxid(), s.tree.Digest()
	s.mu.RUnlock()
	resp["digests"] = []map[string]any{{"zxid": zxid, "digest": int64(digest), "digest_version": adminDigestVersion}}
	return nil
}

// adminLeader is ZooKeeper's leader command: which server leads (the
// server this one follows, for a learner), and whether it is this one.
func (s *Server) adminLeader(_ *http.Request, resp map[string]any) error {
	d := s.driver
	if d == nil {
		return &CommandError{Status: http.StatusOK, Kind: ErrNotServing, Message: "server is not initialized"}
	}
	st := d.exec.Status()
	if st == nil {
		return &CommandError{Status: http.StatusOK, Kind: ErrNotServing, Message: "server is not initialized"}
	}
	id, ip := int64(-1), ""
	if st.Leader != 0 {
		id = int64(st.Leader)
		if host, _, err := net.SplitHostPort(s.cfg.Cluster.Peers[st.Leader]); err == nil {
			ip = host
		}
	}
	resp["is_leader"] = st.Role == zab.Leading
	resp["leader_id"] = id
	resp["leader_ip"] = ip
	return nil
}

// adminZabState is ZooKeeper's zabstate: whether this server votes, and
// its ZAB phase in ZooKeeper's spelling ("" standalone).
func (s *Server) adminZabState(_ *http.Request, resp map[string]any) error {
	resp["voting"] = false
	resp["zabstate"] = ""
	if d := s.driver; d != nil {
		resp["voting"] = !s.cfg.Cluster.Observer
		if st := d.exec.Status(); st != nil {
			phases := map[string]string{"election": "ELECTION", "discovery": "DISCOVERY", "sync": "SYNCHRONIZATION", "broadcast": "BROADCAST"}
			resp["zabstate"] = phases[st.Phase]
		}
	}
	return nil
}

func (s *Server) adminConnStatReset(_ *http.Request, _ map[string]any) error {
	s.forEachConn(func(c *conn) { c.stats.reset() })
	return nil
}

func (s *Server) adminStatReset(_ *http.Request, _ map[string]any) error {
	s.stats.reset()
	return nil
}

func (s *Server) adminGetTraceMask(_ *http.Request, resp map[string]any) error {
	resp["tracemask"] = traceMask.Load()
	return nil
}

func (s *Server) adminSetTraceMask(r *http.Request, resp map[string]any) error {
	arg := r.URL.Query().Get("traceMask")
	if arg == "" {
		return &CommandError{Status: http.StatusOK, Kind: ErrBadArgument, Message: "setTraceMask requires long traceMask argument"}
	}
	mask, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return &CommandError{Status: http.StatusOK, Kind: ErrBadArgument, Message: "setTraceMask requires long traceMask argument, got " + arg}
	}
	traceMask.Store(mask)
	resp["tracemask"] = mask
	return nil
}

// adminGossip is zoogate's: the live view of the gossip pools (the gsip
// four-letter word), under "view"; [] without gossip.
func (s *Server) adminGossip(_ *http.Request, resp map[string]any) error {
	view := json.RawMessage("[]")
	if s.cfg.GossipView != nil {
		if b := s.cfg.GossipView(); json.Valid(b) {
			view = b
		}
	}
	resp["view"] = view
	return nil
}
