package wan

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hclog.Logger is what callers pass; wan cannot import it (DESIGN.md §2),
// so check here that it satisfies Logger.
var _ Logger = hclog.NewNullLogger()

func TestConfigValidate(t *testing.T) {
	c := newCA(t, "ca")
	good := DefaultConfig()
	good.ID, good.Cluster, good.ListenAddr, good.TLS = 4, testCluster, "127.0.0.1:0", c.tlsFor(t, 4)
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}

	bad := Config{
		Cluster:             strings.Repeat("x", 256),
		ListenAddr:          "nonsense",
		Dial:                map[uint64]string{0: "a:1", 3: "nope"},
		KeepAlive:           time.Minute,
		IdleTimeout:         time.Second,
		BackoffMin:          time.Second,
		BackoffMax:          time.Millisecond,
		MaxFrameSize:        10,
		SpoolDir:            "relative/dir",
		StreamReceiveWindow: 1 << 20,
		ConnReceiveWindow:   1 << 19,
	}
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("%v does not match ErrInvalidConfig", err)
	}
	fields := map[string]bool{}
	var fe *FieldError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		if !strings.HasPrefix(e.Error(), "wan: config "+fe.Field+": ") {
			t.Fatalf("message %q", e.Error())
		}
		fields[fe.Field] = true
	}
	for _, f := range []string{"ID", "Cluster", "TLS", "ListenAddr", "Dial", "HandshakeTimeout", "KeepAlive",
		"BackoffMax", "ConnectWait", "CloseLinger", "MaxFrameSize", "MaxBlobSize", "SpoolDir", "MaxQueueBytes",
		"MaxInboxBytes", "ConnReceiveWindow"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s in:\n%v", f, err)
		}
	}
	if !strings.Contains(err.Error(), "nothing crosses the WAN in plaintext") {
		t.Errorf("the TLS problem does not say why:\n%v", err)
	}
}
