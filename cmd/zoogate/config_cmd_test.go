package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/topology"
)

// twoSites is a topology with three voters and two remote sites, each with
// a relay; relayUpstream goes into [cluster].
func twoSites(t *testing.T, relayUpstream string) *topology.File {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"x\"\ntls_ca = \"ca.crt\"\n%s\n", relayUpstream)
	b.WriteString("[[site]]\nname = \"p\"\nprimary = true\n[[site]]\nname = \"eu\"\n[[site]]\nname = \"us\"\n")
	for id := 1; id <= 5; id++ {
		site, role := "p", "voter"
		switch id {
		case 4:
			site, role = "eu", "relay"
		case 5:
			site, role = "us", "relay"
		}
		fmt.Fprintf(&b, "[[node]]\nid = %d\nsite = %q\nrole = %q\nclient = \"127.0.0.1:%d\"\npeer = \"127.0.0.1:%d\"\nwan = \"127.0.0.1:%d\"\ntls_cert = \"c\"\ntls_key = \"k\"\ndata_dir = \"d%d\"\n",
			id, site, role, 2180+id, 2880+id, 4180+id, id)
		if role == "voter" {
			fmt.Fprintf(&b, "election = \"127.0.0.1:%d\"\n", 3880+id)
		}
	}
	f, err := topology.Parse([]byte(b.String()), "two-sites.toml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func nodeOf(t *testing.T, f *topology.File, id uint64) *topology.Node {
	t.Helper()
	n, err := f.SelectNode(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClusterConfigRelayUpstream: by default relays follow the leader the
// election finds and voters serve no observers; with relay_upstream =
// "follower" every voter serves relays and the k-th relay starts at the
// (k+1)-th voter, then the others in turn, then the election.
func TestClusterConfigRelayUpstream(t *testing.T) {
	for _, mode := range []string{"", `relay_upstream = "leader"`} {
		f := twoSites(t, mode)
		if cc := clusterConfig(f, nodeOf(t, f, 1)); cc.ServeLearners {
			t.Errorf("%q: a voter serves learners", mode)
		}
		if cc := clusterConfig(f, nodeOf(t, f, 4)); cc.Upstream != 0 || cc.FallbackToPrimary || len(cc.Fallbacks) > 0 || !cc.ServeLearners {
			t.Errorf("%q: relay 4: upstream %d fallbacks %v toPrimary %v serve %v", mode, cc.Upstream, cc.Fallbacks, cc.FallbackToPrimary, cc.ServeLearners)
		}
	}
	f := twoSites(t, `relay_upstream = "follower"`)
	for id := uint64(1); id <= 3; id++ {
		if cc := clusterConfig(f, nodeOf(t, f, id)); !cc.ServeLearners {
			t.Errorf("voter %d does not serve learners", id)
		}
	}
	for _, tc := range []struct {
		id        uint64
		upstream  uint64
		fallbacks []uint64
	}{{4, 2, []uint64{3, 1}}, {5, 3, []uint64{1, 2}}} {
		cc := clusterConfig(f, nodeOf(t, f, tc.id))
		if cc.Upstream != tc.upstream || !slices.Equal(cc.Fallbacks, tc.fallbacks) || !cc.FallbackToPrimary || !cc.Observer {
			t.Errorf("relay %d: upstream %d fallbacks %v toPrimary %v, want %d %v true", tc.id, cc.Upstream, cc.Fallbacks, cc.FallbackToPrimary, tc.upstream, tc.fallbacks)
		}
	}
}

// TestClusterConfigReadOnly: read_only and read_only_max_staleness reach
// the server, a site's value overriding the cluster's.
func TestClusterConfigReadOnly(t *testing.T) {
	f := twoSites(t, "read_only_max_staleness = \"5m\"")
	f.Sites[1].ReadOnlyMaxStaleness = new(time.Duration) // eu: unbounded
	if cc := clusterConfig(f, nodeOf(t, f, 1)); !cc.ReadOnly || cc.ReadOnlyMaxStaleness != 5*time.Minute {
		t.Errorf("voter: read-only %v, max staleness %v", cc.ReadOnly, cc.ReadOnlyMaxStaleness)
	}
	if cc := clusterConfig(f, nodeOf(t, f, 4)); cc.ReadOnlyMaxStaleness != 0 {
		t.Errorf("relay of eu: max staleness %v, want the site's 0", cc.ReadOnlyMaxStaleness)
	}
	if cc := clusterConfig(f, nodeOf(t, f, 5)); cc.ReadOnlyMaxStaleness != 5*time.Minute {
		t.Errorf("relay of us: max staleness %v, want the cluster's", cc.ReadOnlyMaxStaleness)
	}
	off := twoSites(t, "read_only = false")
	if cc := clusterConfig(off, nodeOf(t, off, 4)); cc.ReadOnly {
		t.Error("read_only = false did not reach the server")
	}
}

// TestClusterConfigRemoteSessionHold: remote_session_hold reaches the
// servers, 10 minutes by default, "0s" turning it off; a negative one is
// refused naming the key.
func TestClusterConfigRemoteSessionHold(t *testing.T) {
	def := twoSites(t, "")
	if cc := clusterConfig(def, nodeOf(t, def, 1)); cc.RemoteSessionHold != 10*time.Minute {
		t.Errorf("default hold %v, want 10m", cc.RemoteSessionHold)
	}
	off := twoSites(t, "remote_session_hold = \"0s\"")
	if cc := clusterConfig(off, nodeOf(t, off, 1)); cc.RemoteSessionHold != 0 {
		t.Errorf("hold %v with \"0s\"", cc.RemoteSessionHold)
	}
}
