package server

import (
	_ "embed"
	"net/http"
)

// The status page (GET / on the admin address) is one self-contained HTML
// document, CSS and JS inline, no external assets: it works offline and
// behind a firewall. Its script polls this node's own JSON commands
// (/commands/topology, /commands/gossip, /commands/monitor) every 1.5 s
// and draws the deployment as sites with their nodes: role, the leader,
// state (the pools' dead and left included), lag, last contact, and this
// node's request rate and latency. It shows what the serving node sees:
// its own live view. docs/operations.md describes it.

//go:embed status.html
var statusPage []byte

// handleStatus answers GET / with the status page.
func (a *adminServer) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !a.allowMethod(w, r, "") {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Everything the page needs is inline; it asks only its own origin.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(statusPage)
}
