package server

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// Config is one server's settings. The topology file is mapped onto it by
// the binary; tests build it directly from DefaultConfig.
//
// On disk (docs/storage.md): snapshots in <DataDir>/snap, the ZAB epoch
// files in <DataDir>, the transaction log in <LogDir>/log (LogDir defaults
// to DataDir; point it at another disk for fsync latency), and a LOCK file
// in DataDir, and in LogDir when it is another directory, held while the
// server runs.
type Config struct {
	ServerID          uint64 // 1..254; standalone uses 1
	ClientAddr        string // host:port for clients
	DataDir           string // snapshots, epoch files, LOCK; "" keeps everything in memory (tests)
	LogDir            string // holds log/, the transaction log (and its own LOCK); "" = DataDir
	FS                vfs.FS // file system under DataDir and LogDir; nil = the real one
	Log               storage.LogConfig
	SnapCount         int           // transactions between snapshots (with jitter, as ZooKeeper)
	SnapRetainCount   int           // snapshots kept by the purge (their logs too)
	PurgeInterval     time.Duration // how often old snapshots and logs are purged; 0 = never
	Recover           bool          // fall back to an older snapshot when the newest is corrupt
	Tick              time.Duration // ZooKeeper's tickTime
	MinSessionTimeout time.Duration // 0 = 2 × Tick
	MaxSessionTimeout time.Duration // 0 = 20 × Tick
	MaxClientCnxns    int           // per client IP; 0 = unlimited
	MaxPacketSize     int           // jute.maxbuffer
	FourLetterWords   []string      // whitelist; "*" = all
	SuperDigest       string        // "super:<base64 sha1>" or ""
	TTLNodes          bool          // extendedTypesEnabled
	SkipACL           bool
	// SessionSecretFile ([cluster] session_secret_file) holds the secret
	// that keys session passwords: 64+ hex digits (ParseSessionSecret).
	// When it and SessionSecret are empty, the voters agree on a random
	// secret through the replicated state (secret.go).
	SessionSecretFile string
	SessionSecret     string // a secret given in code (tests, embedding); "" = none
	// AdminAddr (a node's admin key) is where the admin HTTP server
	// listens: ZooKeeper's AdminServer commands and Prometheus metrics
	// (admin.go, docs/operations.md); "" = no admin server.
	AdminAddr string
	// AdminTokenFile ([cluster] admin_token_file) holds the bearer token
	// the admin server asks for on the commands that list sessions, paths
	// or connections; AdminToken is one given in code. Both "" = no token.
	AdminTokenFile string
	AdminToken     string
	// AdminExtra mounts more handlers on the admin server, by URL pattern
	// (cmd/zoogate's drill fault endpoint, /drill/wan); each handler checks
	// its own methods. With an admin token, they all ask for it.
	AdminExtra map[string]http.Handler
	// ClientTLSAddr (a node's client_tls key, ZooKeeper's
	// secureClientPort) is a second client listener speaking TLS 1.2+
	// (tls.go); "" = none. It needs ClientTLS, or the three PEM files
	// TLSCert, TLSKey and TLSCA (a node's tls_cert and tls_key, the
	// deployment's [cluster] tls_ca). A client certificate that verifies
	// against the CA authenticates the connection as x509:<subject DN>.
	ClientTLSAddr          string
	TLSCert, TLSKey, TLSCA string
	ClientTLS              *tls.Config // given in code (tests, embedding); overrides the files
	// Deployment describes the deployment's sites and nodes for the admin
	// server's topology command; nil = what Cluster tells.
	Deployment *Deployment

	ContainerCheckInterval time.Duration
	ContainerMaxPerMinute  int
	ContainerMaxNeverUsed  time.Duration // 0 = never delete never-used containers

	GlobalOutstandingLimit int

	// Cluster, when set, makes this server a voter of a replicated
	// ensemble instead of a standalone server.
	Cluster *ClusterConfig
	// MaxOutboundBytes bounds what may wait to be written to one client; a
	// client that stops reading is disconnected past it. 0 = 64 MiB.
	MaxOutboundBytes int
	// GossipView, when set, renders the live view of the gossip pools as
	// JSON for the gsip four-letter word (cmd/zoogate sets it; core never
	// sees the pools).
	GossipView func() []byte
}

// AllFourLetterWords lists every supported four-letter word.
var AllFourLetterWords = []string{"ruok", "srvr", "stat", "conf", "cons", "envi", "mntr", "wchs", "wchc", "wchp", "dump", "isro", "dirs", "crst", "srst", "gtmk", "stmk", "hash", "gsip"}

// DefaultFourLetterWords is the default whitelist: the read-only status
// commands that do not list sessions, paths or connections.
var DefaultFourLetterWords = []string{"ruok", "srvr", "stat", "mntr", "conf", "envi", "isro", "gsip"}

// DefaultConfig is a standalone server on 127.0.0.1:2181 with data in ./data
// and ZooKeeper's sample settings (tickTime 2000).
func DefaultConfig() Config {
	return Config{
		ServerID:               1,
		ClientAddr:             "127.0.0.1:2181",
		DataDir:                "data",
		Tick:                   2 * time.Second,
		Log:                    storage.DefaultLogConfig(),
		SnapCount:              100000,
		SnapRetainCount:        3,
		PurgeInterval:          time.Hour,
		MaxClientCnxns:         60,
		MaxPacketSize:          0xfffff,
		FourLetterWords:        append([]string(nil), DefaultFourLetterWords...),
		ContainerCheckInterval: time.Minute,
		ContainerMaxPerMinute:  10000,
		GlobalOutstandingLimit: 1000,
	}
}

// Bounds Validate checks. The topology file's checks are the same (a test
// in cmd/zoogate keeps the two in step).
const (
	MinServerID        = 1
	MaxServerID        = 254 // ZooKeeper with extended types keeps it in one byte, 255 reserved
	MinPacketSize      = 1024
	MinSnapCount       = 2
	MinSnapRetainCount = 3 // ZooKeeper's autopurge.snapRetainCount minimum
)

// ErrInvalidConfig is matched by every problem Validate reports.
var ErrInvalidConfig = errors.New("server: invalid config")

// FieldError is one problem Validate found, naming the field. It matches
// ErrInvalidConfig.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("server: config %s: %s", e.Field, e.Problem) }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every problem at once (errors.Join of *FieldError
// values, each matching ErrInvalidConfig). Problems of Log are reported as
// fields "Log.<name>".
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, a...)})
	}
	if c.ServerID < MinServerID || c.ServerID > MaxServerID {
		add("ServerID", "must be in %d..%d, got %d", MinServerID, MaxServerID, c.ServerID)
	}
	if _, _, err := net.SplitHostPort(c.ClientAddr); err != nil {
		add("ClientAddr", "%v", err)
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			add("AdminAddr", "%v", err)
		}
	}
	c.validateClientTLS(add)
	if c.AdminTokenFile != "" && c.AdminToken != "" {
		add("AdminToken", "set together with AdminTokenFile; set one")
	}
	if c.Tick <= 0 {
		add("Tick", "must be positive, got %v", c.Tick)
	}
	if c.MinSessionTimeout < 0 {
		add("MinSessionTimeout", "must not be negative (0 = 2 × Tick), got %v", c.MinSessionTimeout)
	}
	if c.MaxSessionTimeout < 0 {
		add("MaxSessionTimeout", "must not be negative (0 = 20 × Tick), got %v", c.MaxSessionTimeout)
	}
	if min, max := c.SessionTimeouts(); c.Tick > 0 && min > max {
		add("MinSessionTimeout", "%v is above MaxSessionTimeout %v", min, max)
	}
	if c.MaxClientCnxns < 0 {
		add("MaxClientCnxns", "must not be negative, got %d", c.MaxClientCnxns)
	}
	if c.MaxPacketSize < MinPacketSize || c.MaxPacketSize > math.MaxInt32 {
		add("MaxPacketSize", "must be in %d..%d, got %d", MinPacketSize, math.MaxInt32, c.MaxPacketSize)
	}
	for _, w := range c.FourLetterWords {
		if w != "*" && !isFourLetterWord(w) {
			add("FourLetterWords", "unknown command %q", w)
		}
	}
	if c.SuperDigest != "" {
		digest, ok := strings.CutPrefix(c.SuperDigest, "super:")
		if raw, err := base64.StdEncoding.DecodeString(digest); !ok || len(digest) != 28 || err != nil || len(raw) != 20 {
			add("SuperDigest", "must look like super:<28-char base64 SHA-1 digest>")
		}
	}
	if c.ContainerCheckInterval <= 0 {
		add("ContainerCheckInterval", "must be positive, got %v", c.ContainerCheckInterval)
	}
	if c.ContainerMaxPerMinute <= 0 {
		add("ContainerMaxPerMinute", "must be positive, got %d", c.ContainerMaxPerMinute)
	}
	if c.ContainerMaxNeverUsed < 0 {
		add("ContainerMaxNeverUsed", "must not be negative (0 = never), got %v", c.ContainerMaxNeverUsed)
	}
	if c.DataDir != "" {
		var fe *storage.FieldError
		for _, err := range unjoin(c.Log.Validate()) {
			if errors.As(err, &fe) {
				add("Log."+fe.Field, "%s", fe.Problem)
			} else {
				add("Log", "%v", err)
			}
		}
	}
	if c.DataDir == "" && c.LogDir != "" {
		add("LogDir", "is set but DataDir is empty (a server without a data directory keeps nothing on disk)")
	}
	if c.SnapCount < MinSnapCount {
		add("SnapCount", "must be at least %d, got %d", MinSnapCount, c.SnapCount)
	}
	if c.SnapRetainCount < MinSnapRetainCount {
		add("SnapRetainCount", "must be at least %d, got %d", MinSnapRetainCount, c.SnapRetainCount)
	}
	if c.PurgeInterval < 0 {
		add("PurgeInterval", "must not be negative, got %v", c.PurgeInterval)
	}
	if c.GlobalOutstandingLimit <= 0 {
		add("GlobalOutstandingLimit", "must be positive, got %d", c.GlobalOutstandingLimit)
	}
	if cc := c.Cluster; cc != nil {
		if c.DataDir == "" {
			add("DataDir", "a cluster member needs a data directory")
		}
		_, hasPeer := cc.Peers[c.ServerID]
		voter := slices.Contains(cc.Voters, c.ServerID)
		switch {
		case cc.Observer && voter:
			add("Cluster.Voters", "includes this server's id %d, but it is an observer", c.ServerID)
		case !cc.Observer && !voter:
			add("Cluster.Voters", "must include this server's id %d (or set Observer)", c.ServerID)
		case !cc.Observer && cc.Transport == nil && !hasPeer:
			add("Cluster.Peers", "has no peer address for this server's id %d", c.ServerID)
		}
		if cc.Upstream != 0 && !cc.Observer {
			add("Cluster.Upstream", "only an observer follows an upstream; voters follow the elected leader")
		}
		if (len(cc.Fallbacks) > 0 || cc.FallbackToPrimary) && cc.Upstream == 0 {
			add("Cluster.Fallbacks", "need an Upstream to fall back from")
		}
		if slices.Contains(cc.Fallbacks, c.ServerID) || slices.Contains(cc.Fallbacks, 0) {
			add("Cluster.Fallbacks", "must not list 0 or this server's own id %d", c.ServerID)
		}
		if cc.Upstream == c.ServerID && cc.Upstream != 0 {
			add("Cluster.Upstream", "a server cannot follow itself")
		}
	}
	return errors.Join(errs...)
}

// unjoin returns the errors an errors.Join holds (err itself otherwise).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// logDir returns the directory holding the log/ directory (LogDir, or
// DataDir by default).
func (c *Config) logDir() string {
	if c.LogDir == "" {
		return c.DataDir
	}
	return c.LogDir
}

// separateLogDir reports whether the log lives outside DataDir's own
// directory (then it is locked too).
func (c *Config) separateLogDir() bool {
	return filepath.Clean(c.logDir()) != filepath.Clean(c.DataDir)
}

// LogSegmentDir returns the directory of the transaction log's segment
// files: <LogDir>/log, or <DataDir>/log when LogDir is "". The storage
// tools (zoogate log dump) read it.
func (c *Config) LogSegmentDir() string { return filepath.Join(c.logDir(), "log") }

// SnapDir returns the directory of the snapshots: <DataDir>/snap.
func (c *Config) SnapDir() string { return filepath.Join(c.DataDir, "snap") }

// SessionTimeouts returns the effective min and max session timeouts.
func (c *Config) SessionTimeouts() (time.Duration, time.Duration) {
	min, max := c.MinSessionTimeout, c.MaxSessionTimeout
	if min == 0 {
		min = 2 * c.Tick
	}
	if max == 0 {
		max = 20 * c.Tick
	}
	return min, max
}

func isFourLetterWord(w string) bool {
	for _, x := range AllFourLetterWords {
		if x == w {
			return true
		}
	}
	return false
}

func (c *Config) fourLetterAllowed(w string) bool {
	for _, x := range c.FourLetterWords {
		if x == "*" || x == w {
			return true
		}
	}
	return false
}
