package topology

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-hclog"
)

// Join is a join file: what an observer that is not in the deployment's
// topology file needs to join a site at run time (zoogate serve --join).
// The deployment's file itself comes from the seeds (gossip hands it to a
// node that joins); the join file names the cluster, the seeds, this
// node's own addresses and its own copies of the deployment's secrets.
type Join struct {
	Path string
	// Cluster: only name and the path keys (tls_ca, gossip_key_file,
	// session_secret_file, admin_token_file) are read; every other
	// setting comes from the deployment's file.
	Cluster Cluster
	// Seeds are gossip addresses of nodes of the site ([join] seeds).
	Seeds []string
	// Wait bounds how long the seeds may take to answer ([join] wait).
	Wait time.Duration
	// Node is this observer ([node]); Role is always RoleObserver.
	Node Node
}

// DefaultJoinWait is [join] wait's default.
const DefaultJoinWait = 30 * time.Second

// joinClusterKeys are the [cluster] keys a join file may set.
var joinClusterKeys = []string{"name", "tls_ca", "gossip_key_file", "session_secret_file", "admin_token_file"}

var joinFields = map[string]field[Join]{
	"cluster": func(d *decoder, k keyPath, v any, j *Join) {
		t, ok := v.(map[string]any)
		if !ok {
			d.problemf(k, "must be a table ([cluster]), got %s", describe(v))
			return
		}
		fields := map[string]field[Cluster]{}
		for _, name := range joinClusterKeys {
			fields[name] = clusterFields[name]
		}
		decodeTable(d, k, t, fields, &j.Cluster)
	},
	"join": func(d *decoder, k keyPath, v any, j *Join) {
		t, ok := v.(map[string]any)
		if !ok {
			d.problemf(k, "must be a table ([join]), got %s", describe(v))
			return
		}
		decodeTable(d, k, t, map[string]field[Join]{
			"seeds": strList(func(j *Join) *[]string { return &j.Seeds }),
			"wait":  duration(func(j *Join) *time.Duration { return &j.Wait }),
		}, j)
	},
	"node": func(d *decoder, k keyPath, v any, j *Join) {
		t, ok := v.(map[string]any)
		if !ok {
			d.problemf(k, "must be one table ([node]: this observer), got %s", describe(v))
			return
		}
		decodeTable(d, k, t, nodeFields, &j.Node)
	},
}

// LoadJoin reads and checks a join file. Like Load, it reports every
// problem at once, each naming its key and line.
func LoadJoin(path string) (*Join, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, asError([]*FieldError{{File: path, Problem: fmt.Sprintf("file is %d bytes; a join file is at most %d", len(data), MaxFileSize)}})
	}
	lines, deepLine := scanLinesDepth(data)
	if deepLine > 0 {
		return nil, asError([]*FieldError{{File: path, Line: deepLine, Problem: "nested too deeply"}})
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		p := &FieldError{File: path, Problem: err.Error(), Err: err}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line, p.Col, p.Problem = pe.Position.Line, pe.Position.Col, pe.Message
		}
		return nil, asError([]*FieldError{p})
	}
	d := &decoder{file: path, lines: lines, bad: map[string]bool{}}
	j := &Join{Path: path, Wait: DefaultJoinWait}
	decodeTable(d, nil, raw, joinFields, j)
	if j.Node.Role == 0 && !d.bad["node.role"] {
		j.Node.Role = RoleObserver
	}
	if j.Node.LogDir == "" {
		j.Node.LogDir = j.Node.DataDir
	}
	if j.Node.LogLevel == hclog.NoLevel {
		j.Node.LogLevel = hclog.Info
	}
	problems := d.problems
	add := func(key string, format string, args ...any) {
		k := keyPath(strings.Split(key, "."))
		if i := strings.IndexByte(key, '['); i >= 0 { // join.seeds[i]
			n, _ := strconv.Atoi(strings.TrimSuffix(key[i+1:], "]"))
			k = keyPath(strings.Split(key[:i], ".")).index(n)
		}
		if d.bad[key] {
			return
		}
		problems = append(problems, &FieldError{File: path, Line: d.lines.line(k), Field: key, Problem: fmt.Sprintf(format, args...)})
	}
	if _, ok := raw["node"]; !ok {
		add("node", "is required: the [node] table of the observer that joins")
	} else {
		if j.Node.ID < MinNodeID || j.Node.ID > MaxNodeID {
			add("node.id", "must be in %d..%d, got %d", MinNodeID, MaxNodeID, j.Node.ID)
		}
		if j.Node.Role != RoleObserver {
			add("node.role", "must be \"observer\": a node that joins at run time never votes or relays")
		}
		for key, v := range map[string]string{"node.site": j.Node.Site, "node.client": j.Node.Client, "node.gossip": j.Node.Gossip,
			"node.tls_cert": j.Node.TLSCert, "node.tls_key": j.Node.TLSKey, "node.data_dir": j.Node.DataDir} {
			if v == "" {
				add(key, "is required in a join file (%s)", joinWhy(key))
			}
		}
		for key, v := range map[string]string{"node.election": j.Node.Election, "node.gossip_wan": j.Node.GossipWAN, "node.gossip_wan_advertise": j.Node.GossipWANAdvertise} {
			if v != "" {
				add(key, "is for voters and relays of the topology file, not for an observer that joins")
			}
		}
	}
	if j.Cluster.Name == "" {
		add("cluster.name", "is required: the deployment's cluster name")
	}
	if j.Cluster.TLSCA == "" {
		add("cluster.tls_ca", "is required: the deployment's CA, which this node's certificate and the seeds' are checked against")
	}
	if j.Cluster.GossipKeyFile == "" {
		add("cluster.gossip_key_file", "is required: a copy of the deployment's gossip key")
	}
	if len(j.Seeds) == 0 {
		add("join.seeds", "needs at least one gossip address of a node of the site to join through")
	}
	for i, s := range j.Seeds {
		if _, _, err := parseHostPort(s); err != nil {
			add(fmt.Sprintf("join.seeds[%d]", i), "%v", err)
		}
	}
	if j.Wait <= 0 && !d.bad["join.wait"] {
		add("join.wait", "must be positive, got %v", j.Wait)
	}
	if err := asError(problems); err != nil {
		return nil, err
	}
	return j, nil
}

func joinWhy(key string) string {
	switch key {
	case "node.site":
		return "the site to add read capacity to"
	case "node.client":
		return "where its clients connect"
	case "node.gossip":
		return "it gossips in its site's pool"
	case "node.tls_cert", "node.tls_key":
		return "its certificate, from the deployment's CA, names its id: zoogate tls issue writes one"
	}
	return "where it keeps its data"
}

// ErrJoin is returned (wrapped) when a deployment does not take a joining
// node.
var ErrJoin = errors.New("topology: cannot join")

// WithJoiner returns a copy of deployment file f with j's node added, as
// the joining node runs it: the path-valued [cluster] keys are the join
// file's (this node's copies of the CA, the gossip key and the secrets),
// everything else is the deployment's. It refuses a deployment without
// dynamic_observers, another cluster, an unknown site, an id the file
// already has, and a merged file that does not validate.
func (f *File) WithJoiner(j *Join) (*File, error) {
	switch {
	case f.Cluster.Name != j.Cluster.Name:
		return nil, fmt.Errorf("%w: the seeds belong to cluster %q, the join file names %q", ErrJoin, f.Cluster.Name, j.Cluster.Name)
	case !f.Cluster.DynamicObservers:
		return nil, fmt.Errorf("%w: cluster %q does not take observers that are not in its file (its [cluster] dynamic_observers is false)", ErrJoin, f.Cluster.Name)
	}
	if _, ok := f.Site(j.Node.Site); !ok {
		var names []string
		for _, s := range f.Sites {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("%w: %s: node.site %q is not a site of cluster %q (its sites: %v)", ErrJoin, j.Path, j.Node.Site, f.Cluster.Name, names)
	}
	if _, err := f.Node(j.Node.ID); err == nil {
		return nil, fmt.Errorf("%w: %s: node.id %d is a node of the deployment's file: start it with --config, or pick an id the file does not use", ErrJoin, j.Path, j.Node.ID)
	}
	if f.Cluster.SessionSecretFile != "" && j.Cluster.SessionSecretFile == "" {
		return nil, fmt.Errorf("%w: %s: cluster.session_secret_file is required: the deployment keys session passwords with a shared secret (copy its session.secret to this node)", ErrJoin, j.Path)
	}
	out := *f
	out.Path = j.Path + " (joined to cluster " + f.Cluster.Name + ")"
	out.lines = nil
	out.Cluster.TLSCA, out.Cluster.GossipKeyFile = j.Cluster.TLSCA, j.Cluster.GossipKeyFile
	out.Cluster.SessionSecretFile, out.Cluster.AdminTokenFile = j.Cluster.SessionSecretFile, j.Cluster.AdminTokenFile
	out.Sites = slices.Clone(f.Sites)
	out.Nodes = append(slices.Clone(f.Nodes), j.Node)
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("%w: the deployment's file with this node added: %w", ErrJoin, err)
	}
	return &out, nil
}
