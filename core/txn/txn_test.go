package txn

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
)

func samples() []*Txn {
	h := func(typ proto.Op) Header {
		return Header{SessionID: 0x100, Cxid: 7, Zxid: 0x500000001, Time: 1700000000000, Type: typ}
	}
	return []*Txn{
		{Header: h(proto.OpCreate), Body: &Create{Path: "/a", Data: []byte("x"), ACL: proto.OpenACLUnsafe, EphemeralOwner: TTLOwner(500), ParentCversion: 3}},
		{Header: h(proto.OpDelete), Body: &Delete{Path: "/a"}},
		{Header: h(proto.OpSetData), Body: &SetData{Path: "/a", Data: nil, Version: 2}},
		{Header: h(proto.OpSetACL), Body: &SetACL{Path: "/a", ACL: proto.ReadACLUnsafe, Version: 1}},
		{Header: h(proto.OpCreateSession), Body: &CreateSession{Timeout: 4000}},
		{Header: h(proto.OpCloseSession), Body: &CloseSession{Paths: []string{"/e1", "/e2"}}},
		{Header: h(proto.OpError), Body: &Error{Code: proto.CodeNodeExists}},
		{Header: h(OpSessionSecret), Body: &SessionSecret{Secret: bytes.Repeat([]byte{0xa5}, MinSessionSecretLen)}},
		{Header: h(proto.OpMulti), Body: &Multi{Ops: []Op{
			{Type: proto.OpCreate2, Body: &Create{Path: "/m", ACL: proto.OpenACLUnsafe, ParentCversion: 1}},
			{Type: proto.OpCheck, Body: &Check{Path: "/m", Version: 0}},
			{Type: proto.OpError, Body: &Error{Code: proto.CodeRuntimeInconsistency}},
		}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, x := range samples() {
		b := Encode(x)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v: %v", x.Type, err)
		}
		if !reflect.DeepEqual(got, x) {
			t.Fatalf("%v: round trip\n got %+v\nwant %+v", x.Type, got, x)
		}
		got, err = DecodeShared(b)
		if err != nil {
			t.Fatalf("%v: %v", x.Type, err)
		}
		if !reflect.DeepEqual(got, x) {
			t.Fatalf("%v: round trip\n got %+v\nwant %+v", x.Type, got, x)
		}
		if !bytes.Equal(Encode(got), b) {
			t.Fatalf("%v: encoding not stable", x.Type)
		}
	}
}

func TestOwnerMarkers(t *testing.T) {
	if ttl, ok := IsTTLOwner(TTLOwner(MaxTTL)); !ok || ttl != MaxTTL {
		t.Fatal("ttl marker")
	}
	if _, ok := IsTTLOwner(ContainerOwner); ok || IsSessionOwner(ContainerOwner) {
		t.Fatal("container marker")
	}
	sid := int64(1)<<56 | 12345
	if !IsSessionOwner(sid) || IsSessionOwner(0) || IsSessionOwner(TTLOwner(5)) {
		t.Fatal("session owner")
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	b := Encode(samples()[0])
	for _, bad := range [][]byte{nil, b[:10], append(append([]byte(nil), b...), 0)} {
		if _, err := Decode(bad); !errors.Is(err, ErrBadTxn) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, x := range samples() {
		f.Add(Encode(x))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must survive an encode/decode round trip unchanged
		// (null and empty vectors both decode as empty, so compare values).
		y, err := Decode(Encode(x))
		if err != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("round trip changed the transaction: %v\n%+v\n%+v", err, x, y)
		}
	})
}

func TestDecodeSharedViewsData(t *testing.T) {
	b := Encode(&Txn{Header: Header{Type: proto.OpSetData}, Body: &SetData{Path: "/a", Data: []byte("value"), Version: 1}})
	copied, _ := Decode(b)
	shared, err := DecodeShared(b)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("value"))
	b[i] = 'V'
	if got := string(copied.Body.(*SetData).Data); got != "value" {
		t.Fatalf("Decode's data changed with its input: %q", got)
	}
	if got := string(shared.Body.(*SetData).Data); got != "Value" {
		t.Fatalf("DecodeShared's data is not a view of its input: %q", got)
	}
}

// TestInternalTypesNeverCollide keeps the internal transaction types away
// from every opcode ZooKeeper defines or a client may send.
func TestInternalTypesNeverCollide(t *testing.T) {
	if OpSessionSecret.String() != "unknown" || OpSessionSecret.IsWrite() {
		t.Fatalf("OpSessionSecret %d is a ZooKeeper opcode (%s)", OpSessionSecret, OpSessionSecret)
	}
	if OpSessionSecret > -1001 {
		t.Fatalf("internal types are numbered from -1001 down, got %d", OpSessionSecret)
	}
	if TypeName(OpSessionSecret) != "sessionSecret" || TypeName(proto.OpCreate) != "create" {
		t.Fatal("TypeName")
	}
}
