package main

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/topology"
)

// topology may import no zoogate package and core never imports topology,
// so the defaults and bounds live twice: in topology (the file's defaults)
// and in core/server (DefaultConfig, Validate). These tests, in the one
// package that imports both, keep the two from ever disagreeing.

// minimalFile is a valid file that sets nothing it does not have to.
func minimalFile(t *testing.T) *topology.File {
	t.Helper()
	f, err := topology.Parse([]byte("[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n"), "min.toml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// nodeFields are the server fields a topology node (or the binary's flags)
// sets, not cluster defaults.
var nodeFields = map[string]bool{"ServerID": true, "ClientAddr": true, "DataDir": true, "LogDir": true,
	"SessionSecretFile": true, "SessionSecret": true, "Cluster": true}

// TestTopologyDefaultsMatchServer: a file that leaves every [cluster] key
// out, mapped onto the server's config, gives server.DefaultConfig() in
// every field the file could have set; so does topology.Standalone.
func TestTopologyDefaultsMatchServer(t *testing.T) {
	def := server.DefaultConfig()
	for name, f := range map[string]*topology.File{"minimal file": minimalFile(t), "Standalone": topology.Standalone("127.0.0.1:2181", "d")} {
		got := serverConfig(f, &f.Nodes[0])
		gv, dv := reflect.ValueOf(got), reflect.ValueOf(def)
		for i := 0; i < gv.NumField(); i++ {
			field := gv.Type().Field(i).Name
			switch {
			case nodeFields[field]:
			case field == "MinSessionTimeout" || field == "MaxSessionTimeout":
				// The server derives them from Tick when 0; the file, when absent.
				gmin, gmax := got.SessionTimeouts()
				dmin, dmax := def.SessionTimeouts()
				if gmin != dmin || gmax != dmax {
					t.Errorf("%s: session timeouts %v..%v, server defaults %v..%v", name, gmin, gmax, dmin, dmax)
				}
			case !reflect.DeepEqual(gv.Field(i).Interface(), dv.Field(i).Interface()):
				t.Errorf("%s: %s = %v from the topology defaults, %v in server.DefaultConfig", name, field, gv.Field(i).Interface(), dv.Field(i).Interface())
			}
		}
		if got.ServerID != def.ServerID || got.LogDir != "" {
			t.Errorf("%s: ServerID %d LogDir %q", name, got.ServerID, got.LogDir)
		}
	}
	// Cluster timing: the file's defaults are zab's.
	tc, zc := topology.DefaultClusterConfig(), zab.DefaultConfig()
	if tc.InitLimit != zc.InitLimit || tc.SyncLimit != zc.SyncLimit {
		t.Errorf("init/sync limits %d/%d in topology, %d/%d in zab", tc.InitLimit, tc.SyncLimit, zc.InitLimit, zc.SyncLimit)
	}
	// The same four-letter words exist and are on by default.
	if !slices.Equal(topology.KnownFourLetterWords, server.AllFourLetterWords) {
		t.Errorf("four-letter words: topology knows %v, the server %v", topology.KnownFourLetterWords, server.AllFourLetterWords)
	}
	if !slices.Equal(topology.DefaultFourLetterWords, server.DefaultFourLetterWords) {
		t.Errorf("default four-letter words: topology %v, server %v", topology.DefaultFourLetterWords, server.DefaultFourLetterWords)
	}
	if topology.MinNodeID != server.MinServerID || topology.MaxNodeID != server.MaxServerID || topology.MinPacketSize != server.MinPacketSize {
		t.Errorf("bounds differ: ids %d..%d vs %d..%d, packet size %d vs %d", topology.MinNodeID, topology.MaxNodeID,
			server.MinServerID, server.MaxServerID, topology.MinPacketSize, server.MinPacketSize)
	}
}

// TestTopologyBoundsMatchServer: at each bound, topology's Validate and the
// server's Validate (on the mapped config) accept and refuse the same
// values. (A 0 session timeout is the one deliberate difference: the server
// reads it as "derive from Tick", which the file does before mapping.)
func TestTopologyBoundsMatchServer(t *testing.T) {
	digest := "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
	cases := []struct {
		name string
		set  func(c *topology.Cluster, n *topology.Node)
		ok   bool
	}{
		{"defaults", func(*topology.Cluster, *topology.Node) {}, true},
		{"id 0", func(_ *topology.Cluster, n *topology.Node) { n.ID = 0 }, false},
		{"id 1", func(_ *topology.Cluster, n *topology.Node) { n.ID = 1 }, true},
		{"id 254", func(_ *topology.Cluster, n *topology.Node) { n.ID = 254 }, true},
		{"id 255", func(_ *topology.Cluster, n *topology.Node) { n.ID = 255 }, false},
		{"tick 0", func(c *topology.Cluster, _ *topology.Node) { c.Tick = 0 }, false},
		{"tick 1ms", func(c *topology.Cluster, _ *topology.Node) { c.Tick = time.Millisecond }, true},
		{"negative min session timeout", func(c *topology.Cluster, _ *topology.Node) { c.MinSessionTimeout = -time.Second }, false},
		{"negative max session timeout", func(c *topology.Cluster, _ *topology.Node) { c.MaxSessionTimeout = -time.Second }, false},
		{"min above max session timeout", func(c *topology.Cluster, _ *topology.Node) {
			c.MinSessionTimeout, c.MaxSessionTimeout = time.Minute, time.Second
		}, false},
		{"max_client_cnxns -1", func(c *topology.Cluster, _ *topology.Node) { c.MaxClientCnxns = -1 }, false},
		{"max_client_cnxns 0", func(c *topology.Cluster, _ *topology.Node) { c.MaxClientCnxns = 0 }, true},
		{"max_packet_size 1023", func(c *topology.Cluster, _ *topology.Node) { c.MaxPacketSize = 1023 }, false},
		{"max_packet_size 1024", func(c *topology.Cluster, _ *topology.Node) { c.MaxPacketSize = 1024 }, true},
		{"max_packet_size 2^31-1", func(c *topology.Cluster, _ *topology.Node) { c.MaxPacketSize = math.MaxInt32 }, true},
		{"max_packet_size 2^31", func(c *topology.Cluster, _ *topology.Node) { c.MaxPacketSize = math.MaxInt32 + 1 }, false},
		{"four_letter_words unknown", func(c *topology.Cluster, _ *topology.Node) { c.FourLetterWords = []string{"nope"} }, false},
		{"four_letter_words all", func(c *topology.Cluster, _ *topology.Node) { c.FourLetterWords = []string{"*"} }, true},
		{"four_letter_words none", func(c *topology.Cluster, _ *topology.Node) { c.FourLetterWords = []string{} }, true},
		{"super_digest valid", func(c *topology.Cluster, _ *topology.Node) { c.SuperDigest = digest }, true},
		{"super_digest other user", func(c *topology.Cluster, _ *topology.Node) { c.SuperDigest = "root:D/InIHSb7yEEbrWz8b9l71RjZJU=" }, false},
		{"super_digest short", func(c *topology.Cluster, _ *topology.Node) { c.SuperDigest = "super:abc" }, false},
		{"super_digest not base64", func(c *topology.Cluster, _ *topology.Node) { c.SuperDigest = "super:!!!!!!!!!!!!!!!!!!!!!!!!!!!!" }, false},
		{"container_check_interval 0", func(c *topology.Cluster, _ *topology.Node) { c.ContainerCheckInterval = 0 }, false},
		{"container_check_interval 1ms", func(c *topology.Cluster, _ *topology.Node) { c.ContainerCheckInterval = time.Millisecond }, true},
		{"container_max_per_minute 0", func(c *topology.Cluster, _ *topology.Node) { c.ContainerMaxPerMinute = 0 }, false},
		{"container_max_per_minute 1", func(c *topology.Cluster, _ *topology.Node) { c.ContainerMaxPerMinute = 1 }, true},
		{"container_max_never_used -1ns", func(c *topology.Cluster, _ *topology.Node) { c.ContainerMaxNeverUsed = -1 }, false},
		{"container_max_never_used 0", func(c *topology.Cluster, _ *topology.Node) { c.ContainerMaxNeverUsed = 0 }, true},
		{"snap_count 1", func(c *topology.Cluster, _ *topology.Node) { c.SnapCount = 1 }, false},
		{"snap_count 2", func(c *topology.Cluster, _ *topology.Node) { c.SnapCount = 2 }, true},
		{"snap_retain_count 2", func(c *topology.Cluster, _ *topology.Node) { c.SnapRetainCount = 2 }, false},
		{"snap_retain_count 3", func(c *topology.Cluster, _ *topology.Node) { c.SnapRetainCount = 3 }, true},
		{"purge_interval -1ns", func(c *topology.Cluster, _ *topology.Node) { c.PurgeInterval = -1 }, false},
		{"purge_interval 0", func(c *topology.Cluster, _ *topology.Node) { c.PurgeInterval = 0 }, true},
		{"global_outstanding_limit 0", func(c *topology.Cluster, _ *topology.Node) { c.GlobalOutstandingLimit = 0 }, false},
		{"global_outstanding_limit 1", func(c *topology.Cluster, _ *topology.Node) { c.GlobalOutstandingLimit = 1 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := minimalFile(t)
			tc.set(&f.Cluster, &f.Nodes[0])
			cfg := serverConfig(f, &f.Nodes[0])
			terr, serr := f.Validate(), cfg.Validate()
			if (terr == nil) != tc.ok || (serr == nil) != tc.ok {
				t.Fatalf("want ok=%v; topology: %v; server: %v", tc.ok, terr, serr)
			}
		})
	}
}

// TestServerConfigLogDir: a node's log_dir maps onto server.Config.LogDir,
// and when it is the data dir (the file's default) it is left to follow
// DataDir, so that --data-dir moves the log too.
func TestServerConfigLogDir(t *testing.T) {
	f, err := topology.Parse([]byte("[[node]]\nid = 1\nrole = \"observer\"\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d1\"\n"+
		"[[node]]\nid = 2\nclient = \"127.0.0.1:2182\"\npeer = \"127.0.0.1:2888\"\ndata_dir = \"d2\"\nlog_dir = \"/fast/l2\"\n"), "l.toml")
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := serverConfig(f, &f.Nodes[0]), serverConfig(f, &f.Nodes[1])
	if c1.LogDir != "" || c1.LogSegmentDir() != "d1/log" {
		t.Errorf("node 1: LogDir %q, log in %q; want the data dir's log/", c1.LogDir, c1.LogSegmentDir())
	}
	c1.DataDir = "elsewhere" // --data-dir
	if c1.LogSegmentDir() != "elsewhere/log" {
		t.Errorf("after --data-dir the log is in %q", c1.LogSegmentDir())
	}
	if c2.LogDir != "/fast/l2" || c2.LogSegmentDir() != "/fast/l2/log" || c2.SnapDir() != "d2/snap" {
		t.Errorf("node 2: LogDir %q, log in %q, snapshots in %q", c2.LogDir, c2.LogSegmentDir(), c2.SnapDir())
	}
}
