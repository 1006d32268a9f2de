package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Pinned writers (`zoogate bench failover --pinned`): what a user who gives
// each stock client one server sees when the leader dies. The clients are
// plain zk.Connect with its defaults: no host provider and no dialer of
// ours, so the figures include the client library's own reconnect delays
// whenever a server drops its clients.

// currentFollowers returns the servers that answer srvr with "Mode:
// follower": the ones a leader kill leaves.
func currentFollowers(servers []string) ([]string, error) {
	var out []string
	var answers []string
	for _, srv := range servers {
		mode, err := serverMode(srv)
		if err != nil {
			answers = append(answers, srv+": "+err.Error())
			continue
		}
		answers = append(answers, srv+": "+mode)
		if mode == "follower" {
			out = append(out, srv)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --pinned: no server is a follower (%s)", ErrNotReady, strings.Join(answers, "; "))
	}
	return out, nil
}

// serverMode asks a server's srvr four-letter word for its Mode line.
func serverMode(srv string) (string, error) {
	c, err := net.DialTimeout("tcp", srv, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<10))
	if err != nil && len(b) == 0 {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("no Mode line in srvr's answer %q", strings.TrimSpace(string(b)))
}

// runPinnedWriter keeps setting its own znode through a stock client given
// only addr, reporting every outcome and every connection loss after the
// kill started.
func runPinnedWriter(ctx context.Context, cfg FailoverConfig, w int, addr string, value []byte, st *trialState) error {
	conn, events, err := zk.Connect([]string{addr}, cfg.SessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConnect, err)
	}
	defer conn.Close()
	connected := make(chan struct{})
	go func() {
		first := true
		for ev := range events {
			if ev.Type != zk.EventSession {
				continue
			}
			switch {
			case ev.State == zk.StateHasSession && first:
				first = false
				close(connected)
			case ev.State == zk.StateDisconnected && ctx.Err() == nil:
				st.lost()
			}
		}
	}()
	t := time.NewTimer(cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case <-connected:
	case <-t.C:
		return fmt.Errorf("%w: %s: no session within %v", ErrConnect, addr, cfg.ReadyTimeout)
	case <-ctx.Done():
		return nil
	}
	path := fmt.Sprintf("%s/w-%d", cfg.Root, w)
	if err := ensurePath(conn, path); err != nil {
		return err
	}
	for ctx.Err() == nil {
		over, err := setOnce(ctx, conn, path, value, w, st)
		if over {
			return nil
		}
		if err != nil && !errors.Is(err, zk.ErrBadVersion) {
			_ = sleepCtx(ctx, time.Millisecond) // errors that return at once must not spin
		}
	}
	return nil
}

// lost counts a pinned writer's connection loss once the kill started.
func (t *trialState) lost() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.killing {
		t.losses++
	}
}
