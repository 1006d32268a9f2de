package topology

import (
	"encoding/base64"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Validate checks the whole File and returns nil or an errors.Join of
// *FieldError values, every problem at once, sorted by line: each names its
// key path and, for a File that came from Parse or Load, the line where the
// key (or its table) appears. Parse already calls it; call it again after
// changing a File in code.
func (f *File) Validate() error {
	return asError(f.problems())
}

// Warnings returns what is legal but probably unintended (an even or zero
// number of voters, a remote site with observers but no relay, a site without
// nodes), sorted by line. They never make Validate fail.
func (f *File) Warnings() []*FieldError {
	c := &checker{f: f}
	c.warnings()
	sortProblems(c.out)
	return c.out
}

// checker collects problems about one File.
type checker struct {
	f   *File
	out []*FieldError
	// caReported: the missing tls_ca was reported once already.
	caReported bool
	// gossipKeyReported: the missing gossip_key_file was reported once.
	gossipKeyReported bool
}

func (c *checker) add(k keyPath, format string, args ...any) {
	c.out = append(c.out, &FieldError{
		File: c.f.Path, Line: c.f.lines.line(k), Field: k.String(), Problem: fmt.Sprintf(format, args...),
	})
}

// ref names another key in a message: "node[0].client at line 7".
func (c *checker) ref(k keyPath) string {
	if l := c.f.lines.exact(k); l > 0 {
		return fmt.Sprintf("%s at line %d", k, l)
	}
	return k.String()
}

func (f *File) problems() []*FieldError {
	c := &checker{f: f}
	c.cluster()
	c.sites()
	c.nodes()
	return c.out
}

func (c *checker) cluster() {
	cl := &c.f.Cluster
	if cl.Name == "" {
		c.add(clusterKey("name"), "must not be empty")
	} else if !validName(cl.Name) {
		c.add(clusterKey("name"), "invalid name %q: use letters, digits, '.', '_' and '-' (at most 64)", cl.Name)
	}
	c.positive("tick", cl.Tick)
	c.atLeast("init_limit", cl.InitLimit, 1, "ticks")
	c.atLeast("sync_limit", cl.SyncLimit, 1, "ticks")
	c.positive("min_session_timeout", cl.MinSessionTimeout)
	c.positive("max_session_timeout", cl.MaxSessionTimeout)
	if cl.MinSessionTimeout > 0 && cl.MaxSessionTimeout > 0 && cl.MinSessionTimeout > cl.MaxSessionTimeout {
		k := clusterKey("min_session_timeout")
		if c.f.lines.exact(k) == 0 { // blame the key the file actually sets
			k = clusterKey("max_session_timeout")
		}
		c.add(k, "min_session_timeout (%v) is greater than max_session_timeout (%v)",
			cl.MinSessionTimeout, cl.MaxSessionTimeout)
	}
	c.atLeast("max_client_cnxns", cl.MaxClientCnxns, 0, "connections per client IP, 0 = unlimited")
	if cl.MaxPacketSize < MinPacketSize || cl.MaxPacketSize > math.MaxInt32 {
		c.add(clusterKey("max_packet_size"), "must be in %d..%d bytes, got %d", MinPacketSize, math.MaxInt32, cl.MaxPacketSize)
	}
	for i, w := range cl.FourLetterWords {
		if w != "*" && !isKnownFourLetterWord(w) {
			c.add(clusterKey("four_letter_words").index(i), "unknown four-letter word %q (known: %s, or \"*\" for all)",
				w, strings.Join(KnownFourLetterWords, " "))
		}
	}
	if cl.SuperDigest != "" {
		if err := checkSuperDigest(cl.SuperDigest); err != nil {
			c.add(clusterKey("super_digest"), "%v", err)
		}
	}
	c.positive("container_check_interval", cl.ContainerCheckInterval)
	c.atLeast("container_max_per_minute", cl.ContainerMaxPerMinute, 1, "containers")
	c.notNegative("container_max_never_used", cl.ContainerMaxNeverUsed, "never")
	c.atLeast("snap_count", cl.SnapCount, 2, "transactions")
	c.atLeast("snap_retain_count", cl.SnapRetainCount, 3, "snapshots")
	c.notNegative("purge_interval", cl.PurgeInterval, "never purge")
	c.atLeast("global_outstanding_limit", cl.GlobalOutstandingLimit, 1, "requests")
	c.notNegative("read_only_max_staleness", cl.ReadOnlyMaxStaleness, "unbounded")
	c.notNegative("remote_session_hold", cl.RemoteSessionHold, "expire as ZooKeeper does")
	c.notNegative("leader_wait", cl.LeaderWait, "drop clients at once")
	switch cl.RelayUpstream {
	case "", RelayFollowsLeader, RelayFollowsFollower:
	default:
		c.add(clusterKey("relay_upstream"), "%q, want %q or %q", cl.RelayUpstream, RelayFollowsLeader, RelayFollowsFollower)
	}
}

func (c *checker) positive(name string, d time.Duration) {
	if d <= 0 {
		c.add(clusterKey(name), "must be a positive duration, got %v", d)
	}
}

func (c *checker) notNegative(name string, d time.Duration, zero string) {
	if d < 0 {
		c.add(clusterKey(name), "must not be negative (\"0s\" = %s), got %v", zero, d)
	}
}

func (c *checker) atLeast(name string, v, lo int, unit string) {
	if v < lo {
		c.add(clusterKey(name), "must be at least %d (%s), got %d", lo, unit, v)
	}
}

func isKnownFourLetterWord(w string) bool {
	for _, k := range KnownFourLetterWords {
		if w == k {
			return true
		}
	}
	return false
}

// checkSuperDigest checks the shape of "super:<base64(sha1(...))>".
func checkSuperDigest(s string) error {
	digest, ok := strings.CutPrefix(s, "super:")
	if !ok {
		return fmt.Errorf(`must have the form "super:<base64 SHA-1 digest>", got %q`, s)
	}
	if len(digest) != 28 {
		return fmt.Errorf("digest after \"super:\" must be 28 base64 characters, got %d", len(digest))
	}
	raw, err := base64.StdEncoding.DecodeString(digest)
	if err != nil || len(raw) != 20 {
		return fmt.Errorf("digest after \"super:\" is not the base64 of a 20-byte SHA-1 digest")
	}
	return nil
}

// validName accepts cluster and site names: 1..64 bytes of letters, digits,
// '.', '_' and '-', starting with a letter or digit.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if !ok && (i == 0 || (ch != '.' && ch != '_' && ch != '-')) {
			return false
		}
	}
	return true
}

func (c *checker) sites() {
	seen := map[string]int{}
	var primaries []int
	for i, s := range c.f.Sites {
		k := siteKey(i, "name")
		switch j, dup := seen[s.Name]; {
		case s.Name == "":
			c.add(k, "is required")
		case !validName(s.Name):
			c.add(k, "invalid site name %q: use letters, digits, '.', '_' and '-' (at most 64)", s.Name)
		case dup:
			c.add(k, "duplicate site name %q (also %s)", s.Name, c.ref(siteKey(j, "name")))
		default:
			seen[s.Name] = i
		}
		if s.Primary {
			primaries = append(primaries, i)
		}
		if d := s.ReadOnlyMaxStaleness; d != nil && *d < 0 {
			c.add(siteKey(i, "read_only_max_staleness"), "must not be negative (\"0s\" = unbounded), got %v", *d)
		}
	}
	switch {
	case len(c.f.Sites) > 0 && len(primaries) == 0:
		c.add(sitePath, "no primary site: exactly one [[site]] must have primary = true")
	case len(primaries) > 1:
		for _, i := range primaries[1:] {
			c.add(siteKey(i, "primary"), "more than one primary site (%s is primary too)", c.ref(siteKey(primaries[0], "primary")))
		}
	}
}

// listener names one address a node listens on.
type listener struct {
	name     string
	addr     string
	required bool
	dialed   bool // other servers dial it: a wildcard host makes no sense
}

func (c *checker) nodes() {
	f := c.f
	if len(f.Nodes) == 0 {
		c.add(nodePath, "at least one [[node]] is required")
		return
	}
	voters := len(f.Voters())
	// Voters need a peer address when they replicate: to each other, or to
	// the primary site's observers, which dial them.
	replicated := voters > 1
	if p := f.PrimarySite(); p != nil {
		for _, o := range f.Observers() {
			replicated = replicated || o.Site == p.Name
		}
	}
	// With relays, the voters are the other end of every relay's WAN link.
	multiSite := len(f.Relays()) > 0
	sites := map[string]*Site{}
	for i := range f.Sites {
		if _, dup := sites[f.Sites[i].Name]; !dup {
			sites[f.Sites[i].Name] = &f.Sites[i]
		}
	}
	ids := map[uint64]int{}
	addrs := map[string]keyPath{}
	dirs := map[string]keyPath{}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		c.nodeID(i, n, ids)
		c.nodeSite(i, n, sites)
		clientHost := ""
		for _, l := range []listener{
			{"client", n.Client, true, false},
			{"peer", n.Peer, n.Role == RoleVoter && replicated, true},
			{"election", n.Election, n.Role == RoleVoter && voters > 1, true},
			{"gossip", n.Gossip, false, true},
			{"gossip_wan", n.GossipWAN, false, true},
			{"wan", n.WAN, n.Role == RoleRelay || (n.Role == RoleVoter && multiSite), true},
			{"admin", n.Admin, false, false},
			{"client_tls", n.ClientTLS, false, false},
		} {
			host := c.address(i, l, addrs)
			if l.name == "client" {
				clientHost = host
			}
		}
		c.nodeWAN(i, n)
		c.nodeClientTLS(i, n)
		c.nodeGossipWAN(i, n)
		c.nodeGossipTLS(i, n)
		c.nodeDirs(i, n, clientHost, dirs)
		switch n.LogLevel {
		case hclog.NoLevel, hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error:
		default:
			c.add(nodeKey(i, "log_level"), "unknown log level %v (want trace, debug, info, warn or error)", n.LogLevel)
		}
	}
}

func (c *checker) nodeID(i int, n *Node, ids map[uint64]int) {
	k := nodeKey(i, "id")
	switch j, dup := ids[n.ID]; {
	case n.ID == 0 && c.f.lines.exact(k) == 0:
		c.add(k, "is required (an integer in %d..%d)", MinNodeID, MaxNodeID)
	case n.ID < MinNodeID || n.ID > MaxNodeID:
		c.add(k, "id %d is out of range %d..%d", n.ID, MinNodeID, MaxNodeID)
	case dup:
		c.add(k, "duplicate id %d (also %s)", n.ID, c.ref(nodeKey(j, "id")))
	default:
		ids[n.ID] = i
	}
}

func (c *checker) nodeSite(i int, n *Node, sites map[string]*Site) {
	if n.Site == "" { // only when there is no primary site, reported already
		return
	}
	s, ok := sites[n.Site]
	if !ok {
		names := make([]string, len(c.f.Sites))
		for j := range c.f.Sites {
			names[j] = c.f.Sites[j].Name
		}
		c.add(nodeKey(i, "site"), "unknown site %q (sites: %s)", n.Site, strings.Join(names, ", "))
	}
	switch n.Role {
	case RoleVoter:
		if ok && !s.Primary {
			c.add(nodeKey(i, "site"), "voter in non-primary site %q: voters run ZAB in the primary site (use role = \"observer\" or \"relay\")", n.Site)
		}
	case RoleRelay:
		if ok && s.Primary {
			c.add(nodeKey(i, "role"), "relay in the primary site %q: a relay feeds a non-primary site", n.Site)
		}
	case RoleObserver:
	default:
		c.add(nodeKey(i, "role"), "unknown role %v (want voter, observer or relay)", n.Role)
	}
}

// address checks one listener of node i and returns its canonical host ("" if
// absent or invalid).
func (c *checker) address(i int, l listener, seen map[string]keyPath) string {
	k := nodeKey(i, l.name)
	if l.addr == "" {
		if l.required {
			c.add(k, "is required (host:port)%s", requiredWhy(l.name))
		}
		return ""
	}
	canon, host, err := parseHostPort(l.addr)
	if err != nil {
		c.add(k, "%v", err)
		return ""
	}
	if l.dialed && isUnspecified(host) {
		c.add(k, "%q is a wildcard address; other servers must be able to dial it", l.addr)
	}
	if prev, dup := seen[canon]; dup {
		c.add(k, "address %s is already used by %s", canon, c.ref(prev))
	} else {
		seen[canon] = k
	}
	return host
}

// nodeWAN checks wan_advertise and the TLS settings a WAN link needs:
// nothing crosses the WAN in plaintext.
func (c *checker) nodeWAN(i int, n *Node) {
	if n.WANAdvertise != "" {
		if n.WAN == "" {
			c.add(nodeKey(i, "wan_advertise"), "is set but wan is not")
		} else if _, host, err := parseHostPort(n.WANAdvertise); err != nil {
			c.add(nodeKey(i, "wan_advertise"), "%v", err)
		} else if isUnspecified(host) {
			c.add(nodeKey(i, "wan_advertise"), "%q is a wildcard address; other sites must be able to dial it", n.WANAdvertise)
		}
	}
	if n.WAN == "" {
		return
	}
	if c.f.Cluster.TLSCA == "" && !c.caReported {
		c.caReported = true
		c.add(clusterKey("tls_ca"), "is required when a node has a wan address: nothing crosses the WAN in plaintext (zoogate tls init writes a CA)")
	}
	if n.TLSCert == "" {
		c.add(nodeKey(i, "tls_cert"), "is required with wan: the node's certificate is its identity across the WAN")
	}
	if n.TLSKey == "" {
		c.add(nodeKey(i, "tls_key"), "is required with wan")
	}
}

// nodeClientTLS checks what the TLS client port needs: the node's
// certificate and key, and the CA that client certificates are verified
// against. A node with wan has had these reported already.
func (c *checker) nodeClientTLS(i int, n *Node) {
	if n.ClientTLS == "" {
		return
	}
	if c.f.Cluster.TLSCA == "" && !c.caReported {
		c.caReported = true
		c.add(clusterKey("tls_ca"), "is required when a node has client_tls: client certificates are verified against it (zoogate tls init writes a CA)")
	}
	if n.WAN != "" {
		return
	}
	if n.TLSCert == "" {
		c.add(nodeKey(i, "tls_cert"), "is required with client_tls: the certificate the TLS client port presents")
	}
	if n.TLSKey == "" {
		c.add(nodeKey(i, "tls_key"), "is required with client_tls")
	}
}

// nodeGossipWAN checks the WAN gossip keys: voters and relays only, an
// advertised address only with a bound one, and an encryption key.
func (c *checker) nodeGossipWAN(i int, n *Node) {
	if n.GossipWANAdvertise != "" {
		if n.GossipWAN == "" {
			c.add(nodeKey(i, "gossip_wan_advertise"), "is set but gossip_wan is not")
		} else if _, host, err := parseHostPort(n.GossipWANAdvertise); err != nil {
			c.add(nodeKey(i, "gossip_wan_advertise"), "%v", err)
		} else if isUnspecified(host) {
			c.add(nodeKey(i, "gossip_wan_advertise"), "%q is a wildcard address; other sites must be able to reach it", n.GossipWANAdvertise)
		}
	}
	if n.GossipWAN == "" {
		return
	}
	if n.Role == RoleObserver {
		c.add(nodeKey(i, "gossip_wan"), "is for voters and relays: an observer gossips in its site's pool only")
	}
	if n.Gossip == "" {
		c.add(nodeKey(i, "gossip"), "is required with gossip_wan: a node joins its site's pool too")
	}
	if c.f.Cluster.GossipKeyFile == "" && !c.gossipKeyReported {
		c.gossipKeyReported = true
		c.add(clusterKey("gossip_key_file"), "is required when a node has gossip_wan: gossip crossing the WAN is encrypted (zoogate tls init writes gossip.key)")
	}
}

// nodeGossipTLS checks what certificate identity on gossip needs: with a
// deployment CA, every node that gossips proves the id it gossips with its
// certificate (docs/topology.md, "Admission"); and observers that join at
// run time need both the CA and the gossip key.
func (c *checker) nodeGossipTLS(i int, n *Node) {
	cl := &c.f.Cluster
	if cl.DynamicObservers && n.Gossip != "" {
		if cl.TLSCA == "" && !c.caReported {
			c.caReported = true
			c.add(clusterKey("tls_ca"), "is required with dynamic_observers: an observer that joins at run time proves its id with a certificate from this CA")
		}
		if cl.GossipKeyFile == "" && !c.gossipKeyReported {
			c.gossipKeyReported = true
			c.add(clusterKey("gossip_key_file"), "is required with dynamic_observers: the pools a joining observer enters are encrypted")
		}
	}
	if n.Gossip == "" || cl.TLSCA == "" || n.WAN != "" || n.ClientTLS != "" {
		return // no gossip, no CA, or the missing certificate is reported already
	}
	if n.TLSCert == "" {
		c.add(nodeKey(i, "tls_cert"), "is required with gossip once [cluster] tls_ca is set: gossip checks every node's certificate against the id it gossips")
	}
	if n.TLSKey == "" {
		c.add(nodeKey(i, "tls_key"), "is required with gossip once [cluster] tls_ca is set")
	}
}

func requiredWhy(name string) string {
	switch name {
	case "peer", "election":
		if name == "peer" {
			return " for a voter when there is more than one voter or an observer in the primary site"
		}
		return " for a voter when there is more than one voter"
	case "wan":
		return " for a relay, and for a voter when the file has relays (their WAN links end at the voters)"
	}
	return ""
}

// nodeDirs reports a data or log directory shared with another node that
// runs on the same host (same client host), where the two would overwrite
// each other's files.
func (c *checker) nodeDirs(i int, n *Node, host string, seen map[string]keyPath) {
	if n.DataDir == "" {
		c.add(nodeKey(i, "data_dir"), "is required (relative paths are relative to the working directory)")
	}
	if host == "" {
		return
	}
	for _, d := range []struct{ name, dir string }{{"data_dir", n.DataDir}, {"log_dir", n.LogDir}} {
		if d.dir == "" || (d.name == "log_dir" && filepath.Clean(d.dir) == filepath.Clean(n.DataDir)) {
			continue
		}
		id := host + "\x00" + filepath.Clean(d.dir)
		k := nodeKey(i, d.name)
		if prev, dup := seen[id]; dup {
			c.add(k, "directory %q is also %s, on the same host %s", d.dir, c.ref(prev), host)
		} else {
			seen[id] = k
		}
	}
}

func (c *checker) warnings() {
	f := c.f
	switch v := len(f.Voters()); {
	case v == 0 && len(f.Nodes) > 0:
		c.add(nodePath, "no voters: nothing can commit a write")
	case v > 0 && v%2 == 0:
		c.add(nodePath, "%d voters: an even count tolerates %d failed voters, no more than %d voters would", v, (v-1)/2, v-1)
	}
	for i, s := range f.Sites {
		if s.Primary {
			continue
		}
		var nodes, observers, relays int
		for _, n := range f.Nodes {
			if n.Site != s.Name {
				continue
			}
			nodes++
			switch n.Role {
			case RoleObserver:
				observers++
			case RoleRelay:
				relays++
			}
		}
		switch {
		case nodes == 0:
			c.add(siteKey(i, "name"), "site %q has no nodes", s.Name)
		case observers > 0 && relays == 0:
			c.add(siteKey(i, "name"), "site %q has observers but no relay to feed them", s.Name)
		}
	}
}
