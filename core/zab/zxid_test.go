package zab

import "testing"

func TestZxid(t *testing.T) {
	z := MakeZxid(3, 7)
	if EpochOf(z) != 3 || CounterOf(z) != 7 || FormatZxid(z) != "0x300000007" {
		t.Fatalf("zxid %x", z)
	}
	cases := []struct {
		prev, next int64
		ok         bool
	}{
		{0, MakeZxid(1, 1), true},
		{0, MakeZxid(1, 2), false},
		{MakeZxid(1, 5), MakeZxid(1, 6), true},
		{MakeZxid(1, 5), MakeZxid(1, 7), false},
		{MakeZxid(1, 5), MakeZxid(3, 1), true},
		{MakeZxid(1, 5), MakeZxid(3, 2), false},
		{MakeZxid(2, 5), MakeZxid(1, 6), false},
		{MakeZxid(1, 5), MakeZxid(1, 5), false},
	}
	for _, c := range cases {
		if follows(c.prev, c.next) != c.ok {
			t.Errorf("follows(%s, %s) != %v", FormatZxid(c.prev), FormatZxid(c.next), c.ok)
		}
	}
}

func TestVoteOrder(t *testing.T) {
	a := vote{Leader: 1, Zxid: MakeZxid(1, 9), Epoch: 2}
	cases := []struct {
		b     vote
		aWins bool
	}{
		{vote{Leader: 3, Zxid: MakeZxid(5, 1), Epoch: 1}, true},  // peerEpoch first
		{vote{Leader: 3, Zxid: MakeZxid(1, 8), Epoch: 2}, true},  // then zxid
		{vote{Leader: 3, Zxid: MakeZxid(1, 9), Epoch: 2}, false}, // then sid
		{vote{Leader: 3, Zxid: MakeZxid(1, 1), Epoch: 3}, false},
		{vote{}, true}, // an observer's empty vote loses to any
	}
	for _, c := range cases {
		if a.beats(c.b) != c.aWins || (c.b.Leader != 0 && c.b.beats(a) == c.aWins) {
			t.Errorf("%+v vs %+v: want aWins=%v", a, c.b, c.aWins)
		}
	}
	if (vote{}).beats(a) {
		t.Error("an empty vote beats a real one")
	}
}
