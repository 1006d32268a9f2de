package drill

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan/emulate"
)

// Scenario names.
const (
	KillLeader     = "kill-leader"
	KillFollower   = "kill-follower"
	KillRelay      = "kill-relay"
	CutSite        = "cut-site"
	SlowWAN        = "slow-wan"
	LosePrimary    = "lose-primary"
	RollingRestart = "rolling-restart"
)

// AllScenarios in the order a drill without --scenario runs them.
var AllScenarios = []string{KillLeader, KillFollower, KillRelay, CutSite, SlowWAN, LosePrimary, RollingRestart}

// ErrUsage: the command line is wrong (exit 2).
var ErrUsage = errors.New("usage")

// Want is one scenario asked for: its name and, for cut-site, the site.
type Want struct {
	Name string
	Site string // cut-site: the site cut off; kill-relay: the relay's site ("" = the first remote site)
}

func (w Want) String() string {
	if w.Site != "" {
		return w.Name + " " + w.Site
	}
	return w.Name
}

// Options of one drill.
type Options struct {
	Config    string
	Local     bool
	Scenarios []Want
	// Duration is how long each fault lasts (a node down, a site cut, the
	// WAN slowed); Settle is the calm before the fault and after recovery.
	Duration, Settle time.Duration
	// Timeout bounds every wait: a node coming back, the deployment
	// serving again, a check.
	Timeout           time.Duration
	KillCmd, StartCmd string
	JSON              bool
	HTML              string
	Seed              int64
	// Clients is the number of workload clients per site; Interval the
	// pause between two operations of one client.
	Clients        int
	Interval       time.Duration
	SessionTimeout time.Duration
	// WANSpec is the WAN --local emulates between sites; SlowSpec what
	// slow-wan adds to every WAN link.
	WANSpec, SlowSpec string
	// Bin is the zoogate binary --local starts (default: this one).
	Bin string
	// Keep leaves --local's directory (files, data, node logs) in place.
	Keep bool
	// LogLevel of the drill's own log (stderr).
	LogLevel string

	// LeftOut names the scenarios a drill without --scenario skipped, and
	// why (set by checkAgainst).
	LeftOut []string
	// allScenarios: none was named; checkAgainst keeps those the
	// deployment and the options allow.
	allScenarios bool
}

const usageLine = "zoogate drill --config FILE [--local | --kill-cmd CMD --start-cmd CMD] [--scenario NAME[,NAME...] | NAME [SITE]...] [--duration D] [--json] [--html FILE] [--seed N]"

// parseArgs parses the command line; a usage problem is an ErrUsage that
// names the flag.
func parseArgs(args []string, stderr io.Writer) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nScenarios: %s (cut-site takes a site: cut-site eu, or cut-site=eu in --scenario).\n\nFlags:\n", usageLine, strings.Join(AllScenarios, ", "))
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Config, "config", "", "topology file (TOML) of the deployment (required)")
	fs.BoolVar(&o.Local, "local", false, "start every node of the file on this machine as a child process (files, data and TLS in a temporary directory), run the drill, stop them")
	scen := fs.String("scenario", "", "scenarios to run, comma-separated (default: all): "+strings.Join(AllScenarios, ", ")+"; cut-site=SITE")
	fs.DurationVar(&o.Duration, "duration", 8*time.Second, "how long each fault lasts")
	fs.DurationVar(&o.Settle, "settle", 2*time.Second, "calm before each fault and after recovery")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "bound on every wait (a node coming back, the deployment serving again)")
	fs.StringVar(&o.KillCmd, "kill-cmd", "", `command that kills node {id} (sh -c; {id} and {config} are replaced), e.g. "ssh {id}.db systemctl kill -s KILL zoogate"`)
	fs.StringVar(&o.StartCmd, "start-cmd", "", `command that starts node {id} again, e.g. "ssh {id}.db systemctl start zoogate"`)
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object instead of the summary")
	fs.StringVar(&o.HTML, "html", "", "write a self-contained HTML report (timelines per site) to this file")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of the workload's choices (0: from the clock; printed)")
	fs.IntVar(&o.Clients, "clients", 2, "workload clients per site")
	fs.DurationVar(&o.Interval, "interval", 20*time.Millisecond, "pause between two operations of one workload client")
	fs.DurationVar(&o.SessionTimeout, "session-timeout", 10*time.Second, "session timeout of the workload clients")
	fs.StringVar(&o.WANSpec, "wan", "delay=40ms,jitter=2ms", "--local: the WAN emulated between sites (wan/emulate spec)")
	fs.StringVar(&o.SlowSpec, "slow", "delay=150ms,jitter=20ms,loss=0.03", "slow-wan: delay, jitter and loss added to every WAN link")
	fs.StringVar(&o.Bin, "bin", "", "--local: the zoogate binary to start (default: this executable)")
	fs.BoolVar(&o.Keep, "keep", false, "--local: keep the temporary directory (files, data, node logs) and print where")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "the drill's own log on stderr: trace, debug, info, warn or error")
	// Flags may follow the scenarios (zoogate drill --config F cut-site eu
	// --duration 30s): parse again after each run of arguments.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrUsage, err)
		}
		args = fs.Args()
		for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			rest, args = append(rest, args[0]), args[1:]
		}
		if len(args) == 0 {
			break
		}
	}
	var problems []string
	if *scen != "" {
		for _, s := range strings.Split(*scen, ",") {
			s = strings.TrimSpace(s)
			name, site, _ := strings.Cut(s, "=")
			if n, st, ok := strings.Cut(s, ":"); ok && site == "" {
				name, site = n, st
			}
			o.Scenarios = append(o.Scenarios, Want{Name: name, Site: site})
		}
	}
	for i := 0; i < len(rest); i++ {
		w := Want{Name: rest[i]}
		if (w.Name == CutSite || w.Name == KillRelay) && i+1 < len(rest) && !slices.Contains(AllScenarios, rest[i+1]) {
			w.Site = rest[i+1]
			i++
		}
		o.Scenarios = append(o.Scenarios, w)
	}
	if *scen != "" && len(rest) > 0 {
		problems = append(problems, "--scenario: give scenarios either with --scenario or as arguments, not both")
	}
	if len(o.Scenarios) == 0 {
		o.allScenarios = true
		for _, n := range AllScenarios {
			o.Scenarios = append(o.Scenarios, Want{Name: n})
		}
	}
	if err := o.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUsage, strings.Join(problems, "\n"))
	}
	return o, nil
}

// Validate checks the options alone (not against the file); it reports
// every problem, one per line, each naming its flag.
func (o *Options) Validate() error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if o.Config == "" {
		add("--config: required (the deployment's topology file)")
	}
	for _, w := range o.Scenarios {
		if !slices.Contains(AllScenarios, w.Name) {
			add("--scenario: unknown scenario %q (want %s)", w.Name, strings.Join(AllScenarios, ", "))
		} else if w.Site != "" && w.Name != CutSite && w.Name != KillRelay {
			add("--scenario: %s takes no site (%q)", w.Name, w.Site)
		}
	}
	if o.Duration <= 0 || o.Duration > time.Hour {
		add("--duration: %v, want more than 0 and at most 1h", o.Duration)
	}
	if o.Settle < 0 || o.Settle > 10*time.Minute {
		add("--settle: %v, want 0 to 10m", o.Settle)
	}
	if o.Timeout < time.Second || o.Timeout > time.Hour {
		add("--timeout: %v, want 1s to 1h", o.Timeout)
	}
	if o.Clients < 1 || o.Clients > 64 {
		add("--clients: %d, want 1 to 64", o.Clients)
	}
	if o.Interval < time.Millisecond || o.Interval > 10*time.Second {
		add("--interval: %v, want 1ms to 10s", o.Interval)
	}
	if o.SessionTimeout < time.Second || o.SessionTimeout > 10*time.Minute {
		add("--session-timeout: %v, want 1s to 10m", o.SessionTimeout)
	}
	if _, err := emulate.ParseSpec(o.WANSpec); err != nil {
		add("--wan: %v", err)
	}
	if _, err := emulate.ParseSpec(o.SlowSpec); err != nil {
		add("--slow: %v", err)
	}
	if o.Local && (o.KillCmd != "" || o.StartCmd != "") {
		add("--local: starts and kills its own processes; --kill-cmd and --start-cmd are for a running deployment")
	}
	if (o.KillCmd == "") != (o.StartCmd == "") {
		add("--kill-cmd and --start-cmd: give both (a killed node must come back)")
	}
	for _, f := range []struct{ name, v string }{{"--kill-cmd", o.KillCmd}, {"--start-cmd", o.StartCmd}} {
		if f.v != "" && !strings.Contains(f.v, "{id}") {
			add("%s: %q has no {id}: the drill must tell which node", f.name, f.v)
		}
	}
	if !o.Local && (o.Bin != "" || o.Keep) {
		add("--bin and --keep: only with --local")
	}
	switch strings.ToLower(o.LogLevel) {
	case "trace", "debug", "info", "warn", "error":
	default:
		add("--log-level: %q, want trace, debug, info, warn or error", o.LogLevel)
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "\n"))
	}
	return nil
}

// needsProcesses reports whether a scenario kills or starts nodes.
func needsProcesses(name string) bool {
	switch name {
	case KillLeader, KillFollower, KillRelay, LosePrimary, RollingRestart:
		return true
	}
	return false
}

// needsFaults reports whether a scenario drives the WAN fault endpoints.
func needsFaults(name string) bool { return name == CutSite || name == SlowWAN }

// checkAgainst checks the options against the topology file: every
// problem, each naming its flag or the file's key. It fills in the sites
// of cut-site and kill-relay left out (the first remote site).
func (o *Options) checkAgainst(f *topology.File) error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	remote := remoteSites(f)
	if o.allScenarios {
		o.Scenarios = o.Scenarios[:0]
		var left []string
		for _, n := range AllScenarios {
			switch {
			case needsProcesses(n) && !o.Local && o.KillCmd == "":
				left = append(left, n+" (no --local, no --kill-cmd)")
			case needsFaults(n) && !o.Local && !f.Cluster.DrillFaults:
				left = append(left, n+" (drill_faults is off)")
			case (n == CutSite || n == SlowWAN || n == LosePrimary) && len(remote) == 0:
				left = append(left, n+" (no remote site)")
			case n == KillRelay && len(f.Relays()) == 0:
				left = append(left, n+" (no relay)")
			default:
				o.Scenarios = append(o.Scenarios, Want{Name: n})
			}
		}
		o.LeftOut = left
		if len(o.Scenarios) == 0 {
			add("--scenario: no scenario can run on %s: %s", o.Config, strings.Join(left, ", "))
		}
	}
	if !o.Local && !f.Cluster.FourLetterWordEnabled("srvr") {
		add("--config: the drill asks every node srvr (which role it serves in): add \"srvr\" to [cluster] four_letter_words in %s", o.Config)
	}
	for i := range o.Scenarios {
		w := &o.Scenarios[i]
		if needsProcesses(w.Name) && !o.Local && o.KillCmd == "" {
			add("--scenario: %s kills nodes: give --local, or --kill-cmd and --start-cmd", w.Name)
		}
		switch w.Name {
		case CutSite, KillRelay, SlowWAN, LosePrimary:
			if len(remote) == 0 {
				add("--scenario: %s needs a remote site, and %s has only the primary", w.Name, o.Config)
				continue
			}
		}
		if w.Name == CutSite || w.Name == KillRelay {
			if w.Site == "" {
				w.Site = remote[0]
				if w.Name == KillRelay {
					for _, s := range remote {
						if len(relaysIn(f, s)) > 0 {
							w.Site = s
							break
						}
					}
				}
			}
			if _, ok := f.Site(w.Site); !ok {
				add("--scenario: %s: no site %q in %s (sites: %s)", w.Name, w.Site, o.Config, strings.Join(siteNames(f), ", "))
				continue
			}
		}
		if w.Name == KillRelay && len(relaysIn(f, w.Site)) == 0 {
			add("--scenario: kill-relay: site %q has no relay", w.Site)
		}
		if needsFaults(w.Name) {
			if !f.Cluster.DrillFaults && !o.Local {
				add("--scenario: %s drives WAN faults: set [cluster] drill_faults = true in %s (the fault endpoints answer 403 otherwise)", w.Name, o.Config)
			}
			for _, n := range faultNodes(f, w) {
				if n.Admin == "" {
					add("--scenario: %s: node %d has a wan address but no admin address (the fault endpoint is on it)", w.Name, n.ID)
				}
			}
			if len(faultNodes(f, w)) == 0 {
				add("--scenario: %s: no node with a wan address to drive", w.Name)
			}
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "\n"))
	}
	return nil
}

// faultNodes are the nodes whose WAN a fault scenario drives: the nodes of
// the cut site with a wan address (cut-site), every node with one
// (slow-wan).
func faultNodes(f *topology.File, w *Want) []*topology.Node {
	var out []*topology.Node
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if n.WAN == "" {
			continue
		}
		if w.Name == CutSite && siteOf(f, n) != w.Site {
			continue
		}
		out = append(out, n)
	}
	return out
}
