package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// Config is one server's settings. The topology file is mapped onto it by
// the binary; tests build it directly from DefaultConfig.
type Config struct {
	ServerID          int64  // 1..254; standalone uses 1
	ClientAddr        string // host:port for clients
	DataDir           string // where durable state lives; "" keeps everything in memory (tests)
	FS                vfs.FS // file system under DataDir; nil = the real one
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
	SessionSecret     string // keys session passwords; "" = built-in default

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
}

// AllFourLetterWords lists every supported four-letter word.
var AllFourLetterWords = []string{"ruok", "srvr", "stat", "conf", "cons", "envi", "mntr", "wchs", "wchc", "wchp", "dump", "isro", "dirs", "crst", "srst", "gtmk", "stmk", "hash"}

// DefaultFourLetterWords is the default whitelist: the read-only status
// commands that do not list sessions, paths or connections.
var DefaultFourLetterWords = []string{"ruok", "srvr", "stat", "mntr", "conf", "envi", "isro"}

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

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid server config")

// Validate reports every problem at once, naming the field.
func (c *Config) Validate() error {
	var probs []string
	add := func(field, format string, a ...any) {
		probs = append(probs, field+": "+fmt.Sprintf(format, a...))
	}
	if c.ServerID < 1 || c.ServerID > 254 {
		add("ServerID", "must be in 1..254, got %d", c.ServerID)
	}
	if _, _, err := net.SplitHostPort(c.ClientAddr); err != nil {
		add("ClientAddr", "%v", err)
	}
	if c.Tick <= 0 {
		add("Tick", "must be positive, got %v", c.Tick)
	}
	if c.MinSessionTimeout < 0 || c.MaxSessionTimeout < 0 {
		add("SessionTimeout", "must not be negative")
	}
	if min, max := c.SessionTimeouts(); c.Tick > 0 && min > max {
		add("MinSessionTimeout", "%v is above MaxSessionTimeout %v", min, max)
	}
	if c.MaxClientCnxns < 0 {
		add("MaxClientCnxns", "must not be negative, got %d", c.MaxClientCnxns)
	}
	if c.MaxPacketSize < 1024 {
		add("MaxPacketSize", "must be at least 1024, got %d", c.MaxPacketSize)
	}
	for _, w := range c.FourLetterWords {
		if w != "*" && !isFourLetterWord(w) {
			add("FourLetterWords", "unknown command %q", w)
		}
	}
	if c.SuperDigest != "" {
		if user, hash, ok := strings.Cut(c.SuperDigest, ":"); !ok || user == "" || len(hash) != 28 {
			add("SuperDigest", "must look like super:<28-char base64 SHA-1>")
		}
	}
	if c.ContainerCheckInterval <= 0 {
		add("ContainerCheckInterval", "must be positive, got %v", c.ContainerCheckInterval)
	}
	if c.ContainerMaxPerMinute <= 0 {
		add("ContainerMaxPerMinute", "must be positive, got %d", c.ContainerMaxPerMinute)
	}
	if c.DataDir != "" {
		if err := c.Log.Validate(); err != nil {
			add("Log", "%v", err)
		}
	}
	if c.SnapCount < 2 {
		add("SnapCount", "must be at least 2, got %d", c.SnapCount)
	}
	if c.SnapRetainCount < 1 {
		add("SnapRetainCount", "must be at least 1, got %d", c.SnapRetainCount)
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
		if _, ok := cc.Peers[uint64(c.ServerID)]; cc.Transport == nil && !ok {
			add("Cluster.Peers", "has no peer address for this server's id %d", c.ServerID)
		}
		found := false
		for _, v := range cc.Voters {
			found = found || int64(v) == c.ServerID
		}
		if !found {
			add("Cluster.Voters", "must include this server's id %d (observers are not supported yet)", c.ServerID)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalidConfig, strings.Join(probs, "\n  "))
	}
	return nil
}

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
