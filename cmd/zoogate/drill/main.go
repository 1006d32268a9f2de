package drill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/topology"
)

// Main runs `zoogate drill` with args (after "drill"): 0 when every
// scenario passed, 1 when one failed or the drill could not run, 2 on a
// usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		for _, l := range strings.Split(strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "), "\n") {
			fmt.Fprintf(stderr, "zoogate drill: %s\n", l)
		}
		fmt.Fprintf(stderr, "usage: %s\n", usageLine)
		return 2
	}
	f, err := topology.Load(o.Config)
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "zoogate drill: --config: %s\n", l)
		}
		return 1
	}
	if err := o.checkAgainst(f); err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "zoogate drill: %s\n", l)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first Ctrl-C heals and cleans up; a second one ends the
		// drill at once (its local nodes die with it).
		<-ctx.Done()
		stop()
	}()
	rep, err := Run(ctx, o, f, stderr)
	// A drill that ran no scenario has no summary to show (--json still
	// prints its object, passed false).
	if rep != nil && (len(rep.Scenarios) > 0 || o.JSON) {
		if werr := writeReports(rep, o, stdout); werr != nil {
			fmt.Fprintf(stderr, "zoogate drill: %v\n", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "zoogate drill: %v\n", err)
		return 1
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// drill is one run: the deployment, how to fail it, the report so far.
type drill struct {
	o       *Options
	f       *topology.File // what the nodes run (the rewritten file with --local)
	ctl     controller
	faults  *faultClient
	log     hclog.Logger
	prog    *progress
	rnd     *rand.Rand
	seed    uint64
	runID   string
	sites   []string   // the primary site first
	servers [][]string // per site: client addresses
	cur     *ScenarioResult
	at      func() time.Duration // the current workload's clock
	down    map[string]bool      // client addresses of the nodes the scenario took down
}

// Run runs the drill of o on the deployment of f (started here with
// --local) and returns its report; err is set when the drill itself could
// not run (the report then holds what ran).
func Run(ctx context.Context, o *Options, f *topology.File, stderr io.Writer) (*Report, error) {
	log := hclog.New(&hclog.LoggerOptions{Name: "drill", Level: hclog.LevelFromString(o.LogLevel), Output: stderr})
	seed := uint64(o.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) & (1<<53 - 1)
	}
	d := &drill{o: o, f: f, log: log, prog: newProgress(stderr), rnd: rand.New(rand.NewPCG(seed, 1)), seed: seed,
		runID: fmt.Sprintf("%x", time.Now().Unix())}
	rep := &Report{Config: o.Config, Local: o.Local, Seed: seed, Started: time.Now().UTC(), Passed: true, Skipped: o.LeftOut}
	if len(o.LeftOut) > 0 {
		d.prog.say("not run here: %s", strings.Join(o.LeftOut, ", "))
	}
	token := ""
	var lc *local
	if o.Local {
		bin := o.Bin
		if bin == "" {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("%w: the zoogate binary: %v (give --bin)", ErrSetup, err)
			}
			bin = exe
		}
		wan := ""
		if len(remoteSites(f)) > 0 {
			wan = " (WAN between sites: " + o.WANSpec + ")"
		}
		d.prog.say("starting %d nodes of %s on this machine%s", len(f.Nodes), o.Config, wan)
		l, err := newLocal(ctx, o.Config, bin, o.WANSpec, o.Keep, log)
		if err != nil {
			return nil, err
		}
		lc = l
		defer func() {
			d.prog.say("stopping the nodes")
			l.close(o.Keep)
			if o.Keep {
				d.prog.say("kept %s (drill.toml, node logs n<id>.log, data)", l.dir)
			}
		}()
		d.f, d.ctl = l.f, l
	} else if o.KillCmd != "" {
		d.ctl = &templates{killCmd: o.KillCmd, startCmd: o.StartCmd, config: o.Config}
	} else {
		d.ctl = noProcesses{}
	}
	if p := d.f.Cluster.AdminTokenFile; p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: admin_token_file: %v", ErrSetup, err)
		}
		token = strings.TrimSpace(string(b))
	}
	d.faults = &faultClient{http: &http.Client{Timeout: 10 * time.Second}, token: token}
	d.sites = append([]string{primaryName(d.f)}, remoteSites(d.f)...)
	for _, s := range d.sites {
		d.servers = append(d.servers, clientsOf(d.f, s))
	}
	rep.Control = d.ctl.describe()
	d.prog.say("waiting for every node to serve (at most %v)", o.Timeout)
	if err := waitServing(ctx, d.f, o.Timeout); err != nil {
		rep.Passed = false
		if lc != nil {
			return rep, fmt.Errorf("%w: the deployment does not serve: %v%s", ErrSetup, err, lc.logTails())
		}
		return rep, fmt.Errorf("%w: the deployment does not serve: %v", ErrSetup, err)
	}
	began := time.Now()
	for i, w := range o.Scenarios {
		if ctx.Err() != nil {
			break
		}
		res := d.runScenario(ctx, i, w)
		rep.Scenarios = append(rep.Scenarios, res)
		rep.Passed = rep.Passed && res.Passed
		d.prog.done(res)
	}
	rep.DurationMs = ms(time.Since(began))
	if ctx.Err() != nil {
		rep.Passed = false
		return rep, fmt.Errorf("interrupted after %d of %d scenarios", len(rep.Scenarios), len(o.Scenarios))
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / 1e6 }

// action notes a step of the current scenario (shown in the reports).
func (d *drill) action(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	d.log.Info(msg)
	if d.cur != nil && d.at != nil {
		d.cur.Actions = append(d.cur.Actions, Action{AtMs: ms(d.at()), What: msg})
	}
}

// sleep waits dur, showing the phase; false when interrupted.
func (d *drill) sleep(ctx context.Context, phase string, dur time.Duration, wl *workload) bool {
	end := time.Now().Add(dur)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		left := time.Until(end)
		d.prog.tick(phase, dur-left, dur, wl)
		if left <= 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// writeReports prints the summary (or --json) and writes --html.
func writeReports(rep *Report, o *Options, stdout io.Writer) error {
	if o.JSON {
		if err := writeJSONReport(rep, stdout); err != nil {
			return err
		}
	} else {
		writeSummary(rep, stdout)
	}
	if o.HTML != "" {
		if err := os.MkdirAll(filepath.Dir(o.HTML), 0o755); err != nil {
			return fmt.Errorf("--html: %v", err)
		}
		fh, err := os.Create(o.HTML)
		if err != nil {
			return fmt.Errorf("--html: %v", err)
		}
		if err := writeHTML(rep, fh); err != nil {
			fh.Close()
			return fmt.Errorf("--html: %v", err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("--html: %v", err)
		}
	}
	return nil
}
