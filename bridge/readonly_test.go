package bridge

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/internal/rawzk"
)

func fourLetter(t *testing.T, addr, word string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(3 * time.Second))
	nc.Write([]byte(word))
	b, _ := io.ReadAll(nc)
	return strings.TrimSpace(string(b))
}

// 5. A remote site cut off from the primary serves read-only clients:
// after the relay and the observer lose their upstream they answer reads
// from their last state and NotReadOnly for writes; past
// read_only_max_staleness they close those clients and take no more;
// after the heal both catch up by DIFF with every write made during the
// cut.
func TestCutSiteServesReadOnly(t *testing.T) {
	d := newDeployment(t, "delay=40ms")
	d.readOnly, d.maxStale = true, 8*time.Second
	lead := d.upAll()
	lc, oc := d.connect(lead), d.connect(obsID)
	create(t, lc, "/before", "1", 5*time.Second)
	syncRead(t, oc, "/before", "1", 5*time.Second)
	relayAddr, obsAddr := d.servers[relayID].Addr().String(), d.servers[obsID].Addr().String()

	mark := d.logs.mark()
	d.step("cutting the relay's WAN")
	d.emus[relayID].Cut()
	cutAt := time.Now()
	var written []string
	write := func() { written = append(written, cutWrite(t, lc, len(written))) }
	waitFor(t, "the relay and the observer in read-only mode", 15*time.Second, func() bool {
		write()
		return fourLetter(t, relayAddr, "isro") == "ro" && fourLetter(t, obsAddr, "isro") == "ro"
	})
	d.step(fmt.Sprintf("read-only %.1fs after the cut", time.Since(cutAt).Seconds()))
	var clients []*rawzk.Conn
	for _, addr := range []string{relayAddr, obsAddr} {
		c, resp, err := rawzk.Dial(addr, true)
		if err != nil || !resp.ReadOnly {
			t.Fatalf("read-only client to %s: %+v %v", addr, resp, err)
		}
		defer c.Close()
		if data, code, err := c.Get("/before"); err != nil || code != 0 || data != "1" {
			t.Fatalf("read-only read on %s: %q %d %v", addr, data, code, err)
		}
		code, _, err := c.Call(proto.OpSetData, func(e *jute.Encoder) { e.String("/before"); e.Buffer([]byte("2")); e.Int(-1) })
		if err != nil || code != proto.CodeNotReadOnly {
			t.Fatalf("a write on read-only %s: code %d %v, want NotReadOnly", addr, code, err)
		}
		clients = append(clients, c)
	}
	if v, _ := mntrValue(mntr(t, d.servers[obsID]), "zk_upstream_last_heard_ms"); v == "" || v == "-1" {
		t.Errorf("the read-only observer's mntr shows no staleness: %q", v)
	}
	// Reads go on until the staleness bound closes the clients.
	for _, c := range clients {
		for {
			_, code, err := c.Get("/before")
			if err != nil {
				if !errors.Is(err, io.EOF) && !isConnReset(err) {
					t.Fatalf("read-only client: %v", err)
				}
				break
			}
			if code != 0 {
				t.Fatalf("read-only read: code %d", code)
			}
			if time.Since(cutAt) > d.maxStale+10*time.Second {
				t.Fatal("the read-only client was still served long past read_only_max_staleness")
			}
			time.Sleep(100 * time.Millisecond) // a client reading now and then
		}
	}
	if since := time.Since(cutAt); since < d.maxStale {
		t.Fatalf("read-only clients closed %v after the cut, before read_only_max_staleness %v", since, d.maxStale)
	}
	d.step("read-only clients closed past the staleness bound")
	if got := fourLetter(t, obsAddr, "isro"); got != "null" {
		t.Fatalf("isro on the observer past the bound: %q", got)
	}
	if _, _, err := rawzk.Dial(obsAddr, true); err == nil {
		t.Fatal("a read-only client was answered past the staleness bound")
	}
	for range 5 {
		write()
	}
	d.step(fmt.Sprintf("healing after %d writes", len(written)))
	d.emus[relayID].Heal()
	d.serving(relayID, 15*time.Second)
	d.serving(obsID, 15*time.Second)
	if !d.logs.has(mark, "s8.server.zab", "sync", "mode=DIFF") || d.logs.has(mark, "s8.server.zab", "sync", "mode=SNAP") {
		t.Fatal("the relay did not catch up by DIFF alone")
	}
	last := written[len(written)-1]
	syncRead(t, oc, last, last, 10*time.Second)
	for _, p := range written {
		if data, _, err := oc.Get(p); err != nil || string(data) != p {
			t.Fatalf("%s on the observer after the heal: %q %v", p, data, err)
		}
	}
	if got := fourLetter(t, obsAddr, "isro"); got != "rw" {
		t.Fatalf("isro on the observer after the heal: %q", got)
	}
	d.sameTree(lc, oc)
}

func isConnReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
