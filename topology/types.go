package topology

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// File is one parsed topology file: the settings shared by the whole
// deployment, its sites and its nodes. Every server of a deployment reads the
// same File and picks its own Node with SelectNode.
type File struct {
	// Path is the file name given to Parse or Load ("" for a File built in
	// code). Problems found later by Validate name it.
	Path string
	// Source is the text Parse decoded (nil for a File built in code): what
	// a node hands an observer that joins through it (zoogate serve --join).
	Source []byte

	Cluster Cluster
	// Sites in file order. A file without [[site]] tables gets one implicit
	// primary site named DefaultSiteName.
	Sites []Site
	// Nodes in file order: Nodes[i] is the i-th [[node]] table, which
	// problems call node[i].
	Nodes []Node

	// lines maps key paths to the lines where they appear; nil for a File
	// built in code.
	lines lineIndex
}

// Cluster holds the [cluster] table: settings every server of the deployment
// must agree on. Names in comments are the TOML keys.
type Cluster struct {
	Name string // name: identifies the deployment (gossip, logs, metrics)

	Tick      time.Duration // tick: ZooKeeper's tickTime
	InitLimit int           // init_limit: ticks a learner may take to sync
	SyncLimit int           // sync_limit: ticks a learner may lag or stay silent

	MinSessionTimeout time.Duration // min_session_timeout (default 2×tick)
	MaxSessionTimeout time.Duration // max_session_timeout (default 20×tick)

	MaxClientCnxns  int      // max_client_cnxns: per client IP, 0 = unlimited
	MaxPacketSize   int      // max_packet_size: jute.maxbuffer in bytes
	FourLetterWords []string // four_letter_words: enabled 4lw commands, "*" = all
	SuperDigest     string   // super_digest: "super:<base64 sha1>", "" = none
	TTLNodes        bool     // ttl_nodes: allow TTL nodes (extendedTypesEnabled)

	ContainerCheckInterval time.Duration // container_check_interval
	ContainerMaxPerMinute  int           // container_max_per_minute
	ContainerMaxNeverUsed  time.Duration // container_max_never_used: 0 = never

	SnapCount              int           // snap_count: transactions between snapshots
	SnapRetainCount        int           // snap_retain_count: snapshots kept by purge
	PurgeInterval          time.Duration // purge_interval: 0 = never purge
	GlobalOutstandingLimit int           // global_outstanding_limit

	// SessionSecretFile (session_secret_file) is a file holding the secret
	// that keys session passwords, read by every server at start; "" = the
	// voters agree on a random secret through the replicated state. Like
	// data_dir, a relative path is relative to the working directory of
	// the process. The file itself is checked when a server starts.
	SessionSecretFile string

	// ReadOnly (read_only) lets a server that has no quorum or no upstream
	// keep serving clients that asked for read-only mode (ZooKeeper's
	// readonlymode.enabled, which is off by default there; on here).
	ReadOnly bool
	// LocalSessions (local_sessions) makes sessions created on observers
	// and relays local to their server until they create an ephemeral
	// node (ZooKeeper's localSessionsEnabled with upgrading).
	LocalSessions bool
	// ReadOnlyMaxStaleness (read_only_max_staleness) bounds read-only
	// mode: a server whose last contact with the committed stream is older
	// serves nobody. 0 = unbounded. A site's own value overrides it.
	ReadOnlyMaxStaleness time.Duration
	// RemoteSessionHold (remote_session_hold) is how long the primary
	// keeps the global sessions of a cut-off site alive: while no learner
	// of the site is connected they are not expired, and once it is back
	// each has its whole timeout again. 0 = expire them as ZooKeeper does.
	RemoteSessionHold time.Duration
	// LeaderWait (leader_wait) is how long a server that lost its leader
	// or upstream keeps its clients' connections and holds their writes
	// and sync() calls while it waits for a new one; after that it drops
	// them as ZooKeeper does. 0 = drop them at once (ZooKeeper's
	// behaviour).
	LeaderWait time.Duration
	// DrillFaults (drill_faults) lets `zoogate drill` inject WAN faults
	// (cut, heal, delay, loss) through each node's admin address; refused
	// when false.
	DrillFaults bool
	// GossipKeyFile (gossip_key_file) holds the 32-byte key (64 hex
	// digits) that encrypts gossip; required once a node has gossip_wan.
	GossipKeyFile string
	// DynamicObservers (dynamic_observers) lets observers that are not in
	// the file join a site at run time (zoogate serve --join).
	DynamicObservers bool
	// AdminTokenFile (admin_token_file) is a file holding the bearer token
	// that the admin HTTP server (a node's admin address) requires for the
	// commands that list sessions, paths or connections (cons, wchc, wchp,
	// dump, ...): "Authorization: Bearer <token>". "" = no token. Relative
	// like data_dir; the file itself is checked when a server with an
	// admin address starts.
	AdminTokenFile string

	// RelayUpstream (relay_upstream) is what a relay follows across the
	// WAN: RelayFollowsLeader (the default, "" reads as it) or
	// RelayFollowsFollower (ZooKeeper's ObserverMaster: the voters take
	// turns, so the leader does not carry the sites' streams).
	RelayUpstream string

	// TLSCA (tls_ca) is the deployment's CA certificate (PEM): every WAN
	// link verifies the other end against it. Required when a node has a
	// wan address. Relative like data_dir.
	TLSCA string
}

// Values of relay_upstream.
const (
	RelayFollowsLeader   = "leader"
	RelayFollowsFollower = "follower"
)

// Site is one [[site]] table: a datacenter or region.
type Site struct {
	Name    string
	Primary bool // the site whose voters run ZAB; exactly one per file
	// ReadOnlyMaxStaleness (read_only_max_staleness), when set, overrides
	// the cluster's for this site's servers.
	ReadOnlyMaxStaleness *time.Duration
}

// Node is one [[node]] table: one zoogate server.
type Node struct {
	ID   uint64 // id: 1..254 (the server id of core/zab and core/peer)
	Site string // site: defaults to the primary site
	Role Role   // role: defaults to RoleVoter

	Client   string // client: host:port for ZooKeeper clients (required)
	Peer     string // peer: host:port for ZAB traffic on the LAN
	Election string // election: host:port for leader election
	Gossip   string // gossip: host:port for memberlist ("" = no gossip)
	// GossipWAN (gossip_wan) is where a voter or relay joins the WAN
	// gossip pool across sites; GossipWANAdvertise (gossip_wan_advertise)
	// what other sites reach it at when it differs (NAT, proxies).
	GossipWAN, GossipWANAdvertise string
	WAN                           string // wan: host:port for QUIC across sites (relays; voters of a multi-site file)
	// WANAdvertise (wan_advertise) is what other sites dial to reach WAN
	// when it differs (NAT, proxies); "" = WAN.
	WANAdvertise string
	// TLSCert and TLSKey (tls_cert, tls_key) are this node's certificate
	// and key (PEM) for the WAN: its identity is the id in the certificate.
	TLSCert, TLSKey string
	// Admin (admin) is where the admin HTTP server listens: ZooKeeper's
	// AdminServer commands under /commands, Prometheus metrics under
	// /metrics (docs/operations.md). "" = no admin server.
	Admin string
	// ClientTLS (client_tls) is a second client listener speaking TLS,
	// ZooKeeper's secureClientPort, with tls_cert and tls_key; client
	// certificates signed by [cluster] tls_ca authenticate as x509
	// (docs/operations.md, "Client TLS"). "" = none.
	ClientTLS string

	// DataDir holds snapshots, epochs and a LOCK file (and the log unless
	// LogDir is another directory). Relative paths are relative to the
	// working directory of the process, not to the topology file.
	DataDir string
	// LogDir holds the transaction log, in its log/ subdirectory; it
	// defaults to DataDir.
	LogDir string
	// LogLevel is this server's log level (default info).
	LogLevel hclog.Level
}

// Role is what a node does in the deployment.
type Role uint8

// Roles. The zero value is not a valid role.
const (
	RoleVoter    Role = iota + 1 // runs ZAB in the primary site
	RoleObserver                 // replicates and serves, never votes
	RoleRelay                    // receives a remote site's stream and fans it out
)

// String returns the TOML spelling of r.
func (r Role) String() string {
	switch r {
	case RoleVoter:
		return "voter"
	case RoleObserver:
		return "observer"
	case RoleRelay:
		return "relay"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ParseRole parses the TOML spelling of a role.
func ParseRole(s string) (Role, error) {
	switch s {
	case "voter":
		return RoleVoter, nil
	case "observer":
		return RoleObserver, nil
	case "relay":
		return RoleRelay, nil
	}
	return 0, fmt.Errorf("unknown role %q (want voter, observer or relay)", s)
}

// parseLogLevel accepts the five levels the file allows, in any case.
func parseLogLevel(s string) (hclog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return hclog.Trace, nil
	case "debug":
		return hclog.Debug, nil
	case "info":
		return hclog.Info, nil
	case "warn":
		return hclog.Warn, nil
	case "error":
		return hclog.Error, nil
	}
	return hclog.NoLevel, fmt.Errorf("unknown log level %q (want trace, debug, info, warn or error)", s)
}

// Defaults that are not part of Cluster.
const (
	// DefaultClusterName is the cluster name when the file gives none.
	DefaultClusterName = "zoogate"
	// DefaultSiteName names the implicit primary site of a file without
	// [[site]] tables.
	DefaultSiteName = "primary"
	// MinNodeID and MaxNodeID bound node ids (ZooKeeper with extended types
	// keeps server ids in one byte and reserves 255).
	MinNodeID = 1
	MaxNodeID = 254
	// MinPacketSize is the smallest max_packet_size accepted.
	MinPacketSize = 1024
)

// KnownFourLetterWords lists every four-letter-word command a
// four_letter_words entry may name.
var KnownFourLetterWords = []string{
	"ruok", "srvr", "stat", "conf", "cons", "envi", "mntr", "wchs", "wchc",
	"wchp", "dump", "isro", "dirs", "crst", "srst", "gtmk", "stmk", "hash",
	"gsip", // zoogate's: the live view of the gossip pools (zoogate members)
}

// DefaultFourLetterWords are the commands enabled when the file does not say.
var DefaultFourLetterWords = []string{"ruok", "srvr", "stat", "mntr", "conf", "envi", "isro", "gsip"}

// DefaultClusterConfig returns the [cluster] settings used for every key a
// file leaves out. They are the server's defaults (core/server's
// DefaultConfig, core/zab's for init_limit and sync_limit), held here too
// because topology imports no zoogate package; cmd/zoogate's
// TestTopologyDefaultsMatchServer keeps the two equal.
func DefaultClusterConfig() Cluster {
	const tick = 2 * time.Second
	return Cluster{
		Name:                   DefaultClusterName,
		Tick:                   tick,
		InitLimit:              10,
		SyncLimit:              5,
		MinSessionTimeout:      2 * tick,
		MaxSessionTimeout:      20 * tick,
		MaxClientCnxns:         60,
		MaxPacketSize:          1048575,
		FourLetterWords:        append([]string(nil), DefaultFourLetterWords...),
		TTLNodes:               false,
		ContainerCheckInterval: 60 * time.Second,
		ContainerMaxPerMinute:  10000,
		ContainerMaxNeverUsed:  0,
		SnapCount:              100000,
		SnapRetainCount:        3,
		PurgeInterval:          time.Hour,
		GlobalOutstandingLimit: 1000,
		RelayUpstream:          RelayFollowsLeader,
		ReadOnly:               true,
		LocalSessions:          true,
		RemoteSessionHold:      10 * time.Minute,
		LeaderWait:             4 * time.Second,
	}
}

// FourLetterWordEnabled reports whether the command cmd (e.g. "ruok") is
// enabled by FourLetterWords.
func (c *Cluster) FourLetterWordEnabled(cmd string) bool {
	for _, w := range c.FourLetterWords {
		if w == "*" || w == cmd {
			return true
		}
	}
	return false
}

// Standalone returns the profile of a single voter (id 1) in the implicit
// primary site, serving clients on clientAddr and keeping its data in
// dataDir, with default cluster settings: the same settings `zoogate serve`
// runs without a --config (it starts from the server's DefaultConfig; a
// test in cmd/zoogate checks that the two agree).
func Standalone(clientAddr, dataDir string) *File {
	c := DefaultClusterConfig()
	c.Name = "standalone"
	return &File{
		Cluster: c,
		Sites:   []Site{{Name: DefaultSiteName, Primary: true}},
		Nodes: []Node{{
			ID:       1,
			Site:     DefaultSiteName,
			Role:     RoleVoter,
			Client:   clientAddr,
			DataDir:  dataDir,
			LogDir:   dataDir,
			LogLevel: hclog.Info,
		}},
	}
}
