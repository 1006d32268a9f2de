package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
)

// statusReport is the deployment as `zoogate status` shows it: the
// topology file's sites and nodes, each with what the live view (the
// gossip pools of one node per site, merged) says of it. It is the
// terminal's twin of the admin server's status page.
type statusReport struct {
	Cluster string       `json:"cluster"`
	From    []string     `json:"from"`   // the nodes whose views were merged
	Leader  uint64       `json:"leader"` // 0: the pools know no leader
	Epoch   uint64       `json:"epoch"`
	Sites   []statusSite `json:"sites"`
}

type statusSite struct {
	Name    string       `json:"name"`
	Primary bool         `json:"primary"`
	Nodes   []statusNode `json:"nodes"`
}

// statusNode is one node. State is what it gossips (serving, read-only,
// syncing, down, leaving) while the pools hold it alive, else the pools'
// dead or left; unknown when no node asked has it in its pools (InView
// false: the lag and last contact are then unknown too).
type statusNode struct {
	ID       uint64 `json:"id"`
	Role     string `json:"role"`
	Leader   bool   `json:"leader"`
	State    string `json:"state"`
	InView   bool   `json:"in_view"`
	Upstream uint64 `json:"upstream,omitempty"`
	Zxid     string `json:"zxid,omitempty"`
	LagTxns  int64  `json:"lag_txns"`
	LagMs    int64  `json:"lag_ms"`
	HeardMs  int64  `json:"last_heard_ms"`
	Client   string `json:"client"`
	Admin    string `json:"admin,omitempty"`
}

// cmdStatus prints the deployment per site: node, role, the leader,
// state, lag, last contact and client address, from the live view of the
// first node of each site that answers.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	vc := newViewCmd("status", "zoogate status --config FILE [--json]", stderr)
	asJSON := vc.fs.Bool("json", false, "print the report as JSON instead of tables")
	f, members, from, rc := vc.run(args)
	if rc >= 0 {
		return rc
	}
	rep := buildStatus(f, members, from)
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ") // plain structs: cannot fail
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	printStatus(stdout, rep)
	return 0
}

// buildStatus lays the members over the file: every node of the file in
// its site, plus members the file lacks (dynamic observers) in theirs.
func buildStatus(f *topology.File, members []gossip.JSONMember, from []string) *statusReport {
	rep := &statusReport{Cluster: f.Cluster.Name, From: from}
	rep.Leader, rep.Epoch = memberLeader(members)
	byID := map[uint64]gossip.JSONMember{}
	for _, m := range members {
		byID[m.ID] = m
	}
	siteIndex := map[string]int{}
	addSite := func(name string, primary bool) int {
		if i, ok := siteIndex[name]; ok {
			return i
		}
		siteIndex[name] = len(rep.Sites)
		rep.Sites = append(rep.Sites, statusSite{Name: name, Primary: primary})
		return len(rep.Sites) - 1
	}
	for _, s := range f.Sites {
		addSite(s.Name, s.Primary)
	}
	inFile := map[uint64]bool{}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		inFile[n.ID] = true
		sn := statusNode{ID: n.ID, Role: n.Role.String(), Client: n.Client, Admin: n.Admin, State: "unknown", HeardMs: -1}
		if m, ok := byID[n.ID]; ok {
			fillFromMember(&sn, m)
		}
		i := addSite(siteName(f, n), f.PrimarySite() == nil)
		rep.Sites[i].Nodes = append(rep.Sites[i].Nodes, sn)
	}
	for _, m := range members {
		if inFile[m.ID] {
			continue
		}
		sn := statusNode{ID: m.ID, Role: m.Role, Client: m.Client}
		fillFromMember(&sn, m)
		i := addSite(m.Site, false)
		rep.Sites[i].Nodes = append(rep.Sites[i].Nodes, sn)
	}
	for i := range rep.Sites {
		nodes := rep.Sites[i].Nodes
		slices.SortFunc(nodes, func(a, b statusNode) int { return cmp.Compare(a.ID, b.ID) })
		for j := range nodes {
			nodes[j].Leader = nodes[j].ID == rep.Leader && rep.Leader != 0
		}
	}
	return rep
}

func fillFromMember(sn *statusNode, m gossip.JSONMember) {
	sn.InView = true
	sn.State = m.State
	if m.State == string(gossip.Alive) {
		sn.State = cmp.Or(m.Serving, "unknown")
	}
	sn.Upstream, sn.Zxid = m.Upstream, m.Zxid
	sn.LagTxns, sn.LagMs, sn.HeardMs = m.LagTxns, m.LagMs, m.HeardMs
}

// memberLeader is gossip.View.Leader over a merged JSON view: the leader
// named by the highest epoch among alive serving members, provided that
// voter is itself alive.
func memberLeader(ms []gossip.JSONMember) (id, epoch uint64) {
	for _, m := range ms {
		if m.State != string(gossip.Alive) || m.Serving != "serving" || m.Leader == 0 {
			continue
		}
		if m.Epoch > epoch || (m.Epoch == epoch && id == 0) {
			id, epoch = m.Leader, m.Epoch
		}
	}
	for _, m := range ms {
		if m.ID == id && m.State == string(gossip.Alive) && m.Role == "voter" {
			return id, epoch
		}
	}
	return 0, 0
}

// printStatus writes a table per site.
func printStatus(w io.Writer, rep *statusReport) {
	leader := "none known to the pools"
	if rep.Leader != 0 {
		leader = fmt.Sprintf("node %d (epoch %d)", rep.Leader, rep.Epoch)
	}
	fmt.Fprintf(w, "cluster %s: leader %s; as seen by %s\n", cmp.Or(rep.Cluster, "(unnamed)"), leader, strings.Join(rep.From, ", "))
	for _, s := range rep.Sites {
		serving := 0
		for _, n := range s.Nodes {
			if n.State == "serving" || n.State == "read-only" {
				serving++
			}
		}
		kind := ""
		if s.Primary {
			kind = " (primary)"
		}
		fmt.Fprintf(w, "\nsite %s%s: %d of %d serving\n", cmp.Or(s.Name, "(none)"), kind, serving, len(s.Nodes))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tROLE\tLEADER\tSTATE\tLAG\tLAST CONTACT\tUPSTREAM\tCLIENT")
		for _, n := range s.Nodes {
			mark, lag, heard, up := "", "-", "-", "-"
			if n.Leader {
				mark = "*"
			}
			if n.InView {
				lag = fmt.Sprintf("%d txns / %d ms", n.LagTxns, n.LagMs)
				heard = (time.Duration(n.HeardMs) * time.Millisecond).Round(100*time.Millisecond).String() + " ago"
			}
			if n.Upstream != 0 {
				up = fmt.Sprint(n.Upstream)
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Role, mark, n.State, lag, heard, up, n.Client)
		}
		tw.Flush()
	}
}
