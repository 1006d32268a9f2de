package bench

import (
	"flag"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: from the clock)")

// testSeed returns the seed for a randomized test and logs how to replay it.
func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed=%d (replay with: go test ./cmd/zoogate/bench -run '%s' -seed %d)", s, t.Name(), s)
	return uint64(s)
}

// exactQuantile is the reference: the value of rank ceil(q*n) in sorted order.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistogramQuantilesWithinRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	// Latency-like data: log-normal-ish spread from ~1µs to ~10s, plus
	// small exact values.
	var vals []int64
	h := NewHistogram()
	for i := 0; i < 200000; i++ {
		var v int64
		if i%50 == 0 {
			v = rng.Int64N(300)
		} else {
			v = int64(math.Exp(rng.NormFloat64()*2.5 + 13)) // median ~0.44 ms
		}
		vals = append(vals, v)
		h.Record(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	const maxRel = 1.0 / histSubCount // bucket width relative to its value
	for _, q := range []float64{0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		want := exactQuantile(vals, q)
		got := h.Quantile(q)
		diff := math.Abs(float64(got - want))
		if diff > maxRel*float64(want)+0.5 {
			t.Errorf("q=%v: got %d, exact %d, relative error %.5f > %.5f", q, got, want, diff/float64(want), maxRel)
		}
	}
	if h.Count() != uint64(len(vals)) {
		t.Errorf("Count = %d, want %d", h.Count(), len(vals))
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
		t.Errorf("Min/Max = %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	if got, want := h.Mean(), sum/float64(len(vals)); math.Abs(got-want) > 1e-6*want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

func TestHistogramSmallValuesAreExact(t *testing.T) {
	h := NewHistogram()
	for v := int64(0); v < 2*histSubCount; v++ {
		h.Record(v)
	}
	for v := int64(0); v < 2*histSubCount; v++ {
		q := float64(v+1) / float64(2*histSubCount)
		if got := h.Quantile(q); got != v {
			t.Fatalf("Quantile(%v) = %d, want exactly %d", q, got, v)
		}
	}
}

func TestHistogramBucketsAreContiguousAndContainTheirValues(t *testing.T) {
	prevHi := int64(-1)
	for idx := 0; idx <= bucketIndex(math.MaxInt64); idx++ {
		lo, hi := bucketBounds(idx)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", idx, lo, prevHi)
		}
		if bucketIndex(lo) != idx || bucketIndex(hi) != idx {
			t.Fatalf("bucket %d = [%d,%d] but values map to %d and %d", idx, lo, hi, bucketIndex(lo), bucketIndex(hi))
		}
		if lo >= 2*histSubCount && float64(hi-lo+1)/float64(lo) > 1.0/histSubCount+1e-12 {
			t.Fatalf("bucket %d = [%d,%d] is wider than 1/%d of its value", idx, lo, hi, histSubCount)
		}
		prevHi = hi
	}
	if idx := bucketIndex(math.MaxInt64); idx < 0 {
		t.Fatalf("MaxInt64 maps to %d", idx)
	}
	if _, hi := bucketBounds(bucketIndex(math.MaxInt64)); hi != math.MaxInt64 {
		t.Fatalf("the last bucket ends at %d, want MaxInt64", hi)
	}
}

func TestHistogramMergeEqualsRecordingEverything(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for i := 0; i < 5000; i++ {
		v := rng.Int64N(1 << 40)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	a.Merge(b)
	a.Merge(nil)
	a.Merge(NewHistogram())
	if a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatalf("merged count/min/max %d/%d/%d, want %d/%d/%d", a.Count(), a.Min(), a.Max(), all.Count(), all.Min(), all.Max())
	}
	for _, q := range []float64{0, 0.25, 0.5, 0.99, 1} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q=%v: merged %d, direct %d", q, a.Quantile(q), all.Quantile(q))
		}
	}
	// Merging into an empty histogram copies min correctly.
	e := NewHistogram()
	e.Merge(all)
	if e.Min() != all.Min() {
		t.Errorf("empty.Merge: min %d, want %d", e.Min(), all.Min())
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	h.Record(-5) // clamped to 0
	h.RecordDuration(3 * time.Second)
	if h.Min() != 0 {
		t.Errorf("negative value: Min = %d, want 0", h.Min())
	}
	if got := h.Quantile(1); got != int64(3*time.Second) {
		t.Errorf("Quantile(1) = %d, want the max %d", got, int64(3*time.Second))
	}
	if got := h.Quantile(0); got != 0 {
		t.Errorf("Quantile(0) = %d, want the min 0", got)
	}
	// A single value is reported exactly (clamped to [min, max]).
	one := NewHistogram()
	one.Record(123456789)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if got := one.Quantile(q); got != 123456789 {
			t.Errorf("single value: Quantile(%v) = %d", q, got)
		}
	}
}
