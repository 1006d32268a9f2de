package drill

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/internal/netfree"
	"github.com/zoogate/zoogate/topology"
)

// local runs every node of a topology file on this machine as a child
// process: the file is rewritten into a temporary directory (data, TLS
// and keys there, drill_faults on, busy ports replaced), TLS made with
// `zoogate tls init`, and the WAN between sites emulated.
type local struct {
	bin, dir, config string
	wanSpec          string
	f                *topology.File
	log              hclog.Logger

	mu    sync.Mutex
	procs map[uint64]*exec.Cmd
	done  map[uint64]chan struct{} // closed when the process has exited
}

// addressKeys are the keys of a [[node]] that hold a listening address.
var addressKeys = []string{"client", "peer", "election", "gossip", "gossip_wan", "wan", "admin", "client_tls"}

// rewriteLocal rewrites the topology file src for a local drill in dir:
// every node's data_dir (and log_dir) under dir, TLS, the session secret
// and the gossip key from dir/tls, drill_faults on, srvr, mntr and hash in
// the four-letter words, and each address that cannot be bound here
// replaced by a free loopback port. It returns the new file's path.
func rewriteLocal(src, dir string) (string, error) {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(src, &raw); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrSetup, src, err)
	}
	tls := filepath.Join(dir, "tls")
	cl, _ := raw["cluster"].(map[string]any)
	if cl == nil {
		cl = map[string]any{}
		raw["cluster"] = cl
	}
	cl["drill_faults"] = true
	cl["session_secret_file"] = filepath.Join(tls, "session.secret")
	if _, ok := cl["admin_token_file"].(string); ok {
		abs, err := filepath.Abs(cl["admin_token_file"].(string))
		if err != nil {
			return "", fmt.Errorf("%w: admin_token_file: %v", ErrSetup, err)
		}
		cl["admin_token_file"] = abs
	}
	words := []string{"ruok", "srvr", "stat", "mntr", "conf", "envi", "isro", "gsip"}
	if got, ok := cl["four_letter_words"].([]any); ok {
		words = words[:0]
		for _, w := range got {
			if s, ok := w.(string); ok {
				words = append(words, s)
			}
		}
	}
	for _, need := range []string{"srvr", "mntr", "hash"} {
		if !slices.Contains(words, need) && !slices.Contains(words, "*") {
			words = append(words, need)
		}
	}
	cl["four_letter_words"] = words
	nodes, _ := raw["node"].([]map[string]any)
	gossipWAN, anyTLS := false, false
	taken := map[string]bool{}
	for _, n := range nodes {
		id := fmt.Sprint(n["id"])
		n["data_dir"] = filepath.Join(dir, "n"+id)
		if _, ok := n["log_dir"]; ok {
			n["log_dir"] = filepath.Join(dir, "n"+id+"-log")
		}
		_, hasWAN := n["wan"]
		_, hasTLS := n["client_tls"]
		_, hasCert := n["tls_cert"]
		_, hasGossip := n["gossip"] // gossip checks certificates once there is a CA
		if hasWAN || hasTLS || hasCert || hasGossip {
			n["tls_cert"] = filepath.Join(tls, "node-"+id+".crt")
			n["tls_key"] = filepath.Join(tls, "node-"+id+".key")
			anyTLS = true
		}
		if _, ok := n["gossip_wan"]; ok {
			gossipWAN = true
		}
		moved := map[string]string{}
		for _, k := range addressKeys {
			a, ok := n[k].(string)
			if !ok {
				continue
			}
			if !taken[a] && netfree.Free(a) {
				taken[a] = true
				continue
			}
			b, err := freeLoopback(taken)
			if err != nil {
				return "", fmt.Errorf("%w: node %s %s %s: %v", ErrSetup, id, k, a, err)
			}
			n[k], moved[a] = b, b
		}
		for _, k := range []string{"wan_advertise", "gossip_wan_advertise"} {
			if a, ok := n[k].(string); ok && moved[a] != "" {
				n[k] = moved[a]
			}
		}
	}
	if anyTLS {
		cl["tls_ca"] = filepath.Join(tls, "ca.crt")
	}
	if _, ok := cl["gossip_key_file"]; ok || gossipWAN {
		cl["gossip_key_file"] = filepath.Join(tls, "gossip.key")
	}
	var buf bytes.Buffer
	buf.WriteString("# written by zoogate drill --local from " + src + "\n")
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return "", fmt.Errorf("%w: rewriting %s: %v", ErrSetup, src, err)
	}
	out := filepath.Join(dir, "drill.toml")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("%w: %v", ErrSetup, err)
	}
	return out, nil
}

// freeLoopback finds a loopback port free for TCP and UDP that is not in
// taken, and marks it taken.
func freeLoopback(taken map[string]bool) (string, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		a := l.Addr().String()
		l.Close()
		if !taken[a] && netfree.Free(a) {
			taken[a] = true
			return a, nil
		}
	}
	return "", fmt.Errorf("no free loopback port")
}

// newLocal prepares and starts the local deployment of the file at src.
func newLocal(ctx context.Context, src, bin, wanSpec string, keep bool, log hclog.Logger) (*local, error) {
	dir, err := os.MkdirTemp("", "zoogate-drill-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	l := &local{bin: bin, dir: dir, wanSpec: wanSpec, log: log, procs: map[uint64]*exec.Cmd{}, done: map[uint64]chan struct{}{}}
	fail := func(err error) (*local, error) {
		l.close(keep)
		return nil, err
	}
	if l.config, err = rewriteLocal(src, dir); err != nil {
		return fail(err)
	}
	if l.f, err = topology.Load(l.config); err != nil {
		return fail(fmt.Errorf("%w: the rewritten file %s: %v", ErrSetup, l.config, err))
	}
	tlsOut, err := exec.CommandContext(ctx, bin, "tls", "init", "--config", l.config, "--out", filepath.Join(dir, "tls")).CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("%w: %s tls init: %v: %s", ErrSetup, bin, err, bytes.TrimSpace(tlsOut)))
	}
	for _, n := range l.f.Nodes {
		if err := l.start(ctx, n.ID); err != nil {
			return fail(err)
		}
	}
	return l, nil
}

func (l *local) describe() string { return "child processes of the drill (" + l.dir + ")" }

// start runs `zoogate serve` for node id, its output appended to
// dir/n<id>.log, with the emulated WAN when it has a wan address.
func (l *local) start(ctx context.Context, id uint64) error {
	n, err := l.f.Node(id)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProcess, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if done, ok := l.done[id]; ok {
		select {
		case <-done:
		default:
			return fmt.Errorf("%w: node %d is already running", ErrProcess, id)
		}
	}
	args := []string{"serve", "--config", l.config, "--id", strconv.FormatUint(id, 10)}
	if n.WAN != "" && l.wanSpec != "" {
		args = append(args, "--wan-emulate", l.wanSpec)
	}
	logf, err := os.OpenFile(filepath.Join(l.dir, fmt.Sprintf("n%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProcess, err)
	}
	cmd := exec.Command(l.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%w: start node %d: %v", ErrProcess, id, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	l.procs[id], l.done[id] = cmd, done
	l.log.Debug("node started", "id", id, "pid", cmd.Process.Pid)
	return nil
}

// signal sends sig to node id and waits (at most wait) for it to exit; a
// node still there then is killed.
func (l *local) signal(id uint64, sig syscall.Signal, wait time.Duration) error {
	l.mu.Lock()
	cmd, done := l.procs[id], l.done[id]
	l.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%w: node %d was never started", ErrProcess, id)
	}
	select {
	case <-done:
		return nil // already gone
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(wait):
	}
	cmd.Process.Kill()
	<-done
	if sig == syscall.SIGKILL {
		return nil
	}
	return fmt.Errorf("%w: node %d did not stop within %v of %v; killed", ErrProcess, id, wait, sig)
}

func (l *local) kill(_ context.Context, id uint64) error {
	return l.signal(id, syscall.SIGKILL, 10*time.Second)
}

func (l *local) stop(_ context.Context, id uint64) error {
	return l.signal(id, syscall.SIGTERM, 15*time.Second)
}

// close stops every node (SIGTERM, SIGKILL after 5 s) and removes the
// directory unless keep.
func (l *local) close(keep bool) {
	l.mu.Lock()
	ids := make([]uint64, 0, len(l.procs))
	for id := range l.procs {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); l.signal(id, syscall.SIGTERM, 5*time.Second) }()
	}
	wg.Wait()
	if !keep {
		os.RemoveAll(l.dir)
	}
}

// logTails returns the last lines of the logs of the nodes that do not
// serve, to say why the deployment did not come up.
func (l *local) logTails() string {
	var b strings.Builder
	for i := range l.f.Nodes {
		n := &l.f.Nodes[i]
		if serving(n) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(l.dir, fmt.Sprintf("n%d.log", n.ID)))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "\nnode %d's log, last lines:", n.ID)
		for _, ln := range lines[max(0, len(lines)-5):] {
			b.WriteString("\n  " + ln)
		}
	}
	return b.String()
}
