package zab

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
)

func validConfig() Config {
	cfg := DefaultConfig()
	cfg.ID = 1
	cfg.Voters = []uint64{1, 2, 3}
	cfg.Rand = rand.New(rand.NewSource(1))
	cfg.Log = NewMemLog()
	return cfg
}

func TestDefaultConfigPlusIdentityIsValid(t *testing.T) {
	cfg := validConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Config{
		Voters:        []uint64{1, 1, 0},
		InitLimit:     0,
		SyncLimit:     -1,
		FinalizeTicks: -2,
		MaxCounter:    1 << 40,
		AcceptedEpoch: 1,
		CurrentEpoch:  2,
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, field := range []string{"ID", "Voters", "InitLimit", "SyncLimit", "ElectionTicks",
		"FinalizeTicks", "MaxCounter", "Rand", "CurrentEpoch", "Log"} {
		if !strings.Contains(err.Error(), "config "+field+":") {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatal("not a FieldError")
	}
}

func TestValidateChecksDurableStateAgainstLog(t *testing.T) {
	cfg := validConfig()
	log := NewMemLog()
	if err := log.Append(Entry{Zxid: MakeZxid(2, 1)}, Entry{Zxid: MakeZxid(2, 2)}); err != nil {
		t.Fatal(err)
	}
	cfg.Log = log
	cfg.AcceptedEpoch, cfg.CurrentEpoch = 1, 1
	cfg.LastCommittedZxid = MakeZxid(2, 3)
	err := cfg.Validate()
	for _, field := range []string{"LastCommittedZxid", "AcceptedEpoch"} {
		if err == nil || !strings.Contains(err.Error(), "config "+field+":") {
			t.Errorf("no problem reported for %s: %v", field, err)
		}
	}
}

func TestNewRefusesALogWithHoles(t *testing.T) {
	cfg := validConfig()
	cfg.Log = holeyLog{NewMemLog()}
	cfg.AcceptedEpoch, cfg.CurrentEpoch = 1, 1
	if _, err := New(cfg); !errors.Is(err, ErrLogGap) {
		t.Fatalf("got %v, want ErrLogGap", err)
	}
}

// holeyLog claims entries 1.1 and 1.3 (1.2 missing), as a corrupted log would.
type holeyLog struct{ *MemLog }

func (holeyLog) LastZxid() int64 { return MakeZxid(1, 3) }
func (holeyLog) Entries(after, upTo int64) ([]Entry, error) {
	return []Entry{{Zxid: MakeZxid(1, 1)}, {Zxid: MakeZxid(1, 3)}}, nil
}
