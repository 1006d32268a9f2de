package emulate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Spec is the impairment of one direction of one link: every packet
// written to the link's destination waits for its turn at Rate (if set),
// then travels Delay ± Jitter, unless it is lost (probability Loss) or the
// queue in front of the rate limiter already holds Limit packets.
//
// The zero Spec is a perfect link (no delay, no loss, no rate cap).
type Spec struct {
	// Delay is the one-way delay added to every packet.
	Delay time.Duration
	// Jitter spreads the delay uniformly over [Delay-Jitter, Delay+Jitter]
	// (never below zero). Packets of one link keep their order: a packet
	// that would overtake the previous one waits for it.
	Jitter time.Duration
	// Loss is the probability, in [0, 1], that a packet is dropped.
	Loss float64
	// Rate caps the link's bandwidth in bits per second (0: no cap).
	// Packets are queued and paced out at that rate.
	Rate int64
	// Limit bounds the packets waiting for the rate limiter; more are
	// dropped (tail drop). 0 means DefaultLimit. Ignored without Rate.
	Limit int
}

// Bounds of the values a Spec may hold.
const (
	MaxDelay     = 10 * time.Minute
	MaxRate      = int64(1e12) // 1 Tbit/s
	MaxLimit     = 1 << 20
	DefaultLimit = 1000
)

// SpecError is a problem ParseSpec (or Validate) found: the field, the
// byte offset in the spec string where it starts (-1 from Validate), and
// what is wrong.
type SpecError struct {
	Field   string
	Offset  int
	Problem string
}

func (e *SpecError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("emulate: spec %s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("emulate: spec %s at offset %d: %s", e.Field, e.Offset, e.Problem)
}

// rate units: name -> bits per unit. tc's conventions: "bit" units count
// bits, "bps" units count bytes; k, m, g are powers of 1000.
var rateUnits = []struct {
	name string
	bits float64
}{
	{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

// ParseSpec parses "delay=40ms,jitter=2ms,loss=0.01,rate=10mbit,limit=500".
// Every field is optional, each at most once, in any order; spaces around
// items are ignored; the empty string is the perfect link.
//
//	delay, jitter  Go durations ("40ms", "1.5s"), >= 0, at most MaxDelay
//	loss           a probability in [0, 1] ("0.01") or a percentage ("1%")
//	rate           a number and a unit: bit, kbit, mbit, gbit (bits per
//	               second) or bps, kbps, mbps, gbps (bytes per second),
//	               powers of 1000, at least 1 bit/s, at most MaxRate
//	limit          packets queued in front of the rate limiter, 1..MaxLimit
//
// Errors are *SpecError values naming the field and its offset.
func ParseSpec(s string) (Spec, error) {
	var sp Spec
	seen := map[string]bool{}
	off := 0
	for _, item := range strings.Split(s, ",") {
		start := off
		off += len(item) + 1
		trimmed := strings.TrimLeft(item, " \t")
		start += len(item) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t")
		if trimmed == "" {
			if strings.TrimSpace(s) == "" {
				return Spec{}, nil
			}
			return Spec{}, &SpecError{Field: "item", Offset: start, Problem: "empty item (stray comma?)"}
		}
		key, val, ok := strings.Cut(trimmed, "=")
		if !ok {
			return Spec{}, &SpecError{Field: trimmed, Offset: start, Problem: "expected key=value"}
		}
		voff := start + len(key) + 1
		bad := func(format string, args ...any) error {
			return &SpecError{Field: key, Offset: voff, Problem: fmt.Sprintf(format, args...)}
		}
		if seen[key] {
			return Spec{}, &SpecError{Field: key, Offset: start, Problem: "given twice"}
		}
		seen[key] = true
		switch key {
		case "delay", "jitter":
			d, err := time.ParseDuration(val)
			if err != nil {
				return Spec{}, bad("%q is not a duration (e.g. 40ms)", val)
			}
			if d < 0 || d > MaxDelay {
				return Spec{}, bad("%v, must be in [0, %v]", d, MaxDelay)
			}
			if key == "delay" {
				sp.Delay = d
			} else {
				sp.Jitter = d
			}
		case "loss":
			p, err := parseLoss(val)
			if err != nil {
				return Spec{}, bad("%v", err)
			}
			sp.Loss = p
		case "rate":
			r, err := parseRate(val)
			if err != nil {
				return Spec{}, bad("%v", err)
			}
			sp.Rate = r
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxLimit {
				return Spec{}, bad("%q, must be an integer in [1, %d]", val, MaxLimit)
			}
			sp.Limit = n
		default:
			return Spec{}, &SpecError{Field: key, Offset: start, Problem: "unknown field (want delay, jitter, loss, rate or limit)"}
		}
	}
	return sp, nil
}

func parseLoss(val string) (float64, error) {
	num, pct := strings.CutSuffix(val, "%")
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("%q is not a number (e.g. 0.01 or 1%%)", val)
	}
	if pct {
		p /= 100
	}
	if p < 0 || p > 1 {
		return 0, fmt.Errorf("%q, must be in [0, 1] (or [0%%, 100%%])", val)
	}
	return p, nil
}

func parseRate(val string) (int64, error) {
	lower := strings.ToLower(val)
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(lower, u.name)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%q: %q is not a number", val, num)
		}
		bits := math.Round(v * u.bits)
		if bits < 1 || bits > float64(MaxRate) {
			return 0, fmt.Errorf("%q, must be in [1bit, %dbit]", val, MaxRate)
		}
		return int64(bits), nil
	}
	return 0, fmt.Errorf("%q has no unit (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)", val)
}

// Validate checks a Spec built in code against the same bounds as
// ParseSpec.
func (s Spec) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &SpecError{Field: field, Offset: -1, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case s.Delay < 0 || s.Delay > MaxDelay:
		return bad("delay", "%v, must be in [0, %v]", s.Delay, MaxDelay)
	case s.Jitter < 0 || s.Jitter > MaxDelay:
		return bad("jitter", "%v, must be in [0, %v]", s.Jitter, MaxDelay)
	case !(s.Loss >= 0 && s.Loss <= 1):
		return bad("loss", "%v, must be in [0, 1]", s.Loss)
	case s.Rate < 0 || s.Rate > MaxRate:
		return bad("rate", "%d bit/s, must be in [0, %d]", s.Rate, MaxRate)
	case s.Limit < 0 || s.Limit > MaxLimit:
		return bad("limit", "%d, must be in [0, %d]", s.Limit, MaxLimit)
	}
	return nil
}

// String renders s in ParseSpec's syntax (zero fields left out), so that
// ParseSpec(s.String()) == s for every valid s.
func (s Spec) String() string {
	var parts []string
	if s.Delay != 0 {
		parts = append(parts, "delay="+s.Delay.String())
	}
	if s.Jitter != 0 {
		parts = append(parts, "jitter="+s.Jitter.String())
	}
	if s.Loss != 0 {
		parts = append(parts, "loss="+strconv.FormatFloat(s.Loss, 'g', -1, 64))
	}
	if s.Rate != 0 {
		parts = append(parts, "rate="+formatRate(s.Rate))
	}
	if s.Limit != 0 {
		parts = append(parts, "limit="+strconv.Itoa(s.Limit))
	}
	return strings.Join(parts, ",")
}

func formatRate(bits int64) string {
	for _, u := range []struct {
		name string
		div  int64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if bits%u.div == 0 {
			return strconv.FormatInt(bits/u.div, 10) + u.name
		}
	}
	return strconv.FormatInt(bits, 10) + "bit"
}
