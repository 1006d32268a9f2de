package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// LatencyMs holds latency figures in milliseconds.
type LatencyMs struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Mean float64 `json:"mean_ms"`
	Min  float64 `json:"min_ms"`
	Max  float64 `json:"max_ms"`
}

// OpStats is one operation type's (or the total's) results. Latencies are
// of successful operations; Errors counts the failed ones.
type OpStats struct {
	Op        string    `json:"op"`
	Count     int64     `json:"count"`
	Errors    int64     `json:"errors"`
	OpsPerSec float64   `json:"ops_per_sec"`
	Latency   LatencyMs `json:"latency"`
}

// Report is the result of a load-generator run.
type Report struct {
	Mode           Mode             `json:"mode"`
	Client         Client           `json:"client"`
	Servers        []string         `json:"servers"`
	Sessions       int              `json:"sessions"`
	Outstanding    int              `json:"outstanding"`
	ReadRatio      float64          `json:"read_ratio"`
	ValueSize      int              `json:"value_size"`
	Keys           int              `json:"keys"`
	Seed           int64            `json:"seed"`
	Started        time.Time        `json:"started"`
	WarmupSeconds  float64          `json:"warmup_seconds"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	Rounds         int              `json:"rounds,omitempty"`
	Interrupted    bool             `json:"interrupted,omitempty"`
	Ops            []OpStats        `json:"ops"`
	Total          OpStats          `json:"total"`
	Errors         map[string]int64 `json:"errors"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r as a human-readable table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "zoogate bench: mode=%s client=%s servers=%s sessions=%d outstanding=%d", r.Mode, r.Client, strings.Join(r.Servers, ","), r.Sessions, r.Outstanding)
	switch r.Mode {
	case ModeMixed:
		fmt.Fprintf(&b, " read-ratio=%g keys=%d", r.ReadRatio, r.Keys)
	case ModeWatch:
		fmt.Fprintf(&b, " rounds=%d", r.Rounds)
	}
	fmt.Fprintf(&b, " value-size=%d seed=%d\n", r.ValueSize, r.Seed)
	fmt.Fprintf(&b, "measured %.2fs after %.2fs warm-up", r.ElapsedSeconds, r.WarmupSeconds)
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\terrors\tops/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, o := range append(append([]OpStats(nil), r.Ops...), r.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			o.Op, o.Count, o.Errors, o.OpsPerSec, o.Latency.P50, o.Latency.P99, o.Latency.P999, o.Latency.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nerrors:\n")
		for _, name := range sortedKeys(r.Errors) {
			fmt.Fprintf(&b, "  %-24s %d\n", name, r.Errors[name])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
