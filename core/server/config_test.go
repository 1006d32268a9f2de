package server

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConfigFieldErrors: Validate reports every problem at once, each a
// *FieldError in zab's shape ("server: config <Field>: <problem>")
// matching ErrInvalidConfig; the log's own problems are named Log.<field>.
func TestConfigFieldErrors(t *testing.T) {
	if c := DefaultConfig(); c.Validate() != nil {
		t.Fatalf("default config invalid: %v", c.Validate())
	}
	c := DefaultConfig()
	c.ServerID = 0
	c.ClientAddr = "nope"
	c.MinSessionTimeout = -time.Second
	c.MaxPacketSize = 10
	c.SuperDigest = "root:D/InIHSb7yEEbrWz8b9l71RjZJU="
	c.ContainerMaxNeverUsed = -time.Minute
	c.Log.SegmentSize = 1
	c.SnapRetainCount = 2
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate returned %T, want an errors.Join", err)
	}
	var fields []string
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) || !errors.Is(e, ErrInvalidConfig) {
			t.Fatalf("problem %T %v is not a *FieldError matching ErrInvalidConfig", e, e)
		}
		if want := "server: config " + fe.Field + ": " + fe.Problem; e.Error() != want {
			t.Errorf("Error() = %q, want %q", e.Error(), want)
		}
		fields = append(fields, fe.Field)
	}
	want := "ServerID ClientAddr MinSessionTimeout MaxPacketSize SuperDigest ContainerMaxNeverUsed Log.SegmentSize SnapRetainCount"
	if got := strings.Join(fields, " "); got != want {
		t.Fatalf("fields %q, want %q", got, want)
	}
}
