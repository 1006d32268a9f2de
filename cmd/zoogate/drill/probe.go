package drill

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zoogate/zoogate/topology"
)

// siteOf is a node's site (a file without [[site]] has one implicit one).
func siteOf(f *topology.File, n *topology.Node) string {
	if n.Site != "" {
		return n.Site
	}
	if p := f.PrimarySite(); p != nil {
		return p.Name
	}
	return topology.DefaultSiteName
}

func siteNames(f *topology.File) []string {
	var out []string
	for _, s := range f.Sites {
		out = append(out, s.Name)
	}
	return out
}

// remoteSites are the sites other than the primary, in file order.
func remoteSites(f *topology.File) []string {
	var out []string
	for _, s := range f.Sites {
		if !s.Primary {
			out = append(out, s.Name)
		}
	}
	return out
}

func primaryName(f *topology.File) string {
	if p := f.PrimarySite(); p != nil {
		return p.Name
	}
	return topology.DefaultSiteName
}

func relaysIn(f *topology.File, site string) []*topology.Node {
	var out []*topology.Node
	for _, r := range f.Relays() {
		if siteOf(f, r) == site {
			out = append(out, r)
		}
	}
	return out
}

// clientsOf are the client addresses of a site's nodes, in file order.
func clientsOf(f *topology.File, site string) []string {
	var out []string
	for i := range f.Nodes {
		if siteOf(f, &f.Nodes[i]) == site {
			out = append(out, f.Nodes[i].Client)
		}
	}
	return out
}

// fourLetter sends a four-letter word to addr and returns the answer
// ("" when the node does not answer within timeout).
func fourLetter(addr, word string, timeout time.Duration) string {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, word); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(c, 1<<20))
	return string(b)
}

// mode is what srvr says a node is ("leader", "follower", "observer",
// "relay", "read-only", ...); "" when it does not answer or does not
// serve.
func mode(addr string) string {
	for _, l := range strings.Split(fourLetter(addr, "srvr", 2*time.Second), "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// mntr returns one mntr value of a node ("" when absent).
func mntr(addr, key string) string {
	for _, l := range strings.Split(fourLetter(addr, "mntr", 2*time.Second), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// serving reports whether a node serves read-write clients in the role
// the file gives it.
func serving(n *topology.Node) bool {
	m := mode(n.Client)
	switch n.Role {
	case topology.RoleVoter:
		return m == "leader" || m == "follower"
	case topology.RoleRelay:
		return m == "relay"
	default:
		return m == "observer"
	}
}

// leaderOf returns the voter srvr calls leader (0: none).
func leaderOf(f *topology.File) uint64 {
	for _, v := range f.Voters() {
		if mode(v.Client) == "leader" {
			return v.ID
		}
	}
	return 0
}

// waitFor polls cond every 100 ms until it holds or timeout passes; the
// error says what was awaited.
func waitFor(ctx context.Context, what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s, not within %v", ErrTimeout, what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitServing waits until every node of the file serves in its role, one
// leader among the voters.
func waitServing(ctx context.Context, f *topology.File, timeout time.Duration) error {
	var down []string
	err := waitFor(ctx, "every node serving", timeout, func() bool {
		down = down[:0]
		for i := range f.Nodes {
			if n := &f.Nodes[i]; !serving(n) {
				down = append(down, strconv.FormatUint(n.ID, 10))
			}
		}
		return len(down) == 0 && leaderOf(f) != 0
	})
	if err != nil && len(down) > 0 {
		return fmt.Errorf("%w (not serving: node %s)", err, strings.Join(down, ", "))
	}
	return err
}

// hashOf returns a node's last zxid and tree digest (the hash four-letter
// word); ok false when it does not answer it.
func hashOf(addr string) (zxid, digest string, ok bool) {
	a := strings.TrimSpace(fourLetter(addr, "hash", 2*time.Second))
	z, d, found := strings.Cut(a, ": ")
	if !found || strings.Contains(a, "not in the whitelist") {
		return "", "", false
	}
	return z, d, true
}
