package bench

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// opKind is an operation type, one latency histogram each.
type opKind int

const (
	opGet opKind = iota
	opSet
	opCreate
	opDelete
	opConnect
	opCreateEphemeral
	opClose
	opArm
	opNotify
	numOps
)

var opNames = [numOps]string{
	opGet:             "get",
	opSet:             "set",
	opCreate:          "create",
	opDelete:          "delete",
	opConnect:         "connect",
	opCreateEphemeral: "create_ephemeral",
	opClose:           "close",
	opArm:             "arm_watch",
	opNotify:          "notify",
}

func (o opKind) String() string { return opNames[o] }

type errKey struct {
	op   opKind
	name string
}

// stats is what one goroutine measured. Only its owner writes to it.
type stats struct {
	hists   [numOps]*Histogram
	errs    map[errKey]int64
	lastEnd time.Time // end of the last measured operation
}

func newStats() *stats { return &stats{errs: map[errKey]int64{}} }

func (s *stats) ok(op opKind, start, end time.Time) {
	h := s.hists[op]
	if h == nil {
		h = NewHistogram()
		s.hists[op] = h
	}
	h.RecordDuration(end.Sub(start))
	if end.After(s.lastEnd) {
		s.lastEnd = end
	}
}

func (s *stats) fail(op opKind, err error, end time.Time) {
	s.errs[errKey{op, errorName(err)}]++
	if end.After(s.lastEnd) {
		s.lastEnd = end
	}
}

func (s *stats) merge(o *stats) {
	for i, h := range o.hists {
		if h == nil {
			continue
		}
		if s.hists[i] == nil {
			s.hists[i] = NewHistogram()
		}
		s.hists[i].Merge(h)
	}
	for k, v := range o.errs {
		s.errs[k] += v
	}
	if o.lastEnd.After(s.lastEnd) {
		s.lastEnd = o.lastEnd
	}
}

// phase is the shared run state workers consult between operations.
type phase struct {
	measuring   atomic.Bool
	stopped     atomic.Bool
	bounded     bool         // Ops > 0
	tickets     atomic.Int64 // measured operations left when bounded
	done        atomic.Int64 // measured operations finished (ok or not)
	failed      atomic.Int64 // measured operations that failed
	exhausted   chan struct{}
	exhaustOnce sync.Once
}

func newPhase(ops int64) *phase {
	p := &phase{bounded: ops > 0, exhausted: make(chan struct{})}
	p.tickets.Store(ops)
	return p
}

// admit reports whether a worker may start another operation and whether
// that operation is measured.
func (p *phase) admit() (ok, measured bool) {
	if p.stopped.Load() {
		return false, false
	}
	if !p.measuring.Load() {
		return true, false
	}
	if p.bounded && p.tickets.Add(-1) < 0 {
		p.closeExhausted()
		return false, false
	}
	return true, true
}

// closeExhausted tells the driver that no more operations will run.
func (p *phase) closeExhausted() {
	p.exhaustOnce.Do(func() { close(p.exhausted) })
}

// finish accounts one finished operation.
func (p *phase) finish(measured bool, err error) {
	if !measured {
		return
	}
	p.done.Add(1)
	if err != nil {
		p.failed.Add(1)
	}
}

// opStatsFrom builds the report rows from merged stats.
func opStatsFrom(s *stats, elapsed time.Duration) (rows []OpStats, total OpStats, errs map[string]int64) {
	errs = map[string]int64{}
	perOpErrs := map[opKind]int64{}
	for k, v := range s.errs {
		errs[k.name] += v
		perOpErrs[k.op] += v
	}
	all := NewHistogram()
	secs := elapsed.Seconds()
	for op := opKind(0); op < numOps; op++ {
		h := s.hists[op]
		if h == nil && perOpErrs[op] == 0 {
			continue
		}
		if h == nil {
			h = NewHistogram()
		}
		all.Merge(h)
		rows = append(rows, makeOpStats(op.String(), h, perOpErrs[op], secs))
	}
	var totalErrs int64
	for _, v := range perOpErrs {
		totalErrs += v
	}
	total = makeOpStats("total", all, totalErrs, secs)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Op < rows[j].Op })
	return rows, total, errs
}

func makeOpStats(name string, h *Histogram, errs int64, secs float64) OpStats {
	o := OpStats{Op: name, Count: int64(h.Count()), Errors: errs}
	if secs > 0 {
		o.OpsPerSec = float64(h.Count()) / secs
	}
	o.Latency = LatencyMs{
		P50:  ms(h.Quantile(0.50)),
		P99:  ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)),
		Mean: h.Mean() / 1e6,
		Min:  ms(h.Min()),
		Max:  ms(h.Max()),
	}
	return o
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
