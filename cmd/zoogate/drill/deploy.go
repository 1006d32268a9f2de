package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Errors of the drill, matched with errors.Is.
var (
	// ErrTimeout: something awaited did not happen within --timeout.
	ErrTimeout = errors.New("timed out")
	// ErrProcess: a node could not be killed or started.
	ErrProcess = errors.New("process control")
	// ErrSetup: the deployment could not be prepared or did not come up.
	ErrSetup = errors.New("setup")
)

// controller kills and starts the nodes of a deployment.
type controller interface {
	// kill stops node id at once (SIGKILL or the --kill-cmd).
	kill(ctx context.Context, id uint64) error
	// stop stops node id gracefully (SIGTERM; the --kill-cmd for a
	// deployment driven by templates).
	stop(ctx context.Context, id uint64) error
	// start starts node id again.
	start(ctx context.Context, id uint64) error
	// describe names how the nodes are controlled, for the report.
	describe() string
}

// commandTimeout bounds one --kill-cmd or --start-cmd.
const commandTimeout = 60 * time.Second

// templates controls nodes with --kill-cmd and --start-cmd.
type templates struct {
	killCmd, startCmd, config string
}

// expand replaces {id} and {config} in a template.
func expand(tmpl string, id uint64, config string) string {
	return strings.NewReplacer("{id}", strconv.FormatUint(id, 10), "{config}", config).Replace(tmpl)
}

func (t *templates) run(ctx context.Context, what, tmpl string, id uint64) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	line := expand(tmpl, id, t.config)
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s node %d: %q: %v: %s", ErrProcess, what, id, line, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (t *templates) kill(ctx context.Context, id uint64) error {
	return t.run(ctx, "--kill-cmd", t.killCmd, id)
}
func (t *templates) stop(ctx context.Context, id uint64) error {
	return t.run(ctx, "--kill-cmd", t.killCmd, id)
}
func (t *templates) start(ctx context.Context, id uint64) error {
	return t.run(ctx, "--start-cmd", t.startCmd, id)
}
func (t *templates) describe() string {
	return fmt.Sprintf("--kill-cmd %q, --start-cmd %q", t.killCmd, t.startCmd)
}

// noProcesses is the controller of a drill that kills nothing (WAN
// scenarios only on a running deployment).
type noProcesses struct{}

func (noProcesses) kill(context.Context, uint64) error {
	return fmt.Errorf("%w: no --kill-cmd", ErrProcess)
}
func (noProcesses) stop(context.Context, uint64) error {
	return fmt.Errorf("%w: no --kill-cmd", ErrProcess)
}
func (noProcesses) start(context.Context, uint64) error {
	return fmt.Errorf("%w: no --start-cmd", ErrProcess)
}
func (noProcesses) describe() string { return "no process control" }
