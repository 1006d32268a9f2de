package peer

import (
	"errors"
	"testing"
	"time"
)

func TestTCPConfigValidate(t *testing.T) {
	ok := testTCPConfig(1, map[uint64]string{1: "127.0.0.1:1"}, 1)
	ok.ListenAddr = "127.0.0.1:0"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	var c TCPConfig
	c.Peers = map[uint64]string{0: "x", 2: "nope"}
	c.Cluster = string(make([]byte, 300))
	c.BackoffMin, c.BackoffMax = 2*time.Second, time.Second
	c.SpoolDir = "relative/dir"
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("%v", err)
	}
	for _, field := range []string{"ID", "ListenAddr", "Peers", "Cluster", "DialTimeout", "HandshakeTimeout",
		"BackoffMax", "ConnectWait", "WriteTimeout", "CloseLinger", "ReplaceGrace", "MaxFrameSize",
		"MaxQueueBytes", "MaxInboxBytes", "SnapshotChunkSize", "MaxSnapshotSize", "SpoolDir"} {
		if !containsField(err, field) {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
	if _, err := NewTCP(c, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewTCP accepted an invalid config: %v", err)
	}
}

func containsField(err error, field string) bool {
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if fe, ok := e.(*FieldError); ok && fe.Field == field {
			return true
		}
	}
	return false
}

// TestTCPConfigValidateLearners: Upstreams entries are checked.
func TestTCPConfigValidateLearners(t *testing.T) {
	c := testTCPConfig(1, map[uint64]string{1: "127.0.0.1:1", 2: "127.0.0.1:2"}, 1)
	c.ListenAddr = "127.0.0.1:0"
	c.Upstreams = map[uint64]string{5: "127.0.0.1:5"}
	c.AcceptLearners = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, ups := range map[string]map[uint64]string{
		"zero": {0: "127.0.0.1:5"}, "self": {1: "127.0.0.1:5"}, "voter": {2: "127.0.0.1:2"}, "addr": {5: "nowhere"},
	} {
		c.Upstreams = ups
		err := c.Validate()
		if err == nil || !containsField(err, "Upstreams") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A learner needs no Peers.
	l := testTCPConfig(9, nil, 1)
	l.ListenAddr = "127.0.0.1:0"
	l.Upstreams = map[uint64]string{1: "127.0.0.1:1"}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
}
