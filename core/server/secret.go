package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/zoogate/zoogate/core/prep"
	"github.com/zoogate/zoogate/core/txn"
)

// The session secret keys session passwords (sessions.go): a session's
// password is HMAC-SHA256(secret, session id), so every server of a
// deployment can check a reconnecting client, and nobody who only sees
// session ids (cons, dump, logs, the client's own output) can compute one.
// ZooKeeper derives passwords from a public constant; zoogate never keys
// them by anything public. The secret comes from, in order:
//
//   - Config.SessionSecretFile ([cluster] session_secret_file): a file every
//     server of the deployment reads; nothing is proposed.
//   - Config.SessionSecret: a secret given in code (tests, embedding).
//   - A memory-only standalone server (no DataDir): a random secret of its
//     own, which dies with it like its sessions.
//   - Otherwise the replicated state: the first leader of a deployment (or
//     a standalone server with a log, when its first session needs it)
//     proposes a random secret as a txn.OpSessionSecret transaction; every
//     replica applies the first one into its tree, which keeps it in
//     snapshots. Until it is applied, a handshake waits (newID, password),
//     on its connection's goroutine, never on the goroutines that propose
//     and apply transactions.
//
// The secret never appears in clear in 4lw output or logs: logs show a
// fingerprint (a hash of it) so operators can compare servers.

// sessionSecretKey names the topology key in messages.
const sessionSecretKey = "session_secret_file"

// maxSecretFileSize bounds what a session secret file may hold.
const maxSecretFileSize = 4096

// ErrSessionSecret is wrapped by the errors of ParseSessionSecret and by a
// server's start when its session secret file is unusable.
var ErrSessionSecret = errors.New("invalid session secret")

// NewSessionSecret returns a fresh random secret of txn.MinSessionSecretLen
// bytes.
func NewSessionSecret() []byte {
	b := make([]byte, txn.MinSessionSecretLen)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported systems
	}
	return b
}

// FormatSessionSecret is the content of a session secret file: the secret
// in hex and a newline.
func FormatSessionSecret(secret []byte) []byte {
	return []byte(hex.EncodeToString(secret) + "\n")
}

// ParseSessionSecret decodes the content of a session secret file: hex
// digits (at least 64, that is 32 bytes), surrounding whitespace ignored.
// `zoogate tls init` writes one; `openssl rand -hex 32` makes one too.
func ParseSessionSecret(data []byte) ([]byte, error) {
	if len(data) > maxSecretFileSize {
		return nil, fmt.Errorf("%w: %d bytes; a session secret file holds 64 hex digits", ErrSessionSecret, len(data))
	}
	text := trimSpace(data)
	secret, err := hex.DecodeString(string(text))
	if err != nil {
		return nil, fmt.Errorf("%w: not hex digits (want 64 hex digits, e.g. from `openssl rand -hex 32`): %v", ErrSessionSecret, err)
	}
	if len(secret) < txn.MinSessionSecretLen {
		return nil, fmt.Errorf("%w: too short: %d bytes (%d hex digits), want at least %d bytes (%d hex digits)",
			ErrSessionSecret, len(secret), len(text), txn.MinSessionSecretLen, 2*txn.MinSessionSecretLen)
	}
	return secret, nil
}

func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// secretFingerprint identifies a secret in logs without revealing it.
func secretFingerprint(secret []byte) string {
	h := sha256.Sum256(append([]byte("zoogate session secret fingerprint\x00"), secret...))
	return hex.EncodeToString(h[:6])
}

// newSessions builds the server's session tracker with the key its
// passwords use (New).
func (s *Server) newSessions() (*sessionTracker, error) {
	cfg := &s.cfg
	var key []byte
	var src secretSource
	switch {
	case cfg.SessionSecretFile != "" && cfg.SessionSecret != "":
		return nil, &FieldError{Field: "SessionSecret", Problem: "set together with SessionSecretFile; set one"}
	case cfg.SessionSecretFile != "":
		k, worldReadable, err := readSecretFile(cfg.SessionSecretFile)
		if err != nil {
			return nil, &FieldError{Field: "SessionSecretFile", Problem: err.Error()}
		}
		if worldReadable {
			s.log.Warn("the session secret file is readable by every user of this machine; anyone who reads it can take over any session (chmod 600 it)",
				"key", sessionSecretKey, "file", cfg.SessionSecretFile)
		}
		key = k
		s.log.Info("session passwords are keyed by the session secret file", "file", cfg.SessionSecretFile, "fingerprint", secretFingerprint(k))
	case cfg.SessionSecret != "":
		key = []byte(cfg.SessionSecret)
	case cfg.DataDir == "" && cfg.Cluster == nil:
		key = NewSessionSecret() // memory only: sessions die with the process anyway
	default:
		src = (*replicatedSecret)(s)
	}
	t := newSessionTracker(int64(cfg.ServerID), cfg.Tick, time.Now(), key, src, s.closing)
	t.onKey = func(k []byte) {
		s.log.Info("session passwords are keyed by the replicated session secret", "fingerprint", secretFingerprint(k))
	}
	t.onStall = func() {
		s.log.Warn("clients wait for the replicated session secret, which no leader has proposed yet; if the other servers use a session_secret_file, this one must too",
			"waited", secretStall)
	}
	return t, nil
}

// readSecretFile reads and checks a session secret file.
func readSecretFile(path string) (secret []byte, worldReadable bool, err error) {
	data, st, err := readSmallFile(path, maxSecretFileSize)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", sessionSecretKey, path, err)
	}
	secret, err = ParseSessionSecret(data)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", sessionSecretKey, path, err)
	}
	return secret, st.Mode().Perm()&0o004 != 0, nil
}

// replicatedSecret is the server seen as the source of the secret its
// voters agree on through the replicated state.
type replicatedSecret Server

func (r *replicatedSecret) current() []byte {
	s := (*Server)(r)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.SessionSecret()
}

func (r *replicatedSecret) request() { (*Server)(r).ensureSessionSecret() }

// ensureSessionSecret proposes a random session secret when the replicated
// state holds none and this server may propose: a cluster leader that
// serves (called when it starts serving, cluster_apply.go, and by waiting
// handshakes), or a standalone server with a log (called by the first
// handshake that needs it). Replicas keep the first secret applied, so a
// redundant proposal is harmless. It never blocks: it runs on the driver
// goroutine too.
func (s *Server) ensureSessionSecret() {
	if s.sessions.source == nil || s.sessions.key.Load() != nil {
		return // a configured key, or the agreed one is known already
	}
	if s.driver != nil && !(s.isLeader() && s.serving()) {
		return // learners wait for their leader's
	}
	s.mu.RLock()
	has := s.tree.HasSessionSecret()
	s.mu.RUnlock()
	if has {
		return
	}
	w := s.internalWrite(&prep.Request{Type: txn.OpSessionSecret, Secret: NewSessionSecret()})
	s.log.Info("no session secret in the replicated state yet; proposing a random one")
	select {
	case s.writes <- w:
	default:
		go s.submit(w, nil)
	}
	if s.driver == nil {
		go s.secretWritten(w)
	}
}

// secretWritten falls back to an in-memory secret on a standalone server
// whose log refused the secret (writes stopped): its sessions are local to
// this run anyway, and handshakes must not wait forever.
func (s *Server) secretWritten(w *pendingWrite) {
	select {
	case <-w.done:
	case <-s.closing:
		return
	}
	if w.err == nil && !w.unknown {
		return
	}
	s.mu.RLock()
	has := s.tree.HasSessionSecret()
	s.mu.RUnlock()
	if !has && s.sessions.setKey(NewSessionSecret()) {
		s.log.Warn("the transaction log did not take the session secret; sessions use an in-memory one until restart", "error", w.err)
	}
}

// readSmallFile reads at most limit+1 bytes of a regular file (enough for
// the caller to see it is too big) and returns its FileInfo. Errors do not
// repeat the path, which the caller names.
func readSmallFile(path string, limit int64) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, err
	}
	return data, st, nil
}
