package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// scrape is one parsed /metrics answer (Prometheus text format): each
// metric family's type, and each sample's value keyed by its name and
// labels as written ("readlatency{quantile=\"0.5\"}").
type scrape struct {
	types   map[string]string
	samples map[string]float64
}

func scrapeMetrics(t *testing.T, s *Server) scrape {
	t.Helper()
	status, hdr, body := adminDo(t, s, http.MethodGet, "/metrics", "")
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q\n%s", status, hdr.Get("Content-Type"), body)
	}
	sc := scrape{types: map[string]string{}, samples: map[string]float64{}}
	lines := bufio.NewScanner(bytes.NewReader(body))
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			sc.types[name] = typ
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: bad sample line %q", line)
		}
		sc.samples[line[:i]] = v
	}
	return sc
}

// value returns a sample's value, failing the test when it is absent.
func (sc scrape) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := sc.samples[series]
	if !ok {
		t.Fatalf("/metrics has no sample %s", series)
	}
	return v
}

// expectTypes checks the type of each named metric family.
func (sc scrape) expectTypes(t *testing.T, typ string, names ...string) {
	t.Helper()
	for _, n := range names {
		if got := sc.types[n]; got != typ {
			t.Errorf("metric %s: type %q, want %s", n, got, typ)
		}
	}
}

// zkGauges are ZooKeeper's PrometheusMetricsProvider names zoogate
// exports on every server, all gauges there and here.
var zkGauges = []string{"znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
	"num_alive_connections", "outstanding_requests", "packets_received", "packets_sent",
	"global_sessions", "local_sessions", "avg_latency", "min_latency", "max_latency", "uptime",
	"open_file_descriptor_count", "max_file_descriptor_count", "auth_failed_count", "last_zxid"}

// TestMetricsScrape scrapes a standalone server before and after a
// go-zookeeper client's writes and reads: names and types are
// ZooKeeper's, and the values move with the load.
func TestMetricsScrape(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	before := scrapeMetrics(t, s)
	before.expectTypes(t, "gauge", zkGauges...)
	before.expectTypes(t, "summary", "readlatency", "updatelatency", "fsynctime")
	before.expectTypes(t, "gauge", "go_goroutines")
	before.expectTypes(t, "counter", "process_cpu_seconds_total")

	c, _ := connect(t, s)
	const n = 40
	for i := 0; i < n; i++ {
		if _, err := c.Create(fmt.Sprintf("/m%d", i), []byte("v"), 0, open); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Get(fmt.Sprintf("/m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.GetW("/m0"); err != nil {
		t.Fatal(err)
	}

	after := scrapeMetrics(t, s)
	grew := func(series string, atLeast float64) {
		t.Helper()
		if d := after.value(t, series) - before.value(t, series); d < atLeast {
			t.Errorf("%s grew by %v, want at least %v", series, d, atLeast)
		}
	}
	grew("znode_count", n+1)
	grew("packets_received", 2*n+2)
	grew("packets_sent", 2*n+2)
	grew("updatelatency_count", n+1)
	grew("fsynctime_count", 1) // group commit: at least one fsync for the writes
	if v := after.value(t, "fsynctime_sum"); v <= 0 {
		t.Errorf("fsynctime_sum = %v, want positive milliseconds", v)
	}
	grew("readlatency_count", n+1)
	grew("last_zxid", n+1)
	for series, want := range map[string]float64{"ephemerals_count": 1, "watch_count": 1, "num_alive_connections": 1, "global_sessions": 1} {
		if got := after.value(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, q := range []string{"0.5", "0.9", "0.99"} {
		after.value(t, `updatelatency{quantile="`+q+`"}`)
	}
	if v := after.value(t, "updatelatency_sum"); v <= 0 {
		t.Errorf("updatelatency_sum = %v, want positive milliseconds", v)
	}
	if after.types["server_state"] != "" || after.types["version"] != "" {
		t.Errorf("string mntr values exported as metrics: %v", after.types)
	}
}

// TestMetricsCluster: on a 3-voter cluster whose file places a node in
// remote site eu, the leader exports the quorum gauges and eu's lag with
// a site label (-1: nothing of eu connected), as its mntr shows them; a
// follower exports how long ago it heard from its leader.
func TestMetricsCluster(t *testing.T) {
	tc := startAdminCluster(t, func(c *Config) {
		c.Cluster.Site = "primary"
		c.Cluster.SiteOf = map[uint64]string{1: "primary", 2: "primary", 3: "primary", 4: "eu"}
		delete(c.Cluster.SiteOf, c.ServerID)
	})
	lead := tc.leader()
	// The leader's learner list is refreshed on its tick: poll for both
	// followers.
	var sc scrape
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc = scrapeMetrics(t, tc.servers[lead])
		if sc.samples[`connected_learners{role="follower"}`] == 2 && sc.samples["synced_followers"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader metrics never showed 2 synced followers: %v", sc.samples)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sc.expectTypes(t, "gauge", "learners", "synced_followers", "synced_observers", "held_remote_sessions",
		"site_lag_txns", "site_last_heard_ms", "connected_learners", "current_epoch")
	for series, want := range map[string]float64{`site_lag_txns{site="eu"}`: -1, `site_last_heard_ms{site="eu"}`: -1,
		"learners": 2, "held_remote_sessions": 0, `connected_learners{role="relay"}`: 0, `connected_learners{role="observer"}`: 0} {
		if got := sc.value(t, series); got != want {
			t.Errorf("leader %s = %v, want %v", series, got, want)
		}
	}
	for id, s := range tc.servers {
		if id == lead {
			continue
		}
		fs := scrapeMetrics(t, s)
		fs.expectTypes(t, "gauge", "upstream_last_heard_ms", "upstream")
		if _, ok := fs.types["site_lag_txns"]; ok {
			t.Errorf("follower %d exports site lag", id)
		}
		if got := fs.value(t, "upstream"); got != float64(lead) {
			t.Errorf("follower %d upstream = %v, want %d", id, got, lead)
		}
	}
}
