package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/internal/testport"
)

// startProxy runs the wanproxy command with args on a free control port
// and returns that port's address.
func startProxy(t *testing.T, args ...string) string {
	t.Helper()
	control := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- runWANProxyCmd(ctx, append([]string{"--control", control}, args...), io.Discard, &out)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := proxyStats(control); err == nil {
			return control
		}
		select {
		case code := <-done:
			t.Fatalf("wanproxy exited with %d: %s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("wanproxy did not start")
		}
		time.Sleep(10 * time.Millisecond) // waiting for the control socket
	}
}

// freeAddr returns a loopback address free for TCP and UDP, outside the
// ephemeral range (see internal/testport).
func freeAddr(t *testing.T) string {
	t.Helper()
	return testport.Addr(t)
}

// TestWANProxyTCP: bytes cross with the delay each way and are counted;
// a cut holds them, a heal delivers them.
func TestWANProxyTCP(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() { // an echo server
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	listen := freeAddr(t)
	control := startProxy(t, "--delay", "30ms", "--tcp", listen+"="+target.Addr().String())
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	t0 := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo: %q, %v", line, err)
	}
	if rtt := time.Since(t0); rtt < 60*time.Millisecond {
		t.Fatalf("round trip %v through a 30 ms one-way delay", rtt)
	}
	if _, err := ProxyCommand(control, "cut"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("read %q through a cut proxy", line)
	}
	_ = c.SetReadDeadline(time.Time{})
	if _, err := ProxyCommand(control, "heal"); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("after the heal: %q, %v", line, err)
	}
	st, err := proxyStats(control)
	if err != nil {
		t.Fatal(err)
	}
	if st.Up != 10 || st.Down != 10 || st.Conns != 1 || st.Cut {
		t.Fatalf("stats %+v, want 10 bytes each way over 1 connection", st)
	}
	if _, err := ProxyCommand(control, "bogus"); err == nil || !strings.Contains(err.Error(), "commands are") {
		t.Fatalf("a bad command: %v", err)
	}
}

// TestWANProxyUDP: datagrams cross both ways and are counted; a cut drops
// them.
func TestWANProxyUDP(t *testing.T) {
	target, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() { // an echo server
		b := make([]byte, 2048)
		for {
			n, from, err := target.ReadFrom(b)
			if err != nil {
				return
			}
			_, _ = target.WriteTo(b[:n], from)
		}
	}()
	listen := freeAddr(t)
	control := startProxy(t, "--delay", "10ms", "--udp", listen+"="+target.LocalAddr().String())
	c, err := net.Dial("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 64)
	echo := func() (string, error) {
		if _, err := c.Write([]byte("dgram")); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(b)
		return string(b[:n]), err
	}
	if got, err := echo(); err != nil || got != "dgram" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if _, err := ProxyCommand(control, "cut"); err != nil {
		t.Fatal(err)
	}
	if got, err := echo(); !errors.Is(err, errTimeout(err)) || got != "" {
		t.Fatalf("through a cut proxy: %q, %v", got, err)
	}
	st, _ := proxyStats(control)
	if st.Dropped != 1 || st.Up != 5 || st.Down != 5 {
		t.Fatalf("stats %+v, want one dropped, 5 bytes each way", st)
	}
}

// errTimeout returns err if it is a timeout, else a sentinel that
// matches nothing.
func errTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}

func TestWANProxyBadFlags(t *testing.T) {
	var out bytes.Buffer
	code := runWANProxyCmd(context.Background(), []string{"--tcp", "nonsense", "--delay", "-1s"}, io.Discard, &out)
	if code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--control: is required", "--delay: must not be negative", `--tcp "nonsense": want LISTEN=TARGET`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in %q", want, out.String())
		}
	}
}

func TestWANConfigValidate(t *testing.T) {
	err := WANConfig{Mode: "staleness", Rate: 0, Cut: time.Second, Writes: 0}.Validate()
	for _, want := range []string{"primary: is required", "proxy: is required", "rate: must be positive", "remote: is required", "writes: must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err := (WANConfig{Mode: "nope", Remote: []string{"127.0.0.1:2181"}, Cut: time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Errorf("bad mode: %v", err)
	}
}
