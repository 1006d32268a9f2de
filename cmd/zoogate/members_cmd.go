package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

// cmdMembers prints the live view of the gossip pools, as a node of the
// deployment has it: the first node of the file that answers the gsip
// four-letter word on its client address.
func cmdMembers(args []string, stdout, stderr io.Writer) int {
	vc := newViewCmd("members", "zoogate members --config FILE [--wan] [--json]", stderr)
	wanOnly := vc.fs.Bool("wan", false, "only the members of the WAN pool (voters and relays of every site)")
	asJSON := vc.fs.Bool("json", false, "print a JSON list of members instead of a table")
	_, members, from, rc := vc.run(args)
	if rc >= 0 {
		return rc
	}
	if *wanOnly {
		kept := members[:0]
		for _, m := range members {
			if m.WAN {
				kept = append(kept, m)
			}
		}
		members = kept
	}
	if *asJSON {
		b, _ := json.MarshalIndent(members, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "as seen by %s\n", strings.Join(from, ", "))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSITE\tROLE\tSTATE\tSERVING\tCLIENT\tLEADER\tZXID\tLAG\tLAST HEARD")
	for _, m := range members {
		leader := "-"
		if m.Leader != 0 {
			leader = fmt.Sprint(m.Leader)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d txns / %d ms\t%s ago\n", m.ID, m.Site, m.Role, m.State, m.Serving,
			m.Client, leader, m.Zxid, m.LagTxns, m.LagMs, (time.Duration(m.HeardMs) * time.Millisecond).Round(100*time.Millisecond))
	}
	tw.Flush()
	return 0
}

// viewCmd is what the commands reading the live view share: --config and
// --timeout, the usage check, loading the file and asking the nodes.
type viewCmd struct {
	name, usage string
	fs          *flag.FlagSet
	config      *string
	timeout     *time.Duration
	stderr      io.Writer
}

func newViewCmd(name, usage string, stderr io.Writer) *viewCmd {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &viewCmd{name: name, usage: usage, fs: fs, stderr: stderr,
		config:  fs.String("config", "", "topology file (TOML) of the deployment"),
		timeout: fs.Duration("timeout", 2*time.Second, "how long to wait for each node")}
}

// run parses args and reads the live view; rc is -1 on success, else the
// exit code (the problem already printed).
func (vc *viewCmd) run(args []string) (f *topology.File, members []gossip.JSONMember, from []string, rc int) {
	if err := vc.fs.Parse(args); err != nil {
		return nil, nil, nil, 2
	}
	if *vc.config == "" || vc.fs.NArg() != 0 {
		fmt.Fprintf(vc.stderr, "zoogate %s: usage: %s\n", vc.name, vc.usage)
		return nil, nil, nil, 2
	}
	f, err := topology.Load(*vc.config)
	if err != nil {
		printErrors(vc.stderr, "zoogate "+vc.name+": ", err)
		return nil, nil, nil, 1
	}
	members, from, err = liveView(f, *vc.timeout)
	if err != nil {
		fmt.Fprintf(vc.stderr, "zoogate %s: %s: %v\n", vc.name, *vc.config, err)
		return nil, nil, nil, 1
	}
	return f, members, from, -1
}

// liveView asks the deployment of f for its live view: a node knows its
// site's pool and, a voter or relay, the WAN pool, so the first node of
// each site (in file order) that answers gsip is asked, and the views are
// merged, each member as most recently heard. from names the nodes that
// answered; the error says who was tried when none did.
func liveView(f *topology.File, timeout time.Duration) (members []gossip.JSONMember, from []string, err error) {
	byID := map[uint64]gossip.JSONMember{}
	var tried []string
	var sites []string // in file order; "" for a file without [[site]]
	for i := range f.Nodes {
		if s := siteName(f, &f.Nodes[i]); !slices.Contains(sites, s) {
			sites = append(sites, s)
		}
	}
	for _, site := range sites {
		for i := range f.Nodes {
			n := &f.Nodes[i]
			if n.Gossip == "" || siteName(f, n) != site {
				continue
			}
			got, err := askGossip(n.Client, timeout)
			if err != nil {
				tried = append(tried, fmt.Sprintf("node %d (%s): %v", n.ID, n.Client, err))
				continue
			}
			from = append(from, fmt.Sprintf("node %d (%s)", n.ID, cmp.Or(site, "the site")))
			for _, m := range got {
				if old, ok := byID[m.ID]; !ok || m.HeardMs < old.HeardMs {
					m.WAN = m.WAN || old.WAN
					byID[m.ID] = m
				}
			}
			break
		}
	}
	if len(from) == 0 {
		if len(tried) == 0 {
			return nil, nil, fmt.Errorf("no node has a gossip address")
		}
		return nil, nil, fmt.Errorf("no node answered gsip:\n  %s", strings.Join(tried, "\n  "))
	}
	members = make([]gossip.JSONMember, 0, len(byID))
	for _, m := range byID {
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b gossip.JSONMember) int { return cmp.Compare(a.ID, b.ID) })
	return members, from, nil
}

// askGossip sends gsip to a node's client address and decodes its view.
func askGossip(addr string, timeout time.Duration) ([]gossip.JSONMember, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "gsip"); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return nil, err
	}
	var out []gossip.JSONMember
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("not a gossip view (is gsip in four_letter_words?): %q", strings.TrimSpace(string(b)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no gossip on that node")
	}
	return out, nil
}
