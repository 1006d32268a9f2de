package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a drill (--json prints it).
type Report struct {
	Config     string           `json:"config"`
	Local      bool             `json:"local"`
	Control    string           `json:"control"`
	Seed       uint64           `json:"seed"`
	Started    time.Time        `json:"started"`
	DurationMs float64          `json:"duration_ms"`
	Passed     bool             `json:"passed"`
	Scenarios  []ScenarioResult `json:"scenarios"`
	// Skipped: scenarios a drill without --scenario did not run here, and
	// why.
	Skipped []string `json:"skipped,omitempty"`
}

// ScenarioResult is what one scenario did and what clients saw. Times
// (_ms) count from the start of the scenario's workload.
type ScenarioResult struct {
	Name            string       `json:"name"`
	Site            string       `json:"site,omitempty"`
	Passed          bool         `json:"passed"`
	LostAckedWrites int          `json:"lost_acked_writes"`
	Linearizable    bool         `json:"linearizable"`
	LinCheck        string       `json:"linearizability_check"` // ok, illegal, timeout, not run
	LinOps          int          `json:"linearizability_ops"`
	AckedWrites     int          `json:"acked_writes"`
	Fault           string       `json:"fault"`
	FaultMs         float64      `json:"fault_ms"`
	HealMs          float64      `json:"heal_ms"`
	RecoveredMs     float64      `json:"recovered_ms"` // 0: did not recover
	EndMs           float64      `json:"end_ms"`
	BinMs           float64      `json:"-"`
	Trees           string       `json:"trees"`
	Actions         []Action     `json:"actions"`
	Lost            []string     `json:"lost,omitempty"`
	Problems        []string     `json:"problems,omitempty"`
	Error           string       `json:"error,omitempty"`
	Sites           []SiteResult `json:"sites"`
}

// Action is one step the drill took in a scenario.
type Action struct {
	AtMs float64 `json:"at_ms"`
	What string  `json:"what"`
}

func writeJSONReport(rep *Report, w io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func seconds(msv float64) string {
	return (time.Duration(msv * 1e6)).Round(10 * time.Millisecond).String()
}

// writeSummary prints the readable summary: a block per scenario.
func writeSummary(rep *Report, w io.Writer) {
	verdict := "PASSED"
	if !rep.Passed {
		verdict = "FAILED"
	}
	mode := rep.Control
	fmt.Fprintf(w, "zoogate drill of %s: %s (%d scenarios in %s, seed %d; nodes: %s)\n", rep.Config, verdict, len(rep.Scenarios), seconds(rep.DurationMs), rep.Seed, mode)
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(w, "not run here: %s\n", strings.Join(rep.Skipped, ", "))
	}
	for _, s := range rep.Scenarios {
		res := "pass"
		if !s.Passed {
			res = "FAIL"
		}
		name := s.Name
		if s.Site != "" {
			name += " " + s.Site
		}
		fmt.Fprintf(w, "\n%s  %s: %s\n", res, name, s.Fault)
		if s.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", s.Error)
			continue
		}
		rec := "did not recover"
		if s.RecoveredMs > 0 {
			rec = "recovered " + seconds(s.RecoveredMs-s.HealMs) + " after the heal"
		}
		fmt.Fprintf(w, "  fault at %s for %s, %s; %d writes acknowledged, %d lost; linearizable: %s (%s, %d setData); trees %s\n",
			seconds(s.FaultMs), seconds(s.HealMs-s.FaultMs), rec, s.AckedWrites, s.LostAckedWrites, yesNo(s.Linearizable), s.LinCheck, s.LinOps, s.Trees)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SITE\tWRITES UNAVAIL\tREADS UNAVAIL\tRO READS UNAVAIL\tCONN LOST (SURVIVING)\tEXPIRED\tMAX STALE\tRO MAX STALE\tMAX WRITE LAT\tWRITES OK/FAIL\tREADS OK/FAIL")
		for _, r := range s.Sites {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d (%d)\t%d\t%s\t%s\t%s\t%d/%d\t%d/%d\n", r.Site, seconds(r.WriteUnavailableMs), seconds(r.ReadUnavailableMs),
				seconds(r.ReadOnlyUnavailableMs), r.ConnectionLosses, r.ConnectionLossesSurviving, r.SessionExpirations, seconds(r.MaxStalenessMs), seconds(r.ReadOnlyMaxStalenessMs),
				seconds(r.MaxWriteLatencyMs), r.Counts.Writes-r.Counts.WritesFailed, r.Counts.WritesFailed, r.Counts.Reads-r.Counts.ReadsFailed, r.Counts.ReadsFailed)
		}
		tw.Flush()
		for _, l := range s.Lost {
			fmt.Fprintf(w, "  LOST: %s\n", l)
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
	}
}

// progress shows where the drill is on stderr: one line rewritten in
// place on a terminal, a line per phase otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	prefix   string
	last     string // the last phase printed (not on a terminal)
	lastTick time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// say prints a message on its own line.
func (p *progress) say(format string, a ...any) {
	p.clear()
	fmt.Fprintf(p.w, "drill: "+format+"\n", a...)
}

func (p *progress) start(i, n int, name string) {
	p.prefix = fmt.Sprintf("[%d/%d] %s", i, n, name)
	p.last = ""
}

// tick shows the phase, its progress and the writes so far.
func (p *progress) tick(phase string, done, total time.Duration, wl *workload) {
	line := p.prefix + ": " + phase
	if total > 0 {
		line += fmt.Sprintf(" %s/%s", done.Round(100*time.Millisecond), total)
	}
	if wl != nil {
		ok, failed := wl.progress()
		line += fmt.Sprintf("  (writes: %d ok, %d failed)", ok, failed)
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+line)
		return
	}
	if phase != p.last {
		p.last = phase
		fmt.Fprintln(p.w, "drill: "+line)
	}
}

// done ends a scenario's progress with its verdict.
func (p *progress) done(r ScenarioResult) {
	p.clear()
	v := "passed"
	if !r.Passed {
		v = "FAILED"
		if r.Error != "" {
			v += ": " + r.Error
		} else if len(r.Problems) > 0 {
			v += ": " + strings.Join(r.Problems, "; ")
		}
	}
	fmt.Fprintf(p.w, "drill: %s %s (%d acknowledged writes, %d lost, linearizable %s)\n", p.prefix, v, r.AckedWrites, r.LostAckedWrites, yesNo(r.Linearizable))
}
