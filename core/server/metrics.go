package server

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prometheus metrics, served on the admin address at /metrics. The names
// are those of Apache ZooKeeper 3.6+'s PrometheusMetricsProvider where
// ZooKeeper has the metric, so that dashboards made for ZooKeeper work:
// every number mntr prints is a gauge named as its mntr key without "zk_"
// (ZooKeeper registers those as gauges too), and request latencies are
// the summaries readlatency and updatelatency (milliseconds). zoogate's
// own mntr keys follow the same rule (held_remote_sessions,
// upstream_last_heard_ms, observer_lag_txns, ...), except the per-site
// ones, which become one metric with a site label (site_lag_txns,
// site_last_heard_ms); connected_learners counts a server's learner
// streams by role. The Go runtime's and the process's standard collectors
// (go_*, process_*) stand in for ZooKeeper's JVM metrics.
// docs/operations.md lists them all.
type metrics struct {
	s        *Server
	registry *prometheus.Registry
	read     prometheus.Summary
	update   prometheus.Summary
	fsync    prometheus.Summary
}

// latencyObjectives are the quantiles of the latency summaries: those of
// ZooKeeper's summaries at its advanced detail level.
var latencyObjectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}

func newMetrics(s *Server) *metrics {
	m := &metrics{s: s, registry: prometheus.NewRegistry()}
	m.read = prometheus.NewSummary(prometheus.SummaryOpts{
		Name:       "readlatency",
		Help:       "Latency of read requests (and pings), from arrival to reply, in milliseconds.",
		Objectives: latencyObjectives,
	})
	m.update = prometheus.NewSummary(prometheus.SummaryOpts{
		Name:       "updatelatency",
		Help:       "Latency of write requests, from arrival to reply (after the commit), in milliseconds.",
		Objectives: latencyObjectives,
	})
	m.fsync = prometheus.NewSummary(prometheus.SummaryOpts{
		Name:       "fsynctime",
		Help:       "Time an fsync of the transaction log took, in milliseconds (one per batch of transactions).",
		Objectives: latencyObjectives,
	})
	m.registry.MustRegister(m.read, m.update, m.fsync, mntrCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// observe records one answered request's latency.
func (m *metrics) observe(write bool, d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	if write {
		m.update.Observe(ms)
	} else {
		m.read.Observe(ms)
	}
}

// mntrHelp describes the gauges made from mntr's keys. A numeric mntr key
// missing here is exported too, with a generic help text.
var mntrHelp = map[string]string{
	"avg_latency":                 "Average request latency in milliseconds since the last stat reset.",
	"max_latency":                 "Highest request latency in milliseconds since the last stat reset.",
	"min_latency":                 "Lowest request latency in milliseconds since the last stat reset.",
	"packets_received":            "Client packets received since the last stat reset.",
	"packets_sent":                "Client packets sent since the last stat reset.",
	"num_alive_connections":       "Open client connections.",
	"outstanding_requests":        "Writes waiting to be committed.",
	"uptime":                      "Milliseconds since the server started.",
	"znode_count":                 "Znodes in the data tree.",
	"watch_count":                 "Watches set by this server's clients.",
	"ephemerals_count":            "Ephemeral znodes.",
	"approximate_data_size":       "Approximate bytes of the data tree (paths and data).",
	"global_sessions":             "Global sessions known to this server.",
	"local_sessions":              "Local sessions of this server.",
	"open_file_descriptor_count":  "Open file descriptors of the process.",
	"max_file_descriptor_count":   "The process's file descriptor limit.",
	"auth_failed_count":           "Failed authentications since the last stat reset.",
	"last_zxid":                   "Zxid of the last applied transaction.",
	"current_epoch":               "The ZAB current epoch.",
	"accepted_epoch":              "The ZAB accepted epoch.",
	"learners":                    "Learners (followers, observers, relays) streaming from this server (leaders, relays).",
	"synced_followers":            "Followers synced with this leader.",
	"synced_non_voting_followers": "Non-voting followers synced with this leader (always 0).",
	"synced_observers":            "Observers and relays synced with this server.",
	"held_remote_sessions":        "zoogate: global sessions of cut-off remote learners kept alive (remote_session_hold).",
	"upstream":                    "zoogate: id of the server this learner follows.",
	"upstream_last_heard_ms":      "zoogate: milliseconds since this learner last heard from its upstream (-1 never); what read_only_max_staleness bounds when not serving.",
	"observer_lag_txns":           "zoogate: committed transactions this observer has yet to receive.",
	"observer_lag_ms":             "zoogate: how long this observer has been behind, in milliseconds (0 when caught up).",
}

// sitePrefix and the suffixes shape writeSiteLag's keys:
// site_<name>_lag_txns and site_<name>_last_heard_ms.
const sitePrefix = "site_"

var siteMetrics = []struct{ suffix, name, help string }{
	{"_lag_txns", "site_lag_txns", "zoogate, leader: committed transactions the remote site's furthest-behind learner has yet to receive (-1: no learner connected)."},
	{"_last_heard_ms", "site_last_heard_ms", "zoogate, leader: milliseconds since the remote site was last heard from (-1: no learner connected)."},
}

// mntrCollector turns mntr's numbers into gauges at each scrape. It is an
// unchecked collector: which metrics exist depends on the server's role.
type mntrCollector struct{ m *metrics }

func (mntrCollector) Describe(chan<- *prometheus.Desc) {}

func (c mntrCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.s
	vals := s.mntrValues()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := metricValue(k, vals[k])
		if !ok {
			continue
		}
		if site, name, help, ok := siteKey(k); ok {
			desc := prometheus.NewDesc(name, help, []string{"site"}, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, site)
			continue
		}
		help := mntrHelp[k]
		if help == "" {
			help = "mntr's zk_" + k + "."
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(k, help, nil, nil), prometheus.GaugeValue, v)
	}
	c.collectLearners(ch)
}

// metricValue returns mntr value v as a number: numbers as they are, the
// hex last_zxid decoded; false for the strings (version, state, site).
func metricValue(k string, v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case string:
		if k == "last_zxid" {
			if z, err := strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64); err == nil {
				return float64(z), true
			}
		}
	}
	return 0, false
}

// siteKey recognizes writeSiteLag's per-site keys.
func siteKey(k string) (site, name, help string, ok bool) {
	rest, ok := strings.CutPrefix(k, sitePrefix)
	if !ok {
		return "", "", "", false
	}
	for _, m := range siteMetrics {
		if site, ok := strings.CutSuffix(rest, m.suffix); ok && site != "" {
			return site, m.name, m.help, true
		}
	}
	return "", "", "", false
}

var connectedLearnersDesc = prometheus.NewDesc("connected_learners",
	"zoogate: learner streams connected to this server (leaders, relays, followers serving relays), by role: follower, observer or relay.",
	[]string{"role"}, nil)

// collectLearners counts the learner streams of a server that serves
// learners, by the learners' roles in the deployment.
func (c mntrCollector) collectLearners(ch chan<- prometheus.Metric) {
	s := c.m.s
	d := s.driver
	if d == nil {
		return
	}
	p := d.learners.Load()
	if p == nil {
		return
	}
	roles := map[uint64]string{}
	for _, n := range s.deployment().Nodes {
		roles[n.ID] = n.Role
	}
	counts := map[string]int{"follower": 0, "observer": 0, "relay": 0}
	for _, l := range *p {
		switch {
		case !l.Observer:
			counts["follower"]++
		case roles[l.ID] == "relay":
			counts["relay"]++
		default:
			counts["observer"]++
		}
	}
	for role, n := range counts {
		ch <- prometheus.MustNewConstMetric(connectedLearnersDesc, prometheus.GaugeValue, float64(n), role)
	}
}
