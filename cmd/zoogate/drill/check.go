package drill

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/internal/linmodel"
)

// unavailableAfter: a stretch without a successful call that is longer
// than this counts as unavailable even when no call failed in it (calls
// that hang). Slow is not unavailable: a remote write across slow-wan's
// default (190 ms each way, 3 % loss) took up to 1 s in the wan-demo
// drill; shorter hangs show in the maximum write latency.
const unavailableAfter = 2 * time.Second

// Results of the linearizability check.
const (
	LinOK      = "ok"
	LinIllegal = "illegal"
	LinTimeout = "timeout" // porcupine gave up: neither proven nor refuted
)

// Readback is one node's final state after a scenario: the acknowledged
// creates it holds and each shared key's version and value.
type Readback struct {
	Node   uint64
	Err    string // the node could not be read (then nothing else is set)
	Ledger map[string]bool
	Lin    map[int]LinState
}

// LinState is a shared key as a node holds it.
type LinState struct {
	Version int32
	Value   string
}

// LostWrites compares what the clients were told (h.Acked, h.Ledger) with
// what every node holds: an acknowledged create missing on a node, an
// acknowledged setData whose version is past the node's, or whose version
// the node holds with another value, or two acknowledgements of one
// version of a key with different values. It returns how many distinct
// acknowledged writes are lost and a description of the first few.
func LostWrites(h *History, rbs []Readback) (int, []string) {
	lost := map[string]string{} // write → why
	for _, rb := range rbs {
		if rb.Err != "" {
			continue
		}
		for _, p := range h.Ledger {
			if !rb.Ledger[p] {
				lost["create "+p] = fmt.Sprintf("create %s acknowledged, missing on node %d", p, rb.Node)
			}
		}
		for _, a := range h.Acked {
			st, ok := rb.Lin[a.Key]
			id := fmt.Sprintf("setData lin-%d version %d (%s)", a.Key, a.Version, a.Value)
			switch {
			case !ok:
				lost[id] = fmt.Sprintf("%s acknowledged, key missing on node %d", id, rb.Node)
			case a.Version > st.Version:
				lost[id] = fmt.Sprintf("%s acknowledged, node %d is at version %d", id, rb.Node, st.Version)
			case a.Version == st.Version && a.Value != st.Value:
				lost[id] = fmt.Sprintf("%s acknowledged, node %d holds %q at that version", id, rb.Node, st.Value)
			}
		}
	}
	byVersion := map[[2]int64][]string{}
	for _, a := range h.Acked {
		k := [2]int64{int64(a.Key), int64(a.Version)}
		if !slices.Contains(byVersion[k], a.Value) {
			byVersion[k] = append(byVersion[k], a.Value)
		}
	}
	for k, vals := range byVersion {
		if len(vals) < 2 {
			continue
		}
		slices.Sort(vals)
		for _, v := range vals[1:] {
			id := fmt.Sprintf("setData lin-%d version %d (%s)", k[0], k[1], v)
			if _, ok := lost[id]; !ok {
				lost[id] = fmt.Sprintf("version %d of lin-%d acknowledged %d times with different values (%s)", k[1], k[0], len(vals), strings.Join(vals, ", "))
			}
		}
	}
	var why []string
	for _, w := range lost {
		why = append(why, w)
	}
	slices.Sort(why)
	return len(lost), why[:min(len(why), 5)]
}

// Linearizable checks the setData history with porcupine (lincheck's
// model of a znode's version), giving up after timeout.
func Linearizable(h *History, timeout time.Duration) string {
	switch porcupine.CheckOperationsTimeout(linmodel.Model.ToModel(), h.Lin, timeout) {
	case porcupine.Ok:
		return LinOK
	case porcupine.Illegal:
		return LinIllegal
	}
	return LinTimeout
}

// readBack reads a scenario's znodes from one node (a session on that node
// alone, after sync so that it has applied every earlier commit).
func readBack(ctx context.Context, id uint64, addr, base string, timeout time.Duration) Readback {
	rb := Readback{Node: id, Ledger: map[string]bool{}, Lin: map[int]LinState{}}
	err := withConn(ctx, []string{addr}, timeout, func(c *zk.Conn) error {
		if _, err := c.Sync(base); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		kids, _, err := c.Children(base + "/ledger")
		if err != nil {
			return fmt.Errorf("children of %s/ledger: %w", base, err)
		}
		for _, k := range kids {
			rb.Ledger[base+"/ledger/"+k] = true
		}
		for k := 0; k < linKeys; k++ {
			data, st, err := c.Get(base + "/lin-" + strconv.Itoa(k))
			if err != nil {
				return fmt.Errorf("get lin-%d: %w", k, err)
			}
			rb.Lin[k] = LinState{Version: st.Version, Value: string(data)}
		}
		return nil
	})
	if err != nil {
		return Readback{Node: id, Err: err.Error()}
	}
	return rb
}

// SiteResult is what one site's clients saw in a scenario.
type SiteResult struct {
	Site               string  `json:"site"`
	WriteUnavailableMs float64 `json:"write_unavailable_ms"`
	ReadUnavailableMs  float64 `json:"read_unavailable_ms"`
	ConnectionLosses   int     `json:"connection_losses"`
	// ConnectionLossesSurviving counts the losses of connections to
	// servers the scenario did not kill or stop.
	ConnectionLossesSurviving int     `json:"connection_losses_surviving"`
	SessionExpirations        int     `json:"session_expirations"`
	MaxStalenessMs            float64 `json:"max_staleness_ms"`
	MaxWriteLatencyMs         float64 `json:"max_write_latency_ms"`
	// What a client that asks for read-only mode saw (the site's
	// read-only reader): reads unavailable, their worst staleness, and
	// how many a server answered in read-only mode.
	ReadOnlyUnavailableMs  float64 `json:"ro_read_unavailable_ms"`
	ReadOnlyMaxStalenessMs float64 `json:"ro_max_staleness_ms"`
	ReadOnlyServed         int     `json:"ro_reads_in_read_only_mode"`
	Counts                 Counts  `json:"ops"`
	Timeline               []Bin   `json:"-"`
}

// Counts of a site's calls.
type Counts struct {
	Writes       int `json:"writes"`
	WritesFailed int `json:"writes_failed"`
	Reads        int `json:"reads"`
	ReadsFailed  int `json:"reads_failed"`
}

// Bin is one slice of a site's timeline.
type Bin struct {
	WritesOK, WritesFailed int
	ReadsOK, ReadsFailed   int
	MaxStaleMs             float64
}

// staleness of a read that saw clock counter seen when it was called at
// call: how long the first clock update it missed had been acknowledged
// (0 when it missed none acknowledged before it).
func staleness(clock []ClockAck, seen int64, call time.Duration) time.Duration {
	i, _ := slices.BinarySearchFunc(clock, seen+1, func(a ClockAck, c int64) int { return int(a.Counter - c) })
	if i >= len(clock) || clock[i].At >= call {
		return 0
	}
	return call - clock[i].At
}

// unavailable sums the stretches between consecutive successful
// completions (and from the last one to end) that hold a failed call or
// last longer than unavailableAfter. Calls completed after end are left
// out (the workload's own close fails them).
func unavailable(ops []Op, end time.Duration) time.Duration {
	slices.SortFunc(ops, func(a, b Op) int { return int(a.Ret - b.Ret) })
	var total time.Duration
	last, failed := time.Duration(-1), false
	for _, o := range ops {
		if o.Ret > end {
			break
		}
		if o.Outcome != outOK {
			failed = last >= 0
			continue
		}
		if last >= 0 && (failed || o.Ret-last > unavailableAfter) {
			total += o.Ret - last
		}
		last, failed = o.Ret, false
	}
	switch {
	case last < 0 && len(ops) > 0:
		return end // never once available
	case last >= 0 && (failed || end-last > unavailableAfter):
		total += end - last
	}
	return total
}

// Sites computes what each site's clients saw, with a timeline of bins of
// width bin.
func Sites(h *History, bin time.Duration) []SiteResult {
	out := make([]SiteResult, len(h.Sites))
	nbins := int(h.End/bin) + 1
	// Per site, per client: a client's unavailability is what it saw;
	// the site's is its worst client's.
	writes := make([]map[int][]Op, len(h.Sites))
	reads := make([]map[int][]Op, len(h.Sites))
	ro := make([][]Op, len(h.Sites))
	for i := range out {
		out[i].Site = h.Sites[i]
		out[i].Timeline = make([]Bin, nbins)
		writes[i], reads[i] = map[int][]Op{}, map[int][]Op{}
	}
	for _, o := range h.Ops {
		if o.Ret > h.End {
			continue
		}
		r := &out[o.Site]
		b := &r.Timeline[min(int(o.Ret/bin), nbins-1)]
		ok := o.Outcome == outOK
		if o.Kind == opWrite {
			writes[o.Site][o.Client] = append(writes[o.Site][o.Client], o)
			r.MaxWriteLatencyMs = max(r.MaxWriteLatencyMs, ms(o.Ret-o.Call))
			r.Counts.Writes++
			if ok {
				b.WritesOK++
			} else {
				r.Counts.WritesFailed++
				b.WritesFailed++
			}
			continue
		}
		if o.Kind == opROReader {
			ro[o.Site] = append(ro[o.Site], o)
			if o.Outcome == outOK {
				if o.ReadOnly {
					r.ReadOnlyServed++
				}
				if o.Seen >= 0 {
					r.ReadOnlyMaxStalenessMs = max(r.ReadOnlyMaxStalenessMs, ms(staleness(h.Clock, o.Seen, o.Call)))
				}
			}
			continue
		}
		reads[o.Site][o.Client] = append(reads[o.Site][o.Client], o)
		r.Counts.Reads++
		if !ok {
			r.Counts.ReadsFailed++
			b.ReadsFailed++
			continue
		}
		b.ReadsOK++
		if o.Seen >= 0 {
			st := ms(staleness(h.Clock, o.Seen, o.Call))
			r.MaxStalenessMs = max(r.MaxStalenessMs, st)
			b.MaxStaleMs = max(b.MaxStaleMs, st)
		}
	}
	for i := range out {
		for _, ops := range writes[i] {
			out[i].WriteUnavailableMs = max(out[i].WriteUnavailableMs, ms(unavailable(ops, h.End)))
		}
		for _, ops := range reads[i] {
			out[i].ReadUnavailableMs = max(out[i].ReadUnavailableMs, ms(unavailable(ops, h.End)))
		}
		out[i].ReadOnlyUnavailableMs = ms(unavailable(ro[i], h.End))
	}
	for _, e := range h.Events {
		if e.Expired {
			out[e.Site].SessionExpirations++
		} else {
			out[e.Site].ConnectionLosses++
			if !h.Down[e.Server] {
				out[e.Site].ConnectionLossesSurviving++
			}
		}
	}
	return out
}
