package server

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func fourLW(t *testing.T, s *Server, word string) string {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("%s: %v", word, err)
	}
	return string(out)
}

func TestFourLetterWords(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	c.Create("/x", nil, zk.FlagEphemeral, open)
	c.ExistsW("/x")
	if got := fourLW(t, s, "ruok"); got != "imok" {
		t.Fatalf("ruok: %q", got)
	}
	if got := fourLW(t, s, "isro"); got != "rw" {
		t.Fatalf("isro: %q", got)
	}
	checks := map[string][]string{
		"srvr": {"Zookeeper version: ", "Mode: standalone", "Node count: 5", "Zxid: 0x"},
		"stat": {"Clients:", "Mode: standalone"},
		"conf": {"clientPort=", "tickTime=500", "maxSessionTimeout=10000", "serverId=1"},
		"cons": {"sid=0x", "lop="},
		"envi": {"Environment:", "zookeeper.version=3.9.2-zoogate"},
		"mntr": {"zk_version\t", "zk_server_state\tstandalone", "zk_znode_count\t5", "zk_ephemerals_count\t1", "zk_watch_count\t1"},
		"wchs": {"1 connections watching 1 paths", "Total watches:1"},
		"wchc": {"\t/x"},
		"wchp": {"/x\n\t0x"},
		"dump": {"SessionTracker dump:", "Sessions with Ephemerals (1):", "\t/x"},
		"dirs": {"datadir_size: "},
		"crst": {"Connection stats reset."},
		"srst": {"Server stats reset."},
		"gtmk": {"0"},
		"hash": {": "},
	}
	for word, wants := range checks {
		got := fourLW(t, s, word)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s output lacks %q:\n%s", word, w, got)
			}
		}
	}
	// go-zookeeper's own parsers understand srvr, cons and ruok.
	srvr, ok := zk.FLWSrvr([]string{s.Addr().String()}, 5*time.Second)
	if !ok || srvr[0].Error != nil || srvr[0].Mode != zk.ModeStandalone || srvr[0].NodeCount != 5 {
		t.Fatalf("FLWSrvr: %+v", srvr[0])
	}
	cons, ok := zk.FLWCons([]string{s.Addr().String()}, 5*time.Second)
	if !ok || len(cons[0].Clients) == 0 {
		t.Fatalf("FLWCons: %+v %v", cons, ok)
	}
	if ok := zk.FLWRuok([]string{s.Addr().String()}, 5*time.Second); !ok[0] {
		t.Fatal("FLWRuok")
	}
}

func TestFourLetterWhitelist(t *testing.T) {
	s := startServer(t, func(c *Config) { c.FourLetterWords = DefaultFourLetterWords })
	if got := fourLW(t, s, "dump"); got != "dump is not executed because it is not in the whitelist.\n" {
		t.Fatalf("dump: %q", got)
	}
	if got := fourLW(t, s, "ruok"); got != "imok" {
		t.Fatalf("ruok: %q", got)
	}
}
