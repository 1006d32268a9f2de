// Command render turns the results of scripts/bench.sh into Markdown
// (docs/benchmarks.md). It reads a manifest of tab-separated lines that
// bench.sh appends as it goes:
//
//	meta     KEY  VALUE
//	cell     SYSTEM  TOPO  WORKLOAD  VALUE_SIZE  SESSIONS  ok|na  JSON_FILE|REASON
//	failover SYSTEM  ok|na  JSON_FILE|REASON  [VOTERS, default 3]
//	rss      SYSTEM  WHAT  KB
//	restart  SYSTEM  ok|na  COUNT  WAIT_JSON|REASON
//	fsync    JSON_FILE
//
// Usage: render MANIFEST > OUT.md
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
)

// The two systems, in table order.
const (
	sysZK = "zookeeper"
	sysZG = "zoogate"
)

var (
	topoNames     = map[string]string{"standalone": "Standalone (1 server)", "voters3": "3 voters on one machine"}
	topoOrder     = []string{"standalone", "voters3"}
	workloadNames = map[string]string{"read100": "100% reads", "mixed90": "90% reads / 10% writes", "write100": "100% writes"}
	workloadOrder = []string{"read100", "mixed90", "write100"}
)

// outcome is one system's result for a table row: a value or why not.
type outcome struct {
	ok     bool
	reason string
	file   string
}

type cellKey struct{ topo, workload, valueSize, sessions string }

type results struct {
	meta     map[string]string
	metaKeys []string
	cells    map[cellKey]map[string]outcome
	failover map[string]map[string]outcome // voters -> system -> outcome
	rss      map[string]map[string]string  // system -> what -> kB
	rssOrder []string                      // the "what"s in manifest order
	restart  map[string]outcome
	count    map[string]string
	fsync    string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render MANIFEST > OUT.md")
		os.Exit(2)
	}
	r, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	if err := r.write(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func load(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &results{meta: map[string]string{}, cells: map[cellKey]map[string]outcome{}, failover: map[string]map[string]outcome{},
		rss: map[string]map[string]string{}, restart: map[string]outcome{}, count: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Split(sc.Text(), "\t")
		bad := func() error { return fmt.Errorf("%s:%d: malformed %q line", path, n, fs[0]) }
		switch fs[0] {
		case "meta":
			if len(fs) != 3 {
				return nil, bad()
			}
			if _, seen := r.meta[fs[1]]; !seen {
				r.metaKeys = append(r.metaKeys, fs[1])
			}
			r.meta[fs[1]] = fs[2]
		case "cell":
			if len(fs) != 8 {
				return nil, bad()
			}
			k := cellKey{fs[2], fs[3], fs[4], fs[5]}
			if r.cells[k] == nil {
				r.cells[k] = map[string]outcome{}
			}
			r.cells[k][fs[1]] = mkOutcome(fs[6], fs[7])
		case "failover":
			if len(fs) != 4 && len(fs) != 5 {
				return nil, bad()
			}
			voters := "3"
			if len(fs) == 5 {
				voters = fs[4]
			}
			if r.failover[voters] == nil {
				r.failover[voters] = map[string]outcome{}
			}
			r.failover[voters][fs[1]] = mkOutcome(fs[2], fs[3])
		case "rss":
			if len(fs) != 4 {
				return nil, bad()
			}
			if r.rss[fs[1]] == nil {
				r.rss[fs[1]] = map[string]string{}
			}
			if !contains(r.rssOrder, fs[2]) {
				r.rssOrder = append(r.rssOrder, fs[2])
			}
			r.rss[fs[1]][fs[2]] = fs[3]
		case "restart":
			if len(fs) != 5 {
				return nil, bad()
			}
			r.restart[fs[1]] = mkOutcome(fs[2], fs[4])
			r.count[fs[1]] = fs[3]
		case "fsync":
			if len(fs) != 2 {
				return nil, bad()
			}
			r.fsync = fs[1]
		case "":
		default:
			return nil, bad()
		}
	}
	return r, sc.Err()
}

func mkOutcome(status, arg string) outcome {
	if status == "ok" {
		return outcome{ok: true, file: arg}
	}
	return outcome{reason: arg}
}

func readJSON[T any](file string) (*T, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return v, nil
}

// notes collects the reasons results are missing, printed once each as
// footnotes instead of in every table cell.
var notes []string

// na renders a missing result as "not available [n]".
func na(o outcome, present bool) string {
	if !present {
		return "not run"
	}
	if o.reason == "" {
		return "not available"
	}
	for i, n := range notes {
		if n == o.reason {
			return fmt.Sprintf("not available [%d]", i+1)
		}
	}
	notes = append(notes, o.reason)
	return fmt.Sprintf("not available [%d]", len(notes))
}

func ratio(zg, zk float64) string {
	if zg <= 0 || zk <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", zg/zk)
}

func (r *results) write(w io.Writer) error {
	var b strings.Builder
	m := r.meta
	b.WriteString("# Benchmarks: zoogate vs Apache ZooKeeper\n\n")
	b.WriteString("Generated by `" + m["command"] + "` (scripts/bench.sh). Do not edit by hand: every figure here comes from that one run,\n")
	b.WriteString("and the README's performance claims must come from this page.\n\n")
	if m["caveat"] != "" {
		b.WriteString("> " + m["caveat"] + "\n\n")
	}
	b.WriteString("## Machine and versions\n\n| | |\n|---|---|\n")
	for _, k := range r.metaKeys {
		if k == "command" || k == "caveat" || strings.HasPrefix(k, "method.") {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |\n", k, m[k])
	}
	b.WriteString("\n## Method\n\n")
	for _, k := range r.metaKeys {
		if strings.HasPrefix(k, "method.") {
			fmt.Fprintf(&b, "- %s\n", m[k])
		}
	}
	b.WriteString("\nRatio columns are zoogate ÷ ZooKeeper: above 1 means zoogate does more operations per second; ")
	b.WriteString("for failover windows, memory and restart time, below 1 means zoogate is better.\n\n")

	for _, topo := range topoOrder {
		if !r.hasTopo(topo) {
			continue
		}
		fmt.Fprintf(&b, "## Throughput and latency: %s\n\n", topoNames[topo])
		b.WriteString("ops/s over the measured phase; latency p50 / p99 / p99.9 in ms over all operations; errors = failed requests.\n\n")
		b.WriteString("| workload | value | sessions | ZooKeeper ops/s | ZooKeeper p50 / p99 / p99.9 | ZooKeeper errors | zoogate ops/s | zoogate p50 / p99 / p99.9 | zoogate errors | zoogate/ZooKeeper ops/s |\n")
		b.WriteString("|---|---:|---:|---:|---|---:|---:|---|---:|---:|\n")
		for _, k := range r.sortedCells(topo) {
			row := r.cells[k]
			zkCells, zkOps := cellText(row, sysZK)
			zgCells, zgOps := cellText(row, sysZG)
			fmt.Fprintf(&b, "| %s | %s B | %s | %s | %s | %s |\n", workloadNames[k.workload], k.valueSize, k.sessions,
				zkCells, zgCells, ratio(zgOps, zkOps))
		}
		b.WriteString("\n")
	}

	votersList := make([]string, 0, len(r.failover))
	for v := range r.failover {
		votersList = append(votersList, v)
	}
	sort.Slice(votersList, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.Fields(votersList[i])[0])
		b, _ := strconv.Atoi(strings.Fields(votersList[j])[0])
		return a < b || a == b && votersList[i] < votersList[j]
	})
	for _, key := range votersList {
		voters, pinned := strings.CutSuffix(key, " pinned")
		if pinned {
			fmt.Fprintf(&b, "## Failover: %s voters, the leader killed with SIGKILL; stock clients, each given one follower\n\n", voters)
			b.WriteString("Writers are go-zookeeper clients made with `zk.Connect([]string{follower}, 10s)` and nothing else (the client's own reconnect back-off included), two per follower. ")
			b.WriteString("Window = from the kill to the completion of the first write issued after it; connection losses = disconnections those clients saw after the kill.\n\n")
			b.WriteString("| system | trials recovered | median window ms | median all-writers ms | per-trial windows ms | connection losses | errors clients saw |\n|---|---:|---:|---:|---|---:|---|\n")
		} else {
			fmt.Fprintf(&b, "## Failover: %s voters, the leader killed with SIGKILL\n\n", voters)
			b.WriteString("Window = from the kill to the completion of the first write issued after it (any writer); all writers = until every writer had one. ")
			b.WriteString("Writers are given every server and retry at once through their own host provider: the window is the servers' (see the stock-client table for what a default client sees).\n\n")
			b.WriteString("| system | trials recovered | median window ms | median all-writers ms | per-trial windows ms | errors clients saw |\n|---|---:|---:|---:|---|---|\n")
		}
		var fo [2]float64
		for i, sys := range []string{sysZK, sysZG} {
			o, ok := r.failover[key][sys]
			if !ok || !o.ok {
				fmt.Fprintf(&b, "| %s | %s | | | | |%s\n", sys, na(o, ok), map[bool]string{true: " |"}[pinned])
				continue
			}
			rep, err := readJSON[bench.FailoverReport](o.file)
			if err != nil {
				return err
			}
			var wins []string
			errs := map[string]int64{}
			for _, t := range rep.Trials {
				if t.Recovered {
					wins = append(wins, fmt.Sprintf("%.0f", t.WindowMs))
				} else {
					wins = append(wins, "none")
				}
				for k, v := range t.Errors {
					errs[k] += v
				}
			}
			fo[i] = rep.MedianWindowMs
			losses := ""
			if pinned {
				losses = fmt.Sprintf(" %d |", rep.ConnectionLosses)
			}
			fmt.Fprintf(&b, "| %s | %d/%d | %.0f | %.0f | %s |%s %s |\n", sys, rep.Recovered, len(rep.Trials),
				rep.MedianWindowMs, rep.MedianAllWritersMs, strings.Join(wins, ", "), losses, errText(errs))
		}
		fmt.Fprintf(&b, "\nzoogate/ZooKeeper median window: %s\n\n", ratio(fo[1], fo[0]))
	}

	if len(r.rssOrder) > 0 || len(r.restart) > 0 { // not measured by --failover-only
		b.WriteString("## Memory and restart\n\n")
		b.WriteString("Peak RSS is VmHWM from /proc/PID/status (the largest of the servers for 3 voters). ")
		b.WriteString("Restart time is from starting the server process to its first successful read, with the znodes below on disk.\n\n")
		b.WriteString("| measure | ZooKeeper | zoogate | zoogate/ZooKeeper |\n|---|---:|---:|---:|\n")
		for _, what := range r.rssOrder {
			zk, _ := strconv.ParseFloat(r.rss[sysZK][what], 64)
			zg, _ := strconv.ParseFloat(r.rss[sysZG][what], 64)
			fmt.Fprintf(&b, "| peak RSS, %s | %s | %s | %s |\n", what, mib(zk), mib(zg), ratio(zg, zk))
		}
		var rt [2]float64
		var rtText [2]string
		for i, sys := range []string{sysZK, sysZG} {
			o, ok := r.restart[sys]
			if !ok || !o.ok {
				rtText[i] = na(o, ok)
				continue
			}
			rep, err := readJSON[bench.WaitReport](o.file)
			if err != nil {
				return err
			}
			rt[i] = rep.ReadyMs
			rtText[i] = fmt.Sprintf("%.0f ms", rep.ReadyMs)
		}
		count := r.count[sysZK]
		if count == "" {
			count = r.count[sysZG]
		}
		fmt.Fprintf(&b, "| restart to first read, %s znodes of 100 B | %s | %s | %s |\n\n", count, rtText[0], rtText[1], ratio(rt[1], rt[0]))
	}

	if r.fsync != "" {
		rep, err := readJSON[bench.FsyncReport](r.fsync)
		if err != nil {
			return err
		}
		b.WriteString("## Disk\n\n")
		fmt.Fprintf(&b, "Raw sync-write rate of the disk holding every data directory: **%.0f fsyncs/s** (p50 %.3f ms, p99 %.3f ms). Method: %s.\n",
			rep.PerSecond, rep.Latency.P50, rep.Latency.P99, rep.Method)
		b.WriteString("Every write both systems acknowledge waits for such a sync (group commit lets many writes share one).\n")
	}
	if len(notes) > 0 {
		b.WriteString("\n## Not available\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (r *results) hasTopo(topo string) bool {
	for k := range r.cells {
		if k.topo == topo {
			return true
		}
	}
	return false
}

func (r *results) sortedCells(topo string) []cellKey {
	var ks []cellKey
	for k := range r.cells {
		if k.topo == topo {
			ks = append(ks, k)
		}
	}
	idx := func(xs []string, x string) int {
		for i, v := range xs {
			if v == x {
				return i
			}
		}
		return len(xs)
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.workload != b.workload {
			return idx(workloadOrder, a.workload) < idx(workloadOrder, b.workload)
		}
		if a.valueSize != b.valueSize {
			return num(a.valueSize) < num(b.valueSize)
		}
		return num(a.sessions) < num(b.sessions)
	})
	return ks
}

// cellText renders one system's three columns and returns its ops/s.
func cellText(row map[string]outcome, sys string) (string, float64) {
	o, ok := row[sys]
	if !ok || !o.ok {
		return na(o, ok) + " | | ", 0
	}
	rep, err := readJSON[bench.Report](o.file)
	if err != nil {
		return "unreadable (" + err.Error() + ") | | ", 0
	}
	t := rep.Total
	return fmt.Sprintf("%.0f | %.2f / %.2f / %.2f | %d", t.OpsPerSec, t.Latency.P50, t.Latency.P99, t.Latency.P999, t.Errors), t.OpsPerSec
}

func errText(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	var ks []string
	for k := range errs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

func mib(kb float64) string {
	if kb <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", kb/1024)
}
