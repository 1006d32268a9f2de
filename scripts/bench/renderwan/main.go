// Command renderwan turns the manifest of scripts/bench-wan.sh into the
// Markdown report docs/benchmarks-wan.md. It reads only what the run
// recorded: a measurement that failed is shown as such, never estimated.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/zoogate/zoogate/cmd/zoogate/bench"
)

type result struct {
	wan   *bench.WANReport
	reads *bench.Report
	na    string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: renderwan MANIFEST")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var metas [][2]string
	var cpus []cpuRow
	res := map[string]*result{} // "kind/system[/k]"
	sysNA := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		r := strings.Split(sc.Text(), "\t")
		switch r[0] {
		case "meta":
			metas = append(metas, [2]string{r[1], r[2]})
		case "na":
			sysNA[r[1]] = r[2]
		case "staleness":
			res["staleness/"+r[2]+"/"+r[1]] = load(r[3], r[4], false)
		case "cpu":
			cpus = append(cpus, parseCPU(r))
		case "reads", "remote-writes", "catchup", "sessions", "sessions-global", "ro-reads":
			res[r[0]+"/"+r[1]] = load(r[2], r[3], r[0] == "reads")
		}
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# zoogate across a WAN, beside Apache ZooKeeper\n\n")
	p("Written by `scripts/bench-wan.sh` (`make bench-wan`, also run by `make bench`). Do not edit by hand.\n\n")
	p("A primary site of 3 voters and one remote site, on one machine, the remote site behind a user-space WAN (`zoogate bench wanproxy`: 40 ms one-way delay each way, byte counters, cut and heal). Apache ZooKeeper's observers reach its voters through the proxy over TCP (one connection per observer to the leader, plus election connections); zoogate's relay reaches the voters through it over QUIC with mutual TLS, and its observers follow the relay over the site's LAN. Both are measured with the same client code in the same run; ratio = zoogate ÷ ZooKeeper (or ZooKeeper ÷ zoogate where less is better, marked).\n\n")
	for sys, why := range sysNA {
		p("**%s was not available**: %s\n\n", sys, why)
	}
	p("| measure | Apache ZooKeeper | zoogate | ratio | target |\n|---|---|---|---|---|\n")
	get := func(key string) (*result, string) {
		r := res[key]
		if r == nil {
			return nil, "not measured"
		}
		if r.na != "" {
			return nil, "failed: " + r.na
		}
		return r, ""
	}
	row := func(name string, key string, val func(*result) (float64, string), lowerBetter bool, target string) {
		zk, zkWhy := get(key + "/zookeeper")
		zg, zgWhy := get(key + "/zoogate")
		cell := func(r *result, why string) (string, float64, bool) {
			if r == nil {
				return why, 0, false
			}
			v, s := val(r)
			return s, v, true
		}
		a, av, aok := cell(zk, zkWhy)
		b, bv, bok := cell(zg, zgWhy)
		ratio := ""
		switch {
		case aok && bok && lowerBetter && bv > 0:
			ratio = fmt.Sprintf("%.2f× (ZK ÷ zoogate)", av/bv)
		case aok && bok && !lowerBetter && av > 0:
			ratio = fmt.Sprintf("%.2f×", bv/av)
		}
		p("| %s | %s | %s | %s | %s |\n", name, a, b, ratio, target)
	}
	stale := func(q string) func(*result) (float64, string) {
		return func(r *result) (float64, string) {
			s := r.wan.Staleness
			if s == nil {
				return 0, "none"
			}
			v := s.P50
			if q == "p99" {
				v = s.P99
			}
			miss := ""
			if r.wan.StalenessMissing > 0 {
				miss = fmt.Sprintf(" (%d never seen)", r.wan.StalenessMissing)
			}
			return v, fmt.Sprintf("%.1f ms%s", v, miss)
		}
	}
	row("staleness at the remote observers, p50 (2 observers, 200 writes/s)", "staleness/2", stale("p50"), true, "")
	row("staleness at the remote observers, p99", "staleness/2", stale("p99"), true, "≤ 50 ms (one-way delay + 10 ms)")
	for _, k := range []string{"1", "2", "4"} {
		target := ""
		if k == "2" {
			target = "zoogate ≤ 0.6× ZooKeeper"
		}
		if k == "4" {
			target = "zoogate flat in the number of observers"
		}
		row("WAN bytes per write, whole site, "+k+" observer(s)", "staleness/"+k, func(r *result) (float64, string) {
			return r.wan.BytesPerWrite, fmt.Sprintf("%.0f B (%d writes)", r.wan.BytesPerWrite, r.wan.Writes)
		}, true, target)
	}
	row("write from a client of a remote observer, p50", "remote-writes", func(r *result) (float64, string) {
		return r.wan.RemoteWrites.P50, fmt.Sprintf("%.1f ms", r.wan.RemoteWrites.P50)
	}, true, "")
	row("write from a client of a remote observer, p99", "remote-writes", func(r *result) (float64, string) {
		return r.wan.RemoteWrites.P99, fmt.Sprintf("%.1f ms (%d writes, %d errors)", r.wan.RemoteWrites.P99, r.wan.RemoteWrites.Count, r.wan.RemoteErrors)
	}, true, "")
	sess := func(r *result) (float64, string) {
		s := r.wan.SessionCreates
		if s == nil {
			return 0, "none"
		}
		return s.P50, fmt.Sprintf("%.1f / %.1f ms (%d sessions)", s.P50, s.P99, s.Count)
	}
	row("new session on a remote observer, p50 / p99 (zoogate: local sessions)", "sessions", sess, true, "")
	if r, why := get("sessions-global/zoogate"); r != nil || res["sessions-global/zoogate"] != nil {
		cell := why
		if r != nil {
			_, cell = sess(r)
		}
		p("| new session on a remote observer, zoogate with `local_sessions = false` | | %s | | |\n", cell)
	}
	row("catch-up after the cut: heal → last write visible on both observers", "catchup", func(r *result) (float64, string) {
		parts := make([]string, len(r.wan.CatchUpMs))
		for i, m := range r.wan.CatchUpMs {
			parts[i] = fmt.Sprintf("%.0f", m)
		}
		return r.wan.CatchUpMaxMs, fmt.Sprintf("%.0f ms (each: %s)", r.wan.CatchUpMaxMs, strings.Join(parts, ", "))
	}, true, "≤ 1 s")
	row("reads answered for read-only clients on the remote site during the cut (before it)", "ro-reads", func(r *result) (float64, string) {
		w := r.wan
		if w.ROReadsDuringCut == 0 {
			return 0, "none tried"
		}
		f := float64(w.ROReadsOKDuringCut) / float64(w.ROReadsDuringCut)
		before := 0.0
		if w.ROReadsBefore > 0 {
			before = float64(w.ROReadsOKBefore) / float64(w.ROReadsBefore)
		}
		return f * 100, fmt.Sprintf("%.1f %% of %d (%.1f %%)", f*100, w.ROReadsDuringCut, before*100)
	}, false, "100 %")
	for _, phase := range []string{"before", "during"} {
		row("primary write latency p50 / p99, "+phase+" the cut", "catchup", func(r *result) (float64, string) {
			s := r.wan.PrimaryBeforeCut
			if phase == "during" {
				s = r.wan.PrimaryDuringCut
			}
			if s == nil {
				return 0, "none"
			}
			return s.P99, fmt.Sprintf("%.2f / %.2f ms (%d writes)", s.P50, s.P99, s.Count)
		}, true, map[string]string{"during": "unchanged by the cut"}[phase])
	}
	row("reads/s on the 2 remote observers (64 sessions, 100 B)", "reads", func(r *result) (float64, string) {
		return r.reads.Total.OpsPerSec, fmt.Sprintf("%.0f/s (p99 %.1f ms)", r.reads.Total.OpsPerSec, r.reads.Total.Latency.P99)
	}, false, "zoogate ≥ 2×")
	if len(cpus) > 0 {
		p("\n## The leader's CPU per remote site: relays following the leader, or a follower\n\n")
		p("zoogate only: 3 voters and up to 4 remote sites of one relay each, all behind the same proxy; one session on the leader writes %s; the leader's CPU time (utime + stime from /proc) over the run, per 1000 writes. `relay_upstream = \"leader\"`: every relay follows the leader. `\"follower\"`: relays take turns over the voters (the k-th relay starts at voter k+1), so one of them may land on the leader; the column *leader serves* says how many site streams the leader sent itself.\n\n", cpuLoad)
		p("| relay_upstream | relays | leader serves | leader CPU per 1000 writes | extra per site (vs 0 relays) | what each relay follows |\n|---|---|---|---|---|---|\n")
		base := map[string]float64{}
		for _, c := range cpus {
			if c.na == "" && c.relays == 0 {
				base[c.mode] = c.msPer1000
			}
		}
		for _, c := range cpus {
			if c.na != "" {
				p("| %s | | | failed: %s | | |\n", c.mode, c.na)
				continue
			}
			extra := ""
			if b, ok := base[c.mode]; ok && c.relays > 0 {
				extra = fmt.Sprintf("%+.1f ms", (c.msPer1000-b)/float64(c.relays))
			}
			p("| %s | %d | %s | %.1f ms | %s | %s |\n", c.mode, c.relays, c.served, c.msPer1000, extra, c.ups)
		}
	}
	p("\n## How it was measured\n\n")
	p("- Staleness: one session on the leader writes a 100 B value to one znode at 200 writes/s; a session on each remote observer follows the znode with data watches (re-reading after each event). A version is visible when a watch event or a read first shows it there; staleness = that moment − the moment the writer had its acknowledgement (the same clock: one machine). WAN bytes: the proxy's payload byte counters (both directions, TCP or UDP payload; IP, TCP and UDP headers not counted) over the run, divided by the writes, so they include pings and keepalives.\n")
	p("- zoogate's WAN bytes are QUIC packets with TLS 1.3 encryption; ZooKeeper's are plaintext TCP (its observers have no WAN encryption here).\n")
	p("- Remote writes: one session per remote observer writes in a loop (setData, 100 B); each write is forwarded across the WAN to the leader.\n")
	p("- Catch-up: the writer runs at 200 writes/s; after 10 s the proxy cuts the site (datagrams dropped, TCP bytes held) for the cut time, then heals; a session per remote observer polls it every 10 ms and the catch-up is the time from the heal until it shows the last write acknowledged before the heal. Measuring sessions reconnect every 20 ms while disconnected, so the time is the servers', not a client's back-off. The cut is not the same for both: the proxy holds ZooKeeper's TCP bytes and delivers them on the heal, so its connections resume with no loss to recover from (on a real network TCP would be in its retransmission back-off); zoogate's QUIC datagrams are dropped, as a real cut drops packets, so its relay opens a new connection after the heal and fetches the DIFF in QUIC slow start.\n")
	p("- Reads: `zoogate bench --mode mixed --read-ratio 1 --sessions 64 --outstanding 4` against the two remote observers.\n")
	p("- Read-only clients: `zoogate bench wan --mode ro-reads`: one client per remote observer that sets the readOnly flag reads `/` every 10 ms and reconnects at once when it loses its connection; the share of reads answered during the cut (a read tried while disconnected counts as not answered). ZooKeeper runs this in its own deployment with `-Dreadonlymode.enabled=true` and `localSessionsEnabled=true` (its read-only mode takes new sessions only with local sessions); zoogate as it comes (`read_only = true`).\n")
	p("- New sessions: `zoogate bench wan --mode sessions`: one new session after another on each remote observer, timed from the dial to the ConnectResponse. ZooKeeper's observers run with its default global sessions (its `localSessionsEnabled` is off by default); zoogate's sessions on observers are local by default (`local_sessions = true`) and made on the spot; with `local_sessions = false` (its own deployment, one observer) they go through the leader like ZooKeeper's.\n\n")
	p("## Run\n\n")
	for _, m := range metas {
		p("- %s: %s\n", m[0], m[1])
	}
}

func load(status, arg string, reads bool) *result {
	if status != "ok" {
		return &result{na: arg}
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return &result{na: err.Error()}
	}
	r := &result{}
	if reads {
		r.reads = &bench.Report{}
		err = json.Unmarshal(b, r.reads)
	} else {
		r.wan = &bench.WANReport{}
		err = json.Unmarshal(b, r.wan)
	}
	if err != nil {
		return &result{na: fmt.Sprintf("%s: %v", arg, err)}
	}
	return r
}

// cpuLoad describes the load of the CPU rows; set from the first row.
var cpuLoad = "at 400 writes/s"

type cpuRow struct {
	mode, served, ups, na string
	relays                int
	msPer1000             float64
}

// parseCPU reads "cpu MODE ok K SERVED TICKS CLK_TCK FILE UPS" or
// "cpu MODE na REASON".
func parseCPU(r []string) cpuRow {
	c := cpuRow{mode: r[1]}
	if len(r) < 9 || r[2] != "ok" {
		c.na = strings.Join(r[3:], " ")
		return c
	}
	var ticks, clk float64
	fmt.Sscan(r[3], &c.relays)
	c.served = r[4]
	fmt.Sscan(r[5], &ticks)
	fmt.Sscan(r[6], &clk)
	c.ups = r[8]
	res := load("ok", r[7], false)
	if res.na != "" || res.wan.Writes == 0 || clk == 0 {
		c.na = "no writes recorded: " + res.na
		return c
	}
	cpuLoad = fmt.Sprintf("%d writes of 100 random bytes at %.0f/s", res.wan.Writes, res.wan.Rate)
	c.msPer1000 = ticks / clk * 1000 / float64(res.wan.Writes) * 1000
	return c
}
