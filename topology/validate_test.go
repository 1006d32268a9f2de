package topology

import (
	"errors"
	"strings"
	"testing"
)

// want is one expected problem: its key, its line and a piece of its message.
type want struct {
	key  string
	line int
	msg  string
}

// problemsOf parses src and returns the problems of the error.
func problemsOf(t *testing.T, src string) []*FieldError {
	t.Helper()
	f, err := Parse([]byte(src), "test.toml")
	if err == nil {
		t.Fatalf("Parse succeeded, want problems; file: %+v", f)
	}
	if f != nil {
		t.Errorf("Parse returned a File along with an error")
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("errors.Is(err, ErrInvalidConfig) = false for %v", err)
	}
	ps := FieldErrors(err)
	if len(ps) == 0 {
		t.Fatalf("error %T holds no *FieldError", err)
	}
	return ps
}

// expectProblems checks that got holds exactly the wanted problems, in order.
func expectProblems(t *testing.T, got []*FieldError, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d problems, want %d:", len(got), len(wants))
		for _, p := range got {
			t.Errorf("  %v", p)
		}
		return
	}
	for i, w := range wants {
		p := got[i]
		if p.Field != w.key || p.Line != w.line || !strings.Contains(p.Problem, w.msg) {
			t.Errorf("problem %d = {key %q line %d msg %q}, want {key %q line %d msg containing %q}",
				i, p.Field, p.Line, p.Problem, w.key, w.line, w.msg)
		}
		if p.File != "test.toml" {
			t.Errorf("problem %d: File = %q", i, p.File)
		}
		// The rendered error names the file, line and key.
		prefix := "test.toml:" + itoa(w.line) + ": " + w.key + ": "
		if w.line == 0 {
			prefix = "test.toml: " + w.key + ": "
		}
		if !strings.HasPrefix(p.Error(), prefix) {
			t.Errorf("problem %d: Error() = %q, want prefix %q", i, p.Error(), prefix)
		}
	}
}

// node1 is a minimal valid single voter, lines 1-4 of a file.
const node1 = `[[node]]
id = 1
client = "127.0.0.1:2181"
data_dir = "d1"
`

func TestValidationRules(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{"unknown top-level key", "clustr = 1\n" + node1,
			[]want{{"clustr", 1, `unknown key "clustr" (did you mean "cluster"?)`}}},
		{"unknown cluster key", "[cluster]\ntick = \"2s\"\ntcik = \"1s\"\n" + node1,
			[]want{{"cluster.tcik", 3, `unknown key "tcik" (did you mean "tick"?)`}}},
		{"unknown node key", node1 + "colour = \"red\"\n",
			[]want{{"node[0].colour", 5, `unknown key "colour"`}}},
		{"unknown site key", "[[site]]\nname = \"a\"\nprimary = true\nweight = 3\n" + node1,
			[]want{{"site[0].weight", 4, `unknown key "weight"`}}},
		{"integer as string", "[cluster]\ninit_limit = \"10\"\n" + node1,
			[]want{{"cluster.init_limit", 2, `must be an integer, got string "10"`}}},
		{"bool as string", "[cluster]\nttl_nodes = \"yes\"\n" + node1,
			[]want{{"cluster.ttl_nodes", 2, "must be true or false"}}},
		{"bad duration", "[cluster]\n\ntick = \"2 seconds\"\n" + node1,
			[]want{{"cluster.tick", 3, `invalid duration "2 seconds"`}}},
		{"duration as integer", "[cluster]\ntick = 2000\n" + node1,
			[]want{{"cluster.tick", 2, "must be a duration string"}}},
		{"zero tick", "[cluster]\ntick = \"0s\"\nmin_session_timeout = \"1s\"\nmax_session_timeout = \"2s\"\n" + node1,
			[]want{{"cluster.tick", 2, "must be a positive duration"}}},
		{"negative session timeout", "[cluster]\nmin_session_timeout = \"-1s\"\n" + node1,
			[]want{{"cluster.min_session_timeout", 2, "must be a positive duration"}}},
		{"min above max", "[cluster]\nmin_session_timeout = \"50s\"\nmax_session_timeout = \"30s\"\n" + node1,
			[]want{{"cluster.min_session_timeout", 2, "min_session_timeout (50s) is greater than max_session_timeout (30s)"}}},
		{"max below default min", "[cluster]\ntick = \"2s\"\nmax_session_timeout = \"3s\"\n" + node1,
			[]want{{"cluster.max_session_timeout", 3, "min_session_timeout (4s) is greater than max_session_timeout (3s)"}}},
		{"zero limits", "[cluster]\ninit_limit = 0\nsync_limit = -1\n" + node1,
			[]want{{"cluster.init_limit", 2, "must be at least 1"}, {"cluster.sync_limit", 3, "must be at least 1"}}},
		{"unknown relay_upstream", "[cluster]\nrelay_upstream = \"observer\"\n" + node1,
			[]want{{"cluster.relay_upstream", 2, `"observer", want "leader" or "follower"`}}},
		{"negative remote_session_hold", "[cluster]\nremote_session_hold = \"-1m\"\n" + node1,
			[]want{{"cluster.remote_session_hold", 2, "must not be negative"}}},
		{"negative max_client_cnxns", "[cluster]\nmax_client_cnxns = -1\n" + node1,
			[]want{{"cluster.max_client_cnxns", 2, "must be at least 0"}}},
		{"small max_packet_size", "[cluster]\nmax_packet_size = 1023\n" + node1,
			[]want{{"cluster.max_packet_size", 2, "must be in 1024.."}}},
		{"unknown four-letter word", "[cluster]\nfour_letter_words = [\"ruok\",\n  \"boom\"]\n" + node1,
			[]want{{"cluster.four_letter_words[1]", 3, `unknown four-letter word "boom"`}}},
		{"four-letter word not a string", "[cluster]\nfour_letter_words = [1]\n" + node1,
			[]want{{"cluster.four_letter_words[0]", 2, "must be a string, got integer 1"}}},
		{"super_digest without prefix", "[cluster]\nsuper_digest = \"root:D/InIHSb7yEEbrWz8b9l71RjZJU=\"\n" + node1,
			[]want{{"cluster.super_digest", 2, `must have the form "super:<base64 SHA-1 digest>"`}}},
		{"super_digest short", "[cluster]\nsuper_digest = \"super:abc\"\n" + node1,
			[]want{{"cluster.super_digest", 2, "must be 28 base64 characters, got 3"}}},
		{"super_digest not base64", "[cluster]\nsuper_digest = \"super:!!!!!!!!!!!!!!!!!!!!!!!!!!!!\"\n" + node1,
			[]want{{"cluster.super_digest", 2, "not the base64 of a 20-byte"}}},
		{"container and snapshot limits", "[cluster]\ncontainer_check_interval = \"0s\"\ncontainer_max_per_minute = 0\ncontainer_max_never_used = \"-1m\"\nsnap_count = 1\nsnap_retain_count = 2\npurge_interval = \"-1h\"\nglobal_outstanding_limit = 0\n" + node1,
			[]want{
				{"cluster.container_check_interval", 2, "must be a positive duration"},
				{"cluster.container_max_per_minute", 3, "must be at least 1"},
				{"cluster.container_max_never_used", 4, "must not be negative"},
				{"cluster.snap_count", 5, "must be at least 2"},
				{"cluster.snap_retain_count", 6, "must be at least 3"},
				{"cluster.purge_interval", 7, "must not be negative"},
				{"cluster.global_outstanding_limit", 8, "must be at least 1"},
			}},
		{"bad cluster name", "[cluster]\nname = \"my cluster\"\n" + node1,
			[]want{{"cluster.name", 2, `invalid name "my cluster"`}}},
		{"cluster not a table", "cluster = 3\n" + node1,
			[]want{{"cluster", 1, "must be a table"}}},
		{"node not an array of tables", "node = 5\n",
			[]want{{"node", 1, "must be an array of tables ([[node]])"}}}, // "no nodes" is not reported again
		{"no nodes", "[cluster]\nname = \"x\"\n",
			[]want{{"node", 0, "at least one [[node]] is required"}}},
		{"id missing", "[[node]]\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].id", 1, "is required (an integer in 1..254)"}}},
		{"id zero", "[[node]]\nid = 0\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].id", 2, "id 0 is out of range 1..254"}}},
		{"id too big", "[[node]]\nid = 255\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].id", 2, "id 255 is out of range 1..254"}}},
		{"duplicate id", node1 + "peer = \"127.0.0.1:2888\"\n\n[[node]]\nid = 1\nrole = \"observer\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"d2\"\n",
			[]want{{"node[1].id", 8, "duplicate id 1 (also node[0].id at line 2)"}}},
		{"client missing", "[[node]]\nid = 1\ndata_dir = \"d\"\n",
			[]want{{"node[0].client", 1, "is required (host:port)"}}},
		{"client without port", "[[node]]\nid = 1\nclient = \"127.0.0.1\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].client", 3, `"127.0.0.1" is not host:port (missing port in address)`}}},
		{"port out of range", "[[node]]\nid = 1\nclient = \"127.0.0.1:70000\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].client", 3, `port "70000" is not a number in 1..65535`}}},
		{"client without host", "[[node]]\nid = 1\nclient = \":2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].client", 3, "has no host"}}},
		{"IPv6 client", "[[node]]\nid = 1\nclient = \"[::1]:2181\"\ngossip = \"[::1]\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].gossip", 4, `"[::1]" is not host:port`}}},
		{"v4-mapped address is the same address", "[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\ngossip = \"[::ffff:127.0.0.1]:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].gossip", 4, "address 127.0.0.1:2181 is already used by node[0].client at line 3"}}},
		{"bad host name", "[[node]]\nid = 1\nclient = \"bad_host:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].client", 3, `host "bad_host" is neither an IP address nor a valid host name`}}},
		{"wildcard peer", node1 + "peer = \"0.0.0.0:2888\"\n",
			[]want{{"node[0].peer", 5, "wildcard address"}}},
		{"duplicate address across nodes", node1 + "gossip = \"127.0.0.1:7946\"\npeer = \"127.0.0.1:2888\"\n\n[[node]]\nid = 2\nrole = \"observer\"\nclient = \"127.0.0.1:7946\"\ndata_dir = \"d2\"\n",
			[]want{{"node[1].client", 11, "address 127.0.0.1:7946 is already used by node[0].gossip at line 5"}}},
		{"duplicate address within a node", "[[node]]\nid = 1\nclient = \"localhost:2181\"\ngossip = \"LOCALHOST:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].gossip", 4, "address localhost:2181 is already used by node[0].client at line 3"}}},
		{"data_dir missing", "[[node]]\nid = 1\nclient = \"127.0.0.1:2181\"\n",
			[]want{{"node[0].data_dir", 1, "is required"}}},
		{"shared data_dir on one host", node1 + "peer = \"127.0.0.1:2888\"\n\n[[node]]\nid = 2\nrole = \"observer\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"./d1\"\n",
			[]want{{"node[1].data_dir", 11, `directory "./d1" is also node[0].data_dir at line 4, on the same host 127.0.0.1`}}},
		{"bad log level", node1 + "log_level = \"loud\"\n",
			[]want{{"node[0].log_level", 5, `unknown log level "loud"`}}},
		{"unknown role", "[[node]]\nid = 1\nrole = \"leader\"\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].role", 3, `unknown role "leader" (want voter, observer or relay)`}}},
		{"unknown site", "[[site]]\nname = \"main\"\n\n[[node]]\nid = 1\nsite = \"mian\"\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n",
			[]want{{"node[0].site", 6, `unknown site "mian" (sites: main)`}}},
		{"relay in the primary site", node1 + "wan = \"127.0.0.1:4181\"\ntls_cert = \"n1.crt\"\ntls_key = \"n1.key\"\n\n[[node]]\nid = 2\nrole = \"relay\"\nclient = \"127.0.0.1:2182\"\nwan = \"127.0.0.1:4182\"\ntls_cert = \"n2.crt\"\ntls_key = \"n2.key\"\ndata_dir = \"d2\"\n[cluster]\ntls_ca = \"ca.crt\"\n",
			[]want{{"node[1].role", 11, `relay in the primary site "primary"`}}},
		{"wan without tls", node1 + "wan = \"127.0.0.1:4181\"\nwan_advertise = \"0.0.0.0:1\"\n",
			[]want{{"node[0].tls_cert", 1, "is required with wan"}, {"node[0].tls_key", 1, "is required with wan"},
				{"node[0].wan_advertise", 6, "wildcard"}, {"cluster.tls_ca", 0, "nothing crosses the WAN in plaintext"}}},
		{"gossip_wan rules", node1 + "gossip_wan = \"127.0.0.1:7947\"\ngossip_wan_advertise = \"0.0.0.0:1\"\n[[node]]\nid = 2\nrole = \"observer\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"d2\"\ngossip = \"127.0.0.1:7948\"\ngossip_wan = \"127.0.0.1:7949\"\n",
			[]want{{"node[0].peer", 1, "is required"}, {"node[0].gossip", 1, "is required with gossip_wan"},
				{"node[0].gossip_wan_advertise", 6, "wildcard"},
				{"node[1].gossip_wan", 13, "for voters and relays"},
				{"cluster.gossip_key_file", 0, "gossip crossing the WAN is encrypted"}}},
		{"relay without wan", "[[site]]\nname = \"p\"\nprimary = true\n[[site]]\nname = \"eu\"\n" + node1 + "[[node]]\nid = 2\nsite = \"eu\"\nrole = \"relay\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"d2\"\n",
			[]want{{"node[0].wan", 6, "for a voter when the file has relays"}, {"node[1].wan", 10, "is required (host:port) for a relay"}}},
		{"voter outside the primary site", "[[site]]\nname = \"p\"\nprimary = true\n[[site]]\nname = \"eu\"\n" + node1 + "[[node]]\nid = 2\nsite = \"eu\"\nclient = \"127.0.0.1:2182\"\ndata_dir = \"d2\"\n",
			[]want{
				{"node[0].peer", 6, "is required (host:port) for a voter when there is more than one voter"},
				{"node[0].election", 6, "is required"},
				{"node[1].peer", 10, "is required"}, // no line of its own: reported at [[node]]
				{"node[1].election", 10, "is required"},
				{"node[1].site", 12, `voter in non-primary site "eu"`},
			}},
		{"duplicate site name", "[[site]]\nname = \"a\"\nprimary = true\n[[site]]\nname = \"a\"\n" + node1,
			[]want{{"site[1].name", 5, `duplicate site name "a" (also site[0].name at line 2)`}}},
		{"two primary sites", "[[site]]\nname = \"a\"\nprimary = true\n[[site]]\nname = \"b\"\nprimary = true\n" + node1,
			[]want{{"site[1].primary", 6, "more than one primary site (site[0].primary at line 3 is primary too)"}}},
		{"no primary site", "[[site]]\nname = \"a\"\n[[site]]\nname = \"b\"\n" + node1,
			[]want{{"site", 1, "no primary site"}}},
		{"lone site explicitly not primary", "[[site]]\nname = \"a\"\nprimary = false\n" + node1,
			[]want{{"site", 1, "no primary site"}}},
		{"site name missing", "[[site]]\nprimary = true\n" + node1,
			[]want{{"site[0].name", 1, "is required"}}},
		{"inline tables", "cluster = { tick = \"soon\" }\nnode = [\n  { id = 1, client = \"127.0.0.1:2181\", peer = \"127.0.0.1:2888\", data_dir = \"d\" },\n  { id = 1, role = \"observer\", client = \"127.0.0.1:2182\", data_dir = \"e\" },\n]\n",
			[]want{{"cluster.tick", 1, `invalid duration "soon"`}, {"node[1].id", 4, "duplicate id 1"}}},
		{"dotted keys", "cluster.tick = \"1x\"\n" + node1,
			[]want{{"cluster.tick", 1, `invalid duration "1x"`}}},
		{"quoted unknown key", "[cluster]\n\"odd key\" = 1\n" + node1,
			[]want{{`cluster."odd key"`, 2, `unknown key "odd key"`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectProblems(t, problemsOf(t, tc.src), tc.want...)
		})
	}
}

func TestSyntaxErrorKeepsTOMLPosition(t *testing.T) {
	src := "[cluster]\ntick = \"2s\"\ninit_limit = = 3\n"
	_, err := Parse([]byte(src), "bad.toml")
	if !errors.Is(err, ErrSyntax) || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrSyntax and ErrInvalidConfig", err)
	}
	ps := FieldErrors(err)
	if len(ps) != 1 {
		t.Fatalf("err = %#v, want one problem", err)
	}
	p := ps[0]
	if p.Line != 3 || p.Col < 1 || p.File != "bad.toml" || p.Field != "" {
		t.Errorf("problem = %+v, want line 3 with a column in bad.toml", p)
	}
	if !strings.HasPrefix(p.Error(), "bad.toml:3:") {
		t.Errorf("Error() = %q", p.Error())
	}
	// A semantic problem is not a syntax error.
	_, err = Parse([]byte("[cluster]\ntick = 3\n"), "x.toml")
	if errors.Is(err, ErrSyntax) {
		t.Errorf("type error matched ErrSyntax: %v", err)
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	src := `[cluster]
tick = "fast"
init_limit = 0
max_packet_size = 12
four_letter_words = ["ruok", "nope"]
bogus = true

[[site]]
name = "main"
primary = true

[[site]]
name = "eu"

[[node]]
id = 1
site = "main"
client = "127.0.0.1:2181"
peer = "127.0.0.1:2888"
data_dir = "d1"

[[node]]
id = 1
site = "eu"
role = "voter"
client = "127.0.0.1:2181"
peer = "127.0.0.1"
election = "127.0.0.1:3889"
data_dir = "d2"

[[node]]
id = 300
site = "asia"
role = "relay"
client = "127.0.0.1:2183"
log_level = "chatty"
`
	expectProblems(t, problemsOf(t, src),
		want{"cluster.tick", 2, `invalid duration "fast"`},
		want{"cluster.init_limit", 3, "must be at least 1"},
		want{"cluster.max_packet_size", 4, "must be in 1024.."},
		want{"cluster.four_letter_words[1]", 5, `unknown four-letter word "nope"`},
		want{"cluster.bogus", 6, `unknown key "bogus"`},
		want{"node[0].election", 15, "is required"},
		want{"node[0].wan", 15, "for a voter when the file has relays"},
		want{"node[1].wan", 22, "for a voter when the file has relays"},
		want{"node[1].id", 23, "duplicate id 1"},
		want{"node[1].site", 24, `voter in non-primary site "eu"`},
		want{"node[1].client", 26, "address 127.0.0.1:2181 is already used by node[0].client at line 18"},
		want{"node[1].peer", 27, "is not host:port"},
		want{"node[2].wan", 31, "is required"}, // absent keys are reported at [[node]]
		want{"node[2].data_dir", 31, "is required"},
		want{"node[2].id", 32, "id 300 is out of range"},
		want{"node[2].site", 33, `unknown site "asia" (sites: main, eu)`},
		want{"node[2].log_level", 36, `unknown log level "chatty"`},
	)
}
