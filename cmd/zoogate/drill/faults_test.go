package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/wan/emulate"
)

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, m
}

func TestFaultHandlerRefusesWhenOff(t *testing.T) {
	srv := httptest.NewServer(NewFaultHandler(1, false, "", nil, emulate.Spec{}))
	defer srv.Close()
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(m, srv.URL+FaultPath, strings.NewReader(`{"action":"cut"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(e.Error, "drill_faults = true") {
			t.Errorf("%s with drill_faults off: %d %q, want 403 naming drill_faults", m, resp.StatusCode, e.Error)
		}
	}
	// The drill's client reports the refusal with its reason.
	fc := &faultClient{http: http.DefaultClient}
	_, err := fc.do(context.Background(), strings.TrimPrefix(srv.URL, "http://"), &FaultRequest{Action: ActionCut})
	if !errors.Is(err, ErrFault) || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "drill_faults") {
		t.Fatalf("client error %v", err)
	}
}

func TestFaultHandlerWithoutWAN(t *testing.T) {
	srv := httptest.NewServer(NewFaultHandler(5, true, "", nil, emulate.Spec{}))
	defer srv.Close()
	if code, m := post(t, srv.URL, `{"action":"cut"}`); code != http.StatusConflict || !strings.Contains(m["error"].(string), "no wan address") {
		t.Fatalf("cut on a node without WAN: %d %v", code, m)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var st FaultState
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || st.Node != 5 || !st.DrillFaults || st.WAN != "" {
		t.Fatalf("GET: %d %+v", resp.StatusCode, st)
	}
}

// A cut through the endpoint drops the emulator's packets, heal lets them
// through again, set changes the spec, reset goes back to the start.
func TestFaultHandlerDrivesTheEmulator(t *testing.T) {
	base, _ := emulate.ParseSpec("delay=1ms")
	conn, err := emulate.Listen("127.0.0.1:0", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	h := NewFaultHandler(4, true, conn.LocalAddr().String(), conn, base)
	srv := httptest.NewServer(h)
	defer srv.Close()
	fc := &faultClient{http: http.DefaultClient}
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	send := func() { conn.WriteTo([]byte("x"), peer.LocalAddr()) }

	st, err := fc.do(ctx, addr, &FaultRequest{Action: ActionCut})
	if err != nil || !st.Cut {
		t.Fatalf("cut: %+v %v", st, err)
	}
	send()
	st, _ = fc.do(ctx, addr, nil)
	if st.Stats.CutOut != 1 || st.Stats.Delivered != 0 {
		t.Fatalf("a packet written during the cut: %+v", st.Stats)
	}
	if st, err = fc.do(ctx, addr, &FaultRequest{Action: ActionHeal}); err != nil || st.Cut {
		t.Fatalf("heal: %+v %v", st, err)
	}
	send()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := peer.ReadFrom(make([]byte, 16)); err != nil {
		t.Fatalf("no packet after the heal: %v", err)
	}
	if st, err = fc.do(ctx, addr, &FaultRequest{Action: ActionSet, Spec: "delay=50ms,loss=0.5"}); err != nil || st.Spec != "delay=50ms,loss=0.5" || st.BaseSpec != "delay=1ms" {
		t.Fatalf("set: %+v %v", st, err)
	}
	if st, err = fc.do(ctx, addr, &FaultRequest{Action: ActionReset}); err != nil || st.Spec != "delay=1ms" || st.Cut {
		t.Fatalf("reset: %+v %v", st, err)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"action":"explode"}`, `action "explode"`},
		{`{"action":"set","spec":"delay=soon"}`, "spec: emulate: spec delay"},
		{`not json`, "body: want JSON"},
		{`{"action":"cut","extra":1}`, "unknown field"},
	} {
		if code, m := post(t, srv.URL, bad.body); code != http.StatusBadRequest || !strings.Contains(m["error"].(string), bad.want) {
			t.Errorf("%s: %d %v, want 400 with %q", bad.body, code, m, bad.want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL, bytes.NewReader(nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("DELETE: %d allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestAddSpec(t *testing.T) {
	a, _ := emulate.ParseSpec("delay=40ms,jitter=2ms,loss=0.01")
	b, _ := emulate.ParseSpec("delay=150ms,jitter=20ms,loss=0.03,rate=10mbit")
	got := addSpec(a, b).String()
	if got != "delay=190ms,jitter=22ms,loss=0.0397,rate=10mbit" {
		t.Fatalf("addSpec: %s", got)
	}
	if s := addSpec(emulate.Spec{}, emulate.Spec{}).String(); s != "" {
		t.Fatalf("zero plus zero: %q", s)
	}
}
