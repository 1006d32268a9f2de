package storage

import (
	"errors"
	"strings"
	"testing"
)

// TestLogConfigFieldErrors: Validate reports every problem as its own
// *FieldError (errors.Join), in zab's shape.
func TestLogConfigFieldErrors(t *testing.T) {
	err := LogConfig{SegmentSize: 1, Preallocate: -1, MaxRecordSize: 0, MaxBatchBytes: 0}.Validate()
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
		if want := "storage: config " + fe.Field + ": " + fe.Problem; e.Error() != want {
			t.Errorf("Error() = %q, want %q", e.Error(), want)
		}
		fields = append(fields, fe.Field)
	}
	if got := strings.Join(fields, " "); got != "SegmentSize Preallocate MaxRecordSize MaxBatchBytes" {
		t.Fatalf("fields %q", got)
	}
}
