package topology

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-hclog"
)

// MaxFileSize is the largest topology file Parse accepts.
const MaxFileSize = 1 << 20

// Load reads and parses the topology file at path; see Parse.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a topology file, fills in defaults and validates it. filename
// only labels problems. On any problem it returns a nil File and a
// errors.Join of *FieldError values listing every problem at once, sorted by
// line: unknown keys, values of the
// wrong type, and everything Validate reports. A TOML syntax error stops
// there and is reported alone, at the line and column the TOML parser gives.
func Parse(data []byte, filename string) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, asError([]*FieldError{{File: filename,
			Problem: fmt.Sprintf("file is %d bytes; a topology file is at most %d", len(data), MaxFileSize)}})
	}
	lines, deepLine := scanLinesDepth(data)
	if deepLine > 0 {
		return nil, asError([]*FieldError{{File: filename, Line: deepLine,
			Problem: fmt.Sprintf("nested too deeply (more than %d levels of arrays, inline tables or key parts)", maxValueDepth)}})
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		p := &FieldError{File: filename, Problem: err.Error(), Err: err}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line, p.Col, p.Problem = pe.Position.Line, pe.Position.Col, pe.Message
		}
		return nil, asError([]*FieldError{p})
	}
	d := &decoder{file: filename, lines: lines, bad: map[string]bool{}}
	f := d.decodeFile(raw)
	f.Path, f.lines, f.Source = filename, d.lines, data
	problems := d.problems
	for _, p := range f.problems() {
		if !d.bad[p.Field] { // a value that failed to decode is reported once
			problems = append(problems, p)
		}
	}
	if err := asError(problems); err != nil {
		return nil, err
	}
	return f, nil
}

// decoder turns the generic map the TOML parser produces into a File,
// collecting a FieldError for every unknown key and mistyped value instead of
// stopping at the first.
type decoder struct {
	file     string
	lines    lineIndex
	problems []*FieldError
	bad      map[string]bool // keys with a decode problem
}

func (d *decoder) problemf(k keyPath, format string, args ...any) {
	key := k.String()
	d.bad[key] = true
	d.problems = append(d.problems, &FieldError{
		File: d.file, Line: d.lines.line(k), Field: key, Problem: fmt.Sprintf(format, args...),
	})
}

// field decodes the value of one known key.
type field[T any] func(d *decoder, k keyPath, v any, dst *T)

// decodeTable decodes each key of tbl with its field, reporting unknown keys.
func decodeTable[T any](d *decoder, at keyPath, tbl map[string]any, fields map[string]field[T], dst *T) {
	names := make([]string, 0, len(tbl))
	for name := range tbl {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := at.key(name)
		fn, ok := fields[name]
		if !ok {
			d.unknownKey(k, name, keysOf(fields))
			continue
		}
		fn(d, k, tbl[name], dst)
	}
}

func (d *decoder) unknownKey(k keyPath, name string, known []string) {
	if s := closest(name, known); s != "" {
		d.problemf(k, "unknown key %q (did you mean %q?)", name, s)
		return
	}
	d.problemf(k, "unknown key %q", name)
}

func keysOf[T any](m map[string]field[T]) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// decodeFile decodes the whole document and applies the defaults that
// depend on other keys.
func (d *decoder) decodeFile(raw map[string]any) *File {
	f := &File{Cluster: DefaultClusterConfig()}
	decodeTable(d, nil, raw, fileFields, f)

	_, minSet := clusterTable(raw)["min_session_timeout"]
	_, maxSet := clusterTable(raw)["max_session_timeout"]
	if !minSet {
		f.Cluster.MinSessionTimeout = 2 * f.Cluster.Tick
	}
	if !maxSet {
		f.Cluster.MaxSessionTimeout = 20 * f.Cluster.Tick
	}

	if len(f.Sites) == 0 {
		f.Sites = []Site{{Name: DefaultSiteName, Primary: true}}
	} else if len(f.Sites) == 1 {
		if _, set := d.siteTables(raw)[0]["primary"]; !set {
			f.Sites[0].Primary = true // a lone site is the primary one
		}
	}
	primary := ""
	for _, s := range f.Sites {
		if s.Primary {
			primary = s.Name
			break
		}
	}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if n.Site == "" {
			n.Site = primary
		}
		if n.Role == 0 && !d.bad[nodeKey(i, "role").String()] {
			n.Role = RoleVoter
		}
		if n.LogDir == "" {
			n.LogDir = n.DataDir
		}
		if n.LogLevel == hclog.NoLevel {
			n.LogLevel = hclog.Info
		}
	}
	return f
}

func clusterTable(raw map[string]any) map[string]any {
	t, _ := raw["cluster"].(map[string]any)
	return t
}

// siteTables returns the [[site]] tables as decoded (nil entries for
// elements that are not tables).
func (d *decoder) siteTables(raw map[string]any) []map[string]any {
	return tableList(raw["site"])
}

// tableList accepts both an array of tables ([[x]]) and an inline array of
// inline tables (x = [{...}]).
func tableList(v any) []map[string]any {
	switch l := v.(type) {
	case []map[string]any:
		return l
	case []any:
		out := make([]map[string]any, len(l))
		for i, e := range l {
			out[i], _ = e.(map[string]any)
		}
		return out
	}
	return nil
}

var fileFields = map[string]field[File]{
	"cluster": func(d *decoder, k keyPath, v any, f *File) {
		t, ok := v.(map[string]any)
		if !ok {
			d.problemf(k, "must be a table ([cluster]), got %s", describe(v))
			return
		}
		decodeTable(d, k, t, clusterFields, &f.Cluster)
	},
	"site": func(d *decoder, k keyPath, v any, f *File) {
		tables, ok := d.arrayOfTables(k, v, "[[site]]")
		if !ok {
			return
		}
		f.Sites = make([]Site, len(tables))
		for i, t := range tables {
			if t == nil {
				d.problemf(k.index(i), "must be a table, got %s", describe(v.([]any)[i]))
				continue
			}
			decodeTable(d, k.index(i), t, siteFields, &f.Sites[i])
		}
	},
	"node": func(d *decoder, k keyPath, v any, f *File) {
		tables, ok := d.arrayOfTables(k, v, "[[node]]")
		if !ok {
			return
		}
		f.Nodes = make([]Node, len(tables))
		for i, t := range tables {
			if t == nil {
				d.problemf(k.index(i), "must be a table, got %s", describe(v.([]any)[i]))
				continue
			}
			decodeTable(d, k.index(i), t, nodeFields, &f.Nodes[i])
		}
	},
}

func (d *decoder) arrayOfTables(k keyPath, v any, form string) ([]map[string]any, bool) {
	switch v.(type) {
	case []map[string]any, []any:
		return tableList(v), true
	}
	d.problemf(k, "must be an array of tables (%s), got %s", form, describe(v))
	return nil, false
}

var clusterFields = map[string]field[Cluster]{
	"name":                     str(func(c *Cluster) *string { return &c.Name }),
	"tick":                     duration(func(c *Cluster) *time.Duration { return &c.Tick }),
	"init_limit":               integer(func(c *Cluster) *int { return &c.InitLimit }),
	"sync_limit":               integer(func(c *Cluster) *int { return &c.SyncLimit }),
	"min_session_timeout":      duration(func(c *Cluster) *time.Duration { return &c.MinSessionTimeout }),
	"max_session_timeout":      duration(func(c *Cluster) *time.Duration { return &c.MaxSessionTimeout }),
	"max_client_cnxns":         integer(func(c *Cluster) *int { return &c.MaxClientCnxns }),
	"max_packet_size":          integer(func(c *Cluster) *int { return &c.MaxPacketSize }),
	"four_letter_words":        strList(func(c *Cluster) *[]string { return &c.FourLetterWords }),
	"super_digest":             str(func(c *Cluster) *string { return &c.SuperDigest }),
	"ttl_nodes":                boolean(func(c *Cluster) *bool { return &c.TTLNodes }),
	"container_check_interval": duration(func(c *Cluster) *time.Duration { return &c.ContainerCheckInterval }),
	"container_max_per_minute": integer(func(c *Cluster) *int { return &c.ContainerMaxPerMinute }),
	"container_max_never_used": duration(func(c *Cluster) *time.Duration { return &c.ContainerMaxNeverUsed }),
	"snap_count":               integer(func(c *Cluster) *int { return &c.SnapCount }),
	"snap_retain_count":        integer(func(c *Cluster) *int { return &c.SnapRetainCount }),
	"purge_interval":           duration(func(c *Cluster) *time.Duration { return &c.PurgeInterval }),
	"global_outstanding_limit": integer(func(c *Cluster) *int { return &c.GlobalOutstandingLimit }),
	"session_secret_file":      str(func(c *Cluster) *string { return &c.SessionSecretFile }),
	"gossip_key_file":          str(func(c *Cluster) *string { return &c.GossipKeyFile }),
	"dynamic_observers":        boolean(func(c *Cluster) *bool { return &c.DynamicObservers }),
	"admin_token_file":         str(func(c *Cluster) *string { return &c.AdminTokenFile }),
	"tls_ca":                   str(func(c *Cluster) *string { return &c.TLSCA }),
	"relay_upstream":           str(func(c *Cluster) *string { return &c.RelayUpstream }),
	"read_only":                boolean(func(c *Cluster) *bool { return &c.ReadOnly }),
	"local_sessions":           boolean(func(c *Cluster) *bool { return &c.LocalSessions }),
	"read_only_max_staleness":  duration(func(c *Cluster) *time.Duration { return &c.ReadOnlyMaxStaleness }),
	"remote_session_hold":      duration(func(c *Cluster) *time.Duration { return &c.RemoteSessionHold }),
	"leader_wait":              duration(func(c *Cluster) *time.Duration { return &c.LeaderWait }),
	"drill_faults":             boolean(func(c *Cluster) *bool { return &c.DrillFaults }),
}

var siteFields = map[string]field[Site]{
	"name":    str(func(s *Site) *string { return &s.Name }),
	"primary": boolean(func(s *Site) *bool { return &s.Primary }),
	"read_only_max_staleness": func(d *decoder, k keyPath, v any, s *Site) {
		const unset = time.Duration(-1 << 63)
		dur := unset
		duration(func(p *time.Duration) *time.Duration { return p })(d, k, v, &dur)
		if dur != unset {
			s.ReadOnlyMaxStaleness = &dur
		}
	},
}

var nodeFields = map[string]field[Node]{
	"id":                   decodeID,
	"site":                 str(func(n *Node) *string { return &n.Site }),
	"role":                 decodeRole,
	"client":               str(func(n *Node) *string { return &n.Client }),
	"peer":                 str(func(n *Node) *string { return &n.Peer }),
	"election":             str(func(n *Node) *string { return &n.Election }),
	"gossip":               str(func(n *Node) *string { return &n.Gossip }),
	"gossip_wan":           str(func(n *Node) *string { return &n.GossipWAN }),
	"gossip_wan_advertise": str(func(n *Node) *string { return &n.GossipWANAdvertise }),
	"admin":                str(func(n *Node) *string { return &n.Admin }),
	"client_tls":           str(func(n *Node) *string { return &n.ClientTLS }),
	"wan":                  str(func(n *Node) *string { return &n.WAN }),
	"wan_advertise":        str(func(n *Node) *string { return &n.WANAdvertise }),
	"tls_cert":             str(func(n *Node) *string { return &n.TLSCert }),
	"tls_key":              str(func(n *Node) *string { return &n.TLSKey }),
	"data_dir":             str(func(n *Node) *string { return &n.DataDir }),
	"log_dir":              str(func(n *Node) *string { return &n.LogDir }),
	"log_level": func(d *decoder, k keyPath, v any, n *Node) {
		var s string
		if d.asString(k, v, &s) {
			lvl, err := parseLogLevel(s)
			if err != nil {
				d.problemf(k, "%v", err)
				return
			}
			n.LogLevel = lvl
		}
	},
}

// decodeID accepts a TOML integer that fits a server id's uint64; the range
// 1..254 is Validate's.
func decodeID(d *decoder, k keyPath, v any, n *Node) {
	i, ok := v.(int64)
	if !ok {
		d.problemf(k, "must be an integer in %d..%d, got %s", MinNodeID, MaxNodeID, describe(v))
		return
	}
	if i < 0 {
		d.problemf(k, "id %d is negative: ids are in %d..%d", i, MinNodeID, MaxNodeID)
		return
	}
	n.ID = uint64(i)
}

func decodeRole(d *decoder, k keyPath, v any, n *Node) {
	var s string
	if d.asString(k, v, &s) {
		r, err := ParseRole(s)
		if err != nil {
			d.problemf(k, "%v", err)
			return
		}
		n.Role = r
	}
}

func str[T any](get func(*T) *string) field[T] {
	return func(d *decoder, k keyPath, v any, t *T) { d.asString(k, v, get(t)) }
}

func (d *decoder) asString(k keyPath, v any, dst *string) bool {
	s, ok := v.(string)
	if !ok {
		d.problemf(k, "must be a string, got %s", describe(v))
		return false
	}
	*dst = s
	return true
}

func integer[T any](get func(*T) *int) field[T] {
	return func(d *decoder, k keyPath, v any, t *T) {
		i, ok := v.(int64)
		if !ok {
			d.problemf(k, "must be an integer, got %s", describe(v))
			return
		}
		if int64(int(i)) != i {
			d.problemf(k, "integer %d is out of range", i)
			return
		}
		*get(t) = int(i)
	}
}

func boolean[T any](get func(*T) *bool) field[T] {
	return func(d *decoder, k keyPath, v any, t *T) {
		b, ok := v.(bool)
		if !ok {
			d.problemf(k, "must be true or false, got %s", describe(v))
			return
		}
		*get(t) = b
	}
}

func duration[T any](get func(*T) *time.Duration) field[T] {
	return func(d *decoder, k keyPath, v any, t *T) {
		s, ok := v.(string)
		if !ok {
			d.problemf(k, `must be a duration string such as "2s" or "500ms", got %s`, describe(v))
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.problemf(k, `invalid duration %q (want a Go duration such as "2s" or "500ms")`, s)
			return
		}
		*get(t) = dur
	}
}

func strList[T any](get func(*T) *[]string) field[T] {
	return func(d *decoder, k keyPath, v any, t *T) {
		l, ok := v.([]any)
		if !ok {
			d.problemf(k, "must be an array of strings, got %s", describe(v))
			return
		}
		out := make([]string, 0, len(l))
		good := true
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				d.problemf(k.index(i), "must be a string, got %s", describe(e))
				good = false
				continue
			}
			out = append(out, s)
		}
		if good {
			*get(t) = out
		} else {
			d.bad[k.String()] = true
		}
	}
}

// describe names the TOML type of a decoded value for messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "datetime " + x.Format(time.RFC3339Nano)
	case []any:
		return "array"
	case []map[string]any:
		return "array of tables"
	case map[string]any:
		return "table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}

// closest returns the known key nearest to name when it is a likely typo.
func closest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dd := editDistance(name, k); dd < bestDist {
			best, bestDist = k, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
