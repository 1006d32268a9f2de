package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records non-negative int64 values (latencies in nanoseconds) in
// logarithmic buckets, HDR-style: values below 2^(subBits+1) are kept
// exactly, and every larger power-of-two range [2^k, 2^(k+1)) is cut into
// 2^subBits equal sub-buckets. A recorded value is therefore known to within
// a relative error of 2^-subBits (under 0.8%), whatever its magnitude, and
// the histogram uses at most a few tens of KiB.
//
// Count, Min, Max and Mean are exact. A Histogram is not safe for concurrent
// use: give each goroutine its own and Merge them.
type Histogram struct {
	counts []uint64 // grown on demand up to the largest bucket used
	count  uint64
	sum    float64
	min    int64
	max    int64
}

const (
	histSubBits  = 7
	histSubCount = 1 << histSubBits // sub-buckets per power of two
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

// bucketIndex maps a value to its bucket.
func bucketIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	n := bits.Len64(u)
	if n <= histSubBits+1 {
		return int(u) // exact region [0, 2*histSubCount)
	}
	shift := n - (histSubBits + 1)
	top := u >> uint(shift) // in [histSubCount, 2*histSubCount)
	return shift*histSubCount + int(top)
}

// bucketBounds returns the smallest and largest value that map to idx.
func bucketBounds(idx int) (lo, hi int64) {
	if idx < 2*histSubCount {
		return int64(idx), int64(idx)
	}
	shift := idx/histSubCount - 1
	top := uint64(idx - shift*histSubCount)
	lo64 := top << uint(shift)
	hi64 := ((top + 1) << uint(shift)) - 1
	if hi64 > math.MaxInt64 || hi64 < lo64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds one value. Negative values are recorded as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	idx := bucketIndex(v)
	if idx >= len(h.counts) {
		size := 2 * len(h.counts)
		if size <= idx {
			size = idx + 1
		}
		grown := make([]uint64, size)
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[idx]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
}

// RecordDuration adds one duration.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.count == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		grown := make([]uint64, len(o.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.count }

// Min is the smallest recorded value (0 when empty).
func (h *Histogram) Min() int64 { return h.min }

// Max is the largest recorded value (0 when empty).
func (h *Histogram) Max() int64 { return h.max }

// Mean is the average of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.count == 0 {
		return 0
	}
	return h.sum / float64(h.count)
}

// Quantile returns the value at quantile q in [0, 1]: the value of rank
// ceil(q*count) (at least 1) in sorted order, reported as the midpoint of its
// bucket and clamped to [Min, Max]. It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.count == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for idx, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(idx)
			mid := lo + (hi-lo)/2
			return max(h.min, min(h.max, mid))
		}
	}
	return h.max
}
