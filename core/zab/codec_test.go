package zab

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleMessages() []Message {
	return []Message{
		{Type: MsgVote, From: 1, To: 2, Leader: 3, Zxid: MakeZxid(2, 7), Epoch: 2, ElectionEpoch: 9, State: Looking},
		{Type: MsgFollowerInfo, From: 2, To: 1, Epoch: 4, Zxid: MakeZxid(4, 1)},
		{Type: MsgObserverInfo, From: 7, To: 1, Epoch: 1},
		{Type: MsgLeaderInfo, From: 1, To: 2, Epoch: 5},
		{Type: MsgAckEpoch, From: 2, To: 1, Epoch: 4, Zxid: MakeZxid(4, 3), Flags: FlagEpochAlreadyAccepted},
		{Type: MsgDiff, From: 1, To: 2, Zxid: MakeZxid(4, 3)},
		{Type: MsgTrunc, From: 1, To: 2, Zxid: MakeZxid(3, 9)},
		{Type: MsgSnap, From: 1, To: 2, Zxid: MakeZxid(3, 9), Data: []byte("snapshot bytes")},
		{Type: MsgProposal, From: 1, To: 2, Zxid: MakeZxid(5, 1), Data: []byte{0, 1, 2}},
		{Type: MsgAck, From: 2, To: 1, Zxid: MakeZxid(5, 1)},
		{Type: MsgAck, From: 2, To: 1, Zxid: MakeZxid(5, 0), Epoch: 5, Flags: FlagNewLeader},
		{Type: MsgCommit, From: 1, To: 2, Zxid: MakeZxid(5, 1)},
		{Type: MsgInform, From: 1, To: 7, Zxid: MakeZxid(5, 1), Data: []byte("txn")},
		{Type: MsgNewLeader, From: 1, To: 2, Epoch: 5, Zxid: MakeZxid(4, 3)},
		{Type: MsgUpToDate, From: 1, To: 2},
		{Type: MsgPing, From: 2, To: 1, Data: []byte("session touches")},
		{Type: MsgRequest, From: 2, To: 1, Flags: FlagSync, Data: []byte("token")},
		{Type: MsgSync, From: 1, To: 2, Data: []byte("token")},
		{Type: MsgVote, From: 1<<63 + 5, To: 1, Zxid: -1, Epoch: -1, ElectionEpoch: -(1 << 62), State: Observing},
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := Marshal(m)
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
		}
	}
}

func TestMarshalIsCompact(t *testing.T) {
	// A COMMIT between small ids: type, mask, from, to, zxid.
	b := Marshal(Message{Type: MsgCommit, From: 1, To: 2, Zxid: MakeZxid(5, 1)})
	if len(b) > 10 {
		t.Fatalf("COMMIT takes %d bytes: % x", len(b), b)
	}
	// Wire numbers are fixed: the first byte is ZooKeeper's packet number.
	if b[0] != 4 {
		t.Fatalf("COMMIT encoded as type %d", b[0])
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good := Marshal(Message{Type: MsgProposal, From: 1, To: 2, Zxid: 5, Data: []byte("abc")})
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown type", []byte{99, 0}, ErrUnknownType},
		{"reserved hole", []byte{20, 0}, ErrUnknownType},
		{"no mask", []byte{2}, ErrMalformed},
		{"unknown field bit", []byte{2, 0x80, 0x04}, ErrMalformed},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing", append(append([]byte(nil), good...), 0), ErrMalformed},
		{"data too long", []byte{2, 0x80, 0x02, 0x7f}, ErrMalformed},
		{"bad state", []byte{32, 0x80, 0x01, 9}, ErrMalformed},
		{"unknown flag", []byte{3, 0x10, 0x40}, ErrMalformed},
		{"overlong varint", []byte{2, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
	}
	for _, c := range cases {
		if _, err := Unmarshal(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// Unmarshal hands out a view of the frame (the transport reads each frame
// into its own slice); appending to Data must not write into the frame.
func TestUnmarshalDataIsCappedView(t *testing.T) {
	b := Marshal(Message{Type: MsgProposal, From: 1, Data: []byte("abc")})
	b = append(b, 'x')[:len(b)] // room after the data, as a larger read buffer has
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "abc" || cap(m.Data) != 3 {
		t.Fatalf("Data = %q, cap %d; want \"abc\", cap 3", m.Data, cap(m.Data))
	}
	_ = append(m.Data, 'y')
	if b[:len(b)+1][len(b)] != 'x' {
		t.Fatal("appending to Data wrote past the message")
	}
}

func TestMessageTypeNames(t *testing.T) {
	for typ, name := range typeNames {
		got, ok := ParseMessageType(name)
		if !ok || got != typ {
			t.Errorf("ParseMessageType(%q) = %v, %v", name, got, ok)
		}
	}
	if MsgNewLeader.String() != "NEWLEADER" || MessageType(200).String() != "TYPE(200)" {
		t.Fatal("String")
	}
}

// FuzzUnmarshal: the decoder never panics, and whatever it accepts
// re-encodes to bytes that decode to the same message.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Marshal(m))
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again := Marshal(m)
		m2, err := Unmarshal(again)
		if err != nil {
			t.Fatalf("re-encoding of %v does not decode: %v", m, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("%v != %v", m, m2)
		}
		if !bytes.Equal(again, Marshal(m2)) {
			t.Fatal("encoding not stable")
		}
	})
}
