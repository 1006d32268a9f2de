package zab

import "fmt"

// A zxid is epoch<<32 | counter. Order of zxids is order of application.

// CounterMask selects the counter half of a zxid.
const CounterMask = 0xffffffff

// MakeZxid builds a zxid from an epoch and a counter.
func MakeZxid(epoch, counter int64) int64 { return epoch<<32 | counter&CounterMask }

// EpochOf returns the epoch half of a zxid.
func EpochOf(zxid int64) int64 { return zxid >> 32 }

// CounterOf returns the counter half of a zxid.
func CounterOf(zxid int64) int64 { return zxid & CounterMask }

// FormatZxid prints a zxid the way ZooKeeper does (0x100000002).
func FormatZxid(zxid int64) string { return fmt.Sprintf("0x%x", zxid) }

// follows reports whether next may directly follow prev in a log: the next
// counter of the same epoch, or counter 1 of a later epoch. prev is the last
// entry (or the snapshot zxid, or 0 for an empty history).
func follows(prev, next int64) bool {
	pe, ne := EpochOf(prev), EpochOf(next)
	if ne == pe {
		return CounterOf(next) == CounterOf(prev)+1
	}
	return ne > pe && CounterOf(next) == 1
}

// checkContiguous verifies that ents follow prev one after the other.
func checkContiguous(prev int64, ents []Entry) error {
	for _, e := range ents {
		if !follows(prev, e.Zxid) {
			return fmt.Errorf("%w: %s after %s", ErrLogGap, FormatZxid(e.Zxid), FormatZxid(prev))
		}
		prev = e.Zxid
	}
	return nil
}
