package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zoogate/zoogate/core/watch"
	"github.com/zoogate/zoogate/core/zab"
)

var traceMask atomic.Int64

// fourLetterWord answers a four-letter word sent in place of the first
// frame's length, then closes the connection. It returns false when word is
// not a four-letter word (the bytes are a frame length).
func (s *Server) fourLetterWord(c *conn, word string, br *bufio.Reader) bool {
	if !isFourLetterWord(word) {
		return false
	}
	var out string
	switch {
	case !s.cfg.fourLetterAllowed(word):
		out = word + " is not executed because it is not in the whitelist.\n"
	default:
		out = s.runFourLetterWord(word, br)
	}
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c.nc, out)
	c.close()
	return true
}

func (s *Server) runFourLetterWord(word string, br *bufio.Reader) string {
	var b strings.Builder
	switch word {
	case "srvr", "stat", "mntr", "cons", "conf", "dump", "wchs", "wchc", "wchp", "envi", "dirs":
		if !s.serving() && !s.readOnly() {
			return "This ZooKeeper instance is not currently serving requests\n"
		}
	}
	switch word {
	case "ruok":
		return "imok"
	case "gsip":
		// zoogate's own: the live view of the gossip pools, as JSON
		// (zoogate members reads it); "[]" without gossip.
		if s.cfg.GossipView == nil {
			return "[]\n"
		}
		return string(s.cfg.GossipView()) + "\n"
	case "isro":
		switch {
		case s.serving():
			return "rw"
		case s.readOnly():
			return "ro"
		}
		return "null"
	case "srvr":
		s.writeSrvr(&b, false)
	case "stat":
		s.writeSrvr(&b, true)
	case "conf":
		s.writeConf(&b)
	case "cons":
		s.writeCons(&b)
	case "envi":
		s.writeEnvi(&b)
	case "mntr":
		s.writeMntr(&b)
	case "wchs":
		conns, paths, total := s.watches.Stats()
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", conns, paths, total)
	case "wchc":
		byConn := s.watches.ByConn()
		ids := make([]watch.ID, 0, len(byConn))
		for id := range byConn {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			sid := int64(0)
			if c := s.conn(id); c != nil {
				sid = c.session.Load()
			}
			fmt.Fprintf(&b, "0x%x\n", sid)
			for _, p := range byConn[id] {
				fmt.Fprintf(&b, "\t%s\n", p)
			}
		}
	case "wchp":
		byPath := s.watches.ByPath()
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(&b, "%s\n", p)
			for _, id := range byPath[p] {
				sid := int64(0)
				if c := s.conn(id); c != nil {
					sid = c.session.Load()
				}
				fmt.Fprintf(&b, "\t0x%x\n", sid)
			}
		}
	case "dump":
		s.writeDump(&b)
	case "dirs":
		data, log := s.dirSizes()
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", data, log)
	case "crst":
		s.connMu.Lock()
		for _, c := range s.conns {
			c.stats.reset()
		}
		s.connMu.Unlock()
		return "Connection stats reset.\n"
	case "srst":
		s.stats.reset()
		return "Server stats reset.\n"
	case "gtmk":
		return fmt.Sprintf("%d\n", traceMask.Load())
	case "stmk":
		var mb [8]byte
		if _, err := io.ReadFull(br, mb[:]); err != nil {
			return "stmk needs an 8-byte trace mask\n"
		}
		traceMask.Store(int64(binary.BigEndian.Uint64(mb[:])))
		return fmt.Sprintf("%d\n", traceMask.Load())
	case "hash":
		s.mu.RLock()
		fmt.Fprintf(&b, "%x: %d\n", s.tree.LastZxid(), s.tree.Digest())
		s.mu.RUnlock()
	}
	return b.String()
}

func (s *Server) mode() string {
	if s.readOnly() {
		return "read-only"
	}
	if s.driver == nil {
		return "standalone"
	}
	switch s.driver.exec.Role() {
	case zab.Leading:
		return "leader"
	case zab.Following:
		return "follower"
	case zab.Observing:
		if s.cfg.Cluster.ServeLearners {
			return "relay"
		}
		return "observer"
	}
	return "looking"
}

func (s *Server) writeSrvr(b *strings.Builder, withClients bool) {
	fmt.Fprintf(b, "Zookeeper version: %s, built on %s\n", Version, BuildDate)
	if withClients {
		b.WriteString("Clients:\n")
		s.forEachConn(func(c *conn) {
			fmt.Fprintf(b, " /%s[1](queued=%d,recved=%d,sent=%d)\n", c.remote, len(c.items), c.stats.received.Load(), c.stats.sent.Load())
		})
		b.WriteString("\n")
	}
	min, avg, max := s.stats.latencies()
	s.mu.RLock()
	nodes := s.tree.NodeCount()
	s.mu.RUnlock()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%.4f/%d\n", min, avg, max)
	fmt.Fprintf(b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n",
		s.stats.received.Load(), s.stats.sent.Load(), s.connCount(), len(s.writes))
	fmt.Fprintf(b, "Zxid: 0x%x\nMode: %s\nNode count: %d\n", s.LastZxid(), s.mode(), nodes)
}

func (s *Server) writeConf(b *strings.Builder) {
	_, port, _ := strings.Cut(s.Addr().String(), ":")
	if i := strings.LastIndexByte(s.Addr().String(), ':'); i >= 0 {
		port = s.Addr().String()[i+1:]
	}
	min, max := s.cfg.SessionTimeouts()
	dataAbs, _ := filepath.Abs(s.cfg.DataDir)
	logAbs, _ := filepath.Abs(s.cfg.LogSegmentDir())
	data, log := s.dirSizes()
	fmt.Fprintf(b, "clientPort=%s\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
		port, dataAbs, data, logAbs, log)
	fmt.Fprintf(b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%d\n",
		s.cfg.Tick.Milliseconds(), s.cfg.MaxClientCnxns, min.Milliseconds(), max.Milliseconds(), s.cfg.ServerID)
	if cc := s.cfg.Cluster; cc != nil {
		// ZooKeeper's peerType, and zoogate's role and site.
		peerType, role := "participant", "voter"
		if cc.Observer {
			peerType, role = "observer", "observer"
			if cc.ServeLearners {
				role = "relay"
			}
		}
		fmt.Fprintf(b, "peerType=%s\nrole=%s\n", peerType, role)
		if cc.Site != "" {
			fmt.Fprintf(b, "site=%s\n", cc.Site)
		}
	}
}

// writeCons lists the connections that have a session (connections still
// in their handshake, like the one asking, are left out: go-zookeeper's
// FLWCons rejects lines without session fields).
func (s *Server) writeCons(b *strings.Builder) {
	s.forEachConn(func(c *conn) {
		st := &c.stats
		if sid := c.session.Load(); sid != 0 {
			fmt.Fprintf(b, " /%s[1](queued=%d,recved=%d,sent=%d", c.remote, len(c.items), st.received.Load(), st.sent.Load())
			st.mu.Lock()
			avg := int64(0)
			if st.count > 0 {
				avg = st.sumLat.Milliseconds() / st.count
			}
			fmt.Fprintf(b, ",sid=0x%x,lop=%s,est=%d,to=%d,lcxid=0x%x,lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
				sid, strings.ToUpper(st.lastOp.String()), st.established.UnixMilli(), c.timeout.Milliseconds(),
				st.lastCxid, st.lastZxid, st.lastResp.UnixMilli(), st.lastLat.Milliseconds(),
				st.minLat.Milliseconds(), avg, st.maxLat.Milliseconds())
			st.mu.Unlock()
			b.WriteString(")\n")
		}
	})
	b.WriteString("\n")
}

func (s *Server) writeEnvi(b *strings.Builder) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.WriteString("Environment:\n")
	fmt.Fprintf(b, "zookeeper.version=%s, built on %s\n", Version, BuildDate)
	fmt.Fprintf(b, "host.name=%s\n", host)
	fmt.Fprintf(b, "go.version=%s\n", runtime.Version())
	fmt.Fprintf(b, "os.name=%s\nos.arch=%s\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(b, "user.dir=%s\n", wd)
	fmt.Fprintf(b, "os.memory.sys=%dMB\n", ms.Sys>>20)
	fmt.Fprintf(b, "os.procs=%d\n", runtime.NumCPU())
}

func (s *Server) writeMntr(b *strings.Builder) {
	min, avg, max := s.stats.latencies()
	s.mu.RLock()
	nodes, eph, size := s.tree.NodeCount(), s.tree.EphemeralCount(), s.tree.ApproximateDataSize()
	s.mu.RUnlock()
	_, _, watches := s.watches.Stats()
	_, sessions := s.sessions.snapshot()
	kv := func(k string, v any) { fmt.Fprintf(b, "zk_%s\t%v\n", k, v) }
	kv("version", Version+", built on "+BuildDate)
	kv("server_state", s.mode())
	kv("avg_latency", fmt.Sprintf("%.4f", avg))
	kv("max_latency", max)
	kv("min_latency", min)
	kv("packets_received", s.stats.received.Load())
	kv("packets_sent", s.stats.sent.Load())
	kv("num_alive_connections", s.connCount())
	kv("outstanding_requests", len(s.writes))
	kv("uptime", time.Since(s.started).Milliseconds())
	kv("znode_count", nodes)
	kv("watch_count", watches)
	kv("ephemerals_count", eph)
	kv("approximate_data_size", size)
	local := s.local.count()
	kv("global_sessions", sessions-local)
	kv("local_sessions", local)
	kv("open_file_descriptor_count", openFDs())
	kv("max_file_descriptor_count", maxFDs())
	kv("auth_failed_count", s.stats.authFailed.Load())
	kv("last_zxid", fmt.Sprintf("0x%x", s.LastZxid()))
	if d := s.driver; d != nil {
		if site := s.cfg.Cluster.Site; site != "" {
			kv("site", site)
		}
		if st := d.exec.Status(); st != nil {
			kv("peer_state", strings.ToLower(st.Role.String())+" - "+st.Phase)
			kv("current_epoch", st.CurrentEpoch)
			kv("accepted_epoch", st.AcceptedEpoch)
			if st.Role == zab.Leading {
				kv("learners", st.Learners)
				kv("synced_followers", st.SyncedFollowers)
				kv("synced_non_voting_followers", 0)
				kv("synced_observers", st.SyncedObservers)
				kv("held_remote_sessions", d.heldSessions.Load())
				s.writeSiteLag(kv, d)
			} else if s.cfg.Cluster.ServeLearners {
				// A relay, or a follower that serves relays
				// (relay_upstream = "follower"): the observers it serves.
				kv("learners", st.Learners)
				kv("synced_observers", st.SyncedObservers)
				kv("held_remote_sessions", d.heldSessions.Load())
			}
			if !st.Serving {
				// Not in contact: how old its data is (what
				// read_only_max_staleness bounds), -1 if it never was.
				ms := int64(-1)
				if d := s.staleness(time.Now()); d > 0 {
					ms = d.Milliseconds()
				}
				kv("upstream_last_heard_ms", ms)
			} else if st.Upstream != 0 {
				// A learner: whom it follows, when it last heard from it,
				// and (observers) how many transactions it is behind.
				kv("upstream", st.Upstream)
				kv("upstream_last_heard_ms", (time.Duration(st.UpstreamHeardTicks) * d.zabTick).Milliseconds())
				if st.Role == zab.Observing {
					kv("observer_lag_txns", st.Lag)
					lagMS := int64(0)
					if st.Lag > 0 {
						lagMS = time.Now().UnixMilli() - d.caughtUp.Load()
					}
					kv("observer_lag_ms", lagMS)
				}
			}
		}
	}
}

func (s *Server) writeDump(b *strings.Builder) {
	buckets, _ := s.sessions.snapshot()
	ats := make([]int64, 0, len(buckets))
	total := 0
	for at, ids := range buckets {
		ats = append(ats, at)
		total += len(ids)
	}
	sort.Slice(ats, func(i, j int) bool { return ats[i] < ats[j] })
	b.WriteString("SessionTracker dump:\n")
	fmt.Fprintf(b, "Session Sets (%d)/(%d):\n", len(ats), total)
	for _, at := range ats {
		ids := buckets[at]
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		fmt.Fprintf(b, "%d expire at %s:\n", len(ids), time.UnixMilli(at).UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
		for _, id := range ids {
			fmt.Fprintf(b, "\t0x%x\n", id)
		}
	}
	s.mu.RLock()
	eph := s.tree.EphemeralSessions()
	sids := make([]int64, 0, len(eph))
	for sid := range eph {
		sids = append(sids, sid)
	}
	sort.Slice(sids, func(i, j int) bool { return sids[i] < sids[j] })
	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(sids))
	for _, sid := range sids {
		fmt.Fprintf(b, "0x%x:\n", sid)
		for _, p := range s.tree.Ephemerals(sid) {
			fmt.Fprintf(b, "\t%s\n", p)
		}
	}
	s.mu.RUnlock()
	b.WriteString("Connections dump:\n")
	s.forEachConn(func(c *conn) {
		if sid := c.session.Load(); sid != 0 {
			fmt.Fprintf(b, "\t0x%x %s\n", sid, c.remote)
		}
	})
}

func (s *Server) forEachConn(f func(c *conn)) {
	s.connMu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	sort.Slice(conns, func(i, j int) bool { return conns[i].id < conns[j].id })
	for _, c := range conns {
		f(c)
	}
}

func (s *Server) connCount() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.conns)
}

// dirSizes returns the bytes under the data directory, the transaction log
// left out, and the bytes of the transaction log (as ZooKeeper's dirs and
// conf report dataDir and dataLogDir). Both are 0 for a memory-only server.
func (s *Server) dirSizes() (data, log int64) {
	if s.cfg.DataDir == "" {
		return 0, 0
	}
	data, log = dirSize(s.cfg.DataDir), dirSize(s.cfg.LogSegmentDir())
	if !s.cfg.separateLogDir() {
		data -= log // <data_dir>/log is counted once, as the log
	}
	return data, log
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
