package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zoogate/zoogate/wan/emulate"
)

// FaultPath is where a node's admin server answers the drill's WAN fault
// requests (mounted by zoogate serve through server.Config.AdminExtra).
const FaultPath = "/drill/wan"

// Fault actions a POST to FaultPath may ask for.
const (
	ActionCut   = "cut"   // drop every WAN packet of the node, both ways
	ActionHeal  = "heal"  // end a cut
	ActionSet   = "set"   // impair the WAN links with Spec (emulate.ParseSpec syntax)
	ActionReset = "reset" // heal, and back to the spec the node started with
)

// FaultRequest is the body of a POST to FaultPath.
type FaultRequest struct {
	Action string `json:"action"`
	Spec   string `json:"spec,omitempty"`
}

// FaultState is what FaultPath answers: the node's emulated WAN now.
type FaultState struct {
	Node        uint64        `json:"node"`
	DrillFaults bool          `json:"drill_faults"`
	WAN         string        `json:"wan"`       // the node's wan address; "" = no WAN link
	Cut         bool          `json:"cut"`       // every WAN packet dropped
	Spec        string        `json:"spec"`      // the impairment in force
	BaseSpec    string        `json:"base_spec"` // the one it started with (--wan-emulate)
	Stats       emulate.Stats `json:"stats"`
	Error       *string       `json:"error"`
}

// FaultHandler answers FaultPath on one node: GET tells the state, POST
// with a FaultRequest changes it. With drill_faults off every request is
// refused with 403; a node without a WAN link answers POST with 409.
type FaultHandler struct {
	node    uint64
	enabled bool
	wan     string
	conn    *emulate.Conn // nil: no WAN link

	mu   sync.Mutex
	cut  bool
	spec emulate.Spec
	base emulate.Spec
}

// NewFaultHandler returns the handler of node id. conn is the emulator its
// WAN socket runs through (nil without a WAN link), base the spec it
// started with.
func NewFaultHandler(id uint64, enabled bool, wanAddr string, conn *emulate.Conn, base emulate.Spec) *FaultHandler {
	return &FaultHandler{node: id, enabled: enabled, wan: wanAddr, conn: conn, spec: base, base: base}
}

// errFaultsOff is the message of the 403.
const errFaultsOff = "drill faults are off on this node: set [cluster] drill_faults = true in the topology file to let zoogate drill cut or slow its WAN (rehearsal deployments only)"

func (h *FaultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enabled {
		writeFaultError(w, http.StatusForbidden, errFaultsOff)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		var req FaultRequest
		body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			err = dec.Decode(&req)
		}
		if err != nil {
			writeFaultError(w, http.StatusBadRequest, "body: want JSON {\"action\": \"cut\"|\"heal\"|\"set\"|\"reset\", \"spec\": \"delay=...\"}: "+err.Error())
			return
		}
		if h.conn == nil {
			writeFaultError(w, http.StatusConflict, fmt.Sprintf("node %d has no wan address: it has no WAN link to cut or slow", h.node))
			return
		}
		if status, msg := h.apply(req); status != http.StatusOK {
			writeFaultError(w, status, msg)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeFaultError(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported by this URL")
		return
	}
	writeJSON(w, http.StatusOK, h.state())
}

// apply carries out one request; a status other than 200 comes with why.
func (h *FaultHandler) apply(req FaultRequest) (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch req.Action {
	case ActionCut:
		h.conn.Cut()
		h.cut = true
	case ActionHeal:
		h.conn.Heal()
		h.cut = false
	case ActionSet:
		spec, err := emulate.ParseSpec(req.Spec)
		if err != nil {
			return http.StatusBadRequest, "spec: " + err.Error()
		}
		if err := h.conn.SetDefault(spec); err != nil {
			return http.StatusBadRequest, "spec: " + err.Error()
		}
		h.spec = spec
	case ActionReset:
		h.conn.Heal()
		h.conn.SetDefault(h.base)
		h.cut, h.spec = false, h.base
	default:
		return http.StatusBadRequest, fmt.Sprintf("action %q: want cut, heal, set or reset", req.Action)
	}
	return http.StatusOK, ""
}

func (h *FaultHandler) state() FaultState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := FaultState{Node: h.node, DrillFaults: h.enabled, WAN: h.wan, Cut: h.cut, Spec: h.spec.String(), BaseSpec: h.base.String()}
	if h.conn != nil {
		st.Stats = h.conn.Stats()
	}
	return st
}

func writeFaultError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// ErrFault: a node's fault endpoint refused or failed a request.
var ErrFault = errors.New("WAN fault endpoint")

// faultClient drives the fault endpoints of a deployment's nodes.
type faultClient struct {
	http  *http.Client
	token string // the admin token, "" = none
}

// do sends req to the node whose admin address is admin (GET when req is
// nil) and returns its state.
func (fc *faultClient) do(ctx context.Context, admin string, req *FaultRequest) (FaultState, error) {
	var st FaultState
	method, body := http.MethodGet, io.Reader(nil)
	if req != nil {
		b, _ := json.Marshal(req)
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, method, "http://"+admin+FaultPath, body)
	if err != nil {
		return st, fmt.Errorf("%w %s: %v", ErrFault, admin, err)
	}
	if fc.token != "" {
		hr.Header.Set("Authorization", "Bearer "+fc.token)
	}
	resp, err := fc.http.Do(hr)
	if err != nil {
		return st, fmt.Errorf("%w %s: %v", ErrFault, admin, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return st, fmt.Errorf("%w %s: HTTP %d: %s", ErrFault, admin, resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w %s: answer: %v", ErrFault, admin, err)
	}
	return st, nil
}
