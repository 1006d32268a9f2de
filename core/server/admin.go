package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The admin HTTP server listens on Config.AdminAddr (a node's admin key):
//
//   - GET /commands lists the commands, as links (ZooKeeper's AdminServer
//     page);
//   - GET /commands/<name> runs one, by ZooKeeper 3.8's name or alias, and
//     answers ZooKeeper's JSON (admin_commands.go), always with "command"
//     (the command's primary name) and "error" (null, or what went wrong);
//     zoogate adds topology (admin_topology.go) and gossip;
//   - GET /metrics is the Prometheus exposition (metrics.go).
//
// Commands that have a four-letter word obey the same whitelist
// (Config.FourLetterWords). With a token (Config.AdminTokenFile or
// AdminToken), the commands that list sessions, paths or connections, or
// reset state, ask for "Authorization: Bearer <token>". docs/operations.md
// is the operator's reference.

// adminTokenKey names the topology key in messages.
const adminTokenKey = "admin_token_file"

// maxAdminTokenSize bounds what an admin token file may hold.
const maxAdminTokenSize = 4096

// Errors of the admin server. An HTTP answer carries the message in its
// JSON "error" field; they are matched with errors.Is.
var (
	// ErrAdminToken: the admin token file is unusable (start), or a
	// request to a guarded command lacks the token or has a wrong one.
	ErrAdminToken = errors.New("admin token")
	// ErrUnknownCommand: no admin command has that name.
	ErrUnknownCommand = errors.New("unknown admin command")
	// ErrNotWhitelisted: the command's four-letter word is not in the
	// whitelist (four_letter_words).
	ErrNotWhitelisted = errors.New("command not in the four-letter-word whitelist")
	// ErrNotServing: the server neither serves nor serves read-only.
	ErrNotServing = errors.New("server not serving")
	// ErrBadArgument: a command's query argument is missing or malformed.
	ErrBadArgument = errors.New("bad command argument")
	// ErrMethodNotAllowed: an admin URL was asked with a method other than
	// GET or HEAD.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// CommandError is a failed admin command: the JSON answer's "error" is
// Message (ZooKeeper's text where ZooKeeper has the case), sent with HTTP
// status Status. It matches its Kind with errors.Is.
type CommandError struct {
	Command string
	Status  int
	Kind    error
	Message string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("admin command %s: %s", e.Command, e.Message)
}

// Unwrap returns the error's kind (ErrUnknownCommand, ...).
func (e *CommandError) Unwrap() error { return e.Kind }

type adminServer struct {
	s       *Server
	log     hclog.Logger
	token   []byte // nil: no command is guarded
	metrics *metrics
	ln      net.Listener
	http    *http.Server
}

// newAdminServer prepares the admin server of s (nil when s has no
// AdminAddr) and reads its token file; nothing listens until listen.
func newAdminServer(s *Server) (*adminServer, error) {
	cfg := &s.cfg
	if cfg.AdminAddr == "" {
		return nil, nil
	}
	a := &adminServer{s: s, log: s.log.Named("admin")}
	switch {
	case cfg.AdminTokenFile != "":
		tok, err := readAdminToken(cfg.AdminTokenFile)
		if err != nil {
			return nil, &FieldError{Field: "AdminTokenFile", Problem: err.Error()}
		}
		a.token = tok
	case cfg.AdminToken != "":
		a.token = []byte(cfg.AdminToken)
	}
	a.metrics = newMetrics(s)
	mux := http.NewServeMux()
	mux.HandleFunc("/commands", a.handleList)
	mux.HandleFunc("/commands/", a.handleCommand)
	mux.Handle("/metrics", a.onlyGet(a.metrics.handler()))
	mux.HandleFunc("/{$}", a.handleStatus)
	for pattern, h := range cfg.AdminExtra {
		mux.Handle(pattern, a.withToken(h))
	}
	mux.HandleFunc("/", a.handleNotFound)
	a.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          a.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	return a, nil
}

// readAdminToken reads an admin token file: its content, surrounding
// whitespace trimmed, not empty.
func readAdminToken(path string) ([]byte, error) {
	data, _, err := readSmallFile(path, maxAdminTokenSize)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %w", adminTokenKey, path, ErrAdminToken, err)
	}
	if len(data) > maxAdminTokenSize {
		return nil, fmt.Errorf("%s %s: %w: over %d bytes", adminTokenKey, path, ErrAdminToken, maxAdminTokenSize)
	}
	tok := trimSpace(data)
	if len(tok) == 0 {
		return nil, fmt.Errorf("%s %s: %w: the file is empty", adminTokenKey, path, ErrAdminToken)
	}
	return tok, nil
}

// listen binds the admin address; a nil server does nothing.
func (a *adminServer) listen() error {
	if a == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on admin address %s: %w", a.s.cfg.AdminAddr, err)
	}
	a.ln = ln
	return nil
}

// serve answers requests until close, on a goroutine of the server's
// WaitGroup.
func (a *adminServer) serve() {
	if a == nil || a.ln == nil {
		return
	}
	a.log.Info("admin server listening", "addr", a.ln.Addr().String(), "token", a.token != nil)
	a.s.wg.Add(1)
	go func() {
		defer a.s.wg.Done()
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin server stopped", "error", err)
		}
	}()
}

// close stops the listener and closes every admin connection.
func (a *adminServer) close() {
	if a == nil {
		return
	}
	if a.ln != nil {
		a.http.Close()
	}
}

func (a *adminServer) addr() net.Addr {
	if a == nil || a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// observe records one answered client request's latency (metrics.go).
func (a *adminServer) observe(it *item, d time.Duration) {
	if a != nil {
		a.metrics.observe(it.w != nil, d)
	}
}

// observeFsync records one fsync of the transaction log (storage's
// LogConfig.OnSync).
func (a *adminServer) observeFsync(d time.Duration) {
	if a != nil {
		a.metrics.fsync.Observe(float64(d) / float64(time.Millisecond))
	}
}

// handleList answers GET /commands: a link per command, as ZooKeeper's
// AdminServer does.
func (a *adminServer) handleList(w http.ResponseWriter, r *http.Request) {
	if !a.allowMethod(w, r, "") {
		return
	}
	var b strings.Builder
	for _, name := range adminCommandNames() {
		n := html.EscapeString(name)
		fmt.Fprintf(&b, "<a href=\"/commands/%s\">%s</a>\n<br/>\n", n, n)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}

// handleCommand answers GET /commands/<name>.
func (a *adminServer) handleCommand(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/commands/")
	if name == "" {
		a.handleList(w, r)
		return
	}
	if !a.allowMethod(w, r, name) {
		return
	}
	cmd := lookupAdminCommand(name)
	if cmd == nil {
		// ZooKeeper answers an unknown command with 200 and this error.
		a.writeError(w, &CommandError{Command: name, Status: http.StatusOK, Kind: ErrUnknownCommand, Message: "Unknown command: " + name})
		return
	}
	resp, err := a.run(cmd, r)
	if err != nil {
		a.writeError(w, err)
		return
	}
	resp["command"] = cmd.names[0]
	resp["error"] = nil
	a.writeJSON(w, http.StatusOK, resp)
}

// run checks the whitelist, the token and the server's state, then runs
// the command.
func (a *adminServer) run(cmd *adminCommand, r *http.Request) (map[string]any, error) {
	s := a.s
	name := cmd.names[0]
	if cmd.word != "" && !s.cfg.fourLetterAllowed(cmd.word) {
		return nil, &CommandError{Command: name, Status: http.StatusForbidden, Kind: ErrNotWhitelisted,
			Message: cmd.word + " is not executed because it is not in the whitelist."}
	}
	if cmd.guarded && a.token != nil && !a.authorized(r) {
		return nil, &CommandError{Command: name, Status: http.StatusUnauthorized, Kind: ErrAdminToken,
			Message: "this command needs the admin token (" + adminTokenKey + "): Authorization: Bearer <token>"}
	}
	if cmd.needsServing && !s.serving() && !s.readOnly() {
		return nil, &CommandError{Command: name, Status: http.StatusOK, Kind: ErrNotServing,
			Message: "This ZooKeeper instance is not currently serving requests"}
	}
	resp := map[string]any{}
	if err := cmd.run(s, r, resp); err != nil {
		var ce *CommandError
		if errors.As(err, &ce) {
			ce.Command = name
			return nil, ce
		}
		return nil, &CommandError{Command: name, Status: http.StatusInternalServerError, Kind: err, Message: err.Error()}
	}
	return resp, nil
}

// authorized reports whether r carries the admin token.
func (a *adminServer) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), a.token) == 1
}

// withToken asks for the admin token, when one is set, before h runs.
func (a *adminServer) withToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token != nil && !a.authorized(r) {
			a.writeError(w, &CommandError{Status: http.StatusUnauthorized, Kind: ErrAdminToken,
				Message: "this endpoint needs the admin token (" + adminTokenKey + "): Authorization: Bearer <token>"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// allowMethod answers 405 (JSON) to anything but GET and HEAD.
func (a *adminServer) allowMethod(w http.ResponseWriter, r *http.Request, command string) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	a.writeError(w, &CommandError{Command: command, Status: http.StatusMethodNotAllowed, Kind: ErrMethodNotAllowed,
		Message: "HTTP method " + r.Method + " is not supported by this URL"})
	return false
}

func (a *adminServer) onlyGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.allowMethod(w, r, "") {
			h.ServeHTTP(w, r)
		}
	})
}

func (a *adminServer) handleNotFound(w http.ResponseWriter, r *http.Request) {
	a.writeJSON(w, http.StatusNotFound, map[string]any{
		"error": "no such page: " + r.URL.Path + " (see /commands and /metrics)",
	})
}

// writeError answers err as ZooKeeper's AdminServer shapes an error:
// {"command": ..., "error": message}.
func (a *adminServer) writeError(w http.ResponseWriter, err error) {
	var ce *CommandError
	if !errors.As(err, &ce) {
		ce = &CommandError{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	if ce.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="zoogate admin"`)
	}
	resp := map[string]any{"error": ce.Message}
	if ce.Command != "" {
		resp["command"] = ce.Command
	}
	a.writeJSON(w, ce.Status, resp)
}

// writeJSON writes v indented as ZooKeeper's AdminServer does.
func (a *adminServer) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<NA>" as ZooKeeper writes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.log.Error("admin answer not encoded", "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error": "answer not encoded"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
