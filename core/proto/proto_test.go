package proto

import (
	"errors"
	"strings"
	"testing"

	"github.com/zoogate/zoogate/core/jute"
)

func TestCodeMapping(t *testing.T) {
	for c, e := range codeErrs {
		if got := CodeOf(e); got != c {
			t.Errorf("CodeOf(%v) = %d, want %d", e, got, c)
		}
		if got := ErrorOf(c); got != e {
			t.Errorf("ErrorOf(%d) = %v", c, got)
		}
		wrapped := &PathError{Path: "/x", Err: e}
		if CodeOf(wrapped) != c || !errors.Is(wrapped, e) {
			t.Errorf("wrapped %v lost its code", e)
		}
	}
	if CodeOf(nil) != CodeOK || CodeOf(errors.New("other")) != CodeSystemError {
		t.Fatal("nil or foreign error")
	}
	if CodeOf(ErrorOf(-999)) != -999 {
		t.Fatal("unknown code not kept")
	}
}

func TestValidatePath(t *testing.T) {
	good := []string{"/", "/a", "/a/b.c", "/a/..b", "/zookeeper", "/ä/日本"}
	bad := []string{"", "a", "/a/", "//", "/a//b", "/.", "/a/..", "/a/./b", "/a\x00b", "/a\x1f", "/a\u007f", "/a\u009f", "/a\ue000", "/a\ufff0", "/a\U0001F600", "/a\xff"}
	for _, p := range good {
		if err := ValidatePath(p); err != nil {
			t.Errorf("%q rejected: %v", p, err)
		}
	}
	for _, p := range bad {
		err := ValidatePath(p)
		if !errors.Is(err, ErrBadArguments) {
			t.Errorf("%q accepted (%v)", p, err)
		}
	}
	if err := ValidatePath("/a//b"); !strings.Contains(err.Error(), "index 3") {
		t.Errorf("error does not say where: %v", err)
	}
}

func TestPathHelpers(t *testing.T) {
	if ParentPath("/a") != "/" || ParentPath("/a/b") != "/a" || BaseName("/a/b") != "b" || JoinPath("/", "a") != "/a" || JoinPath("/a", "b") != "/a/b" {
		t.Fatal("path helpers")
	}
}

func TestStatIs68Bytes(t *testing.T) {
	e := jute.NewEncoder(nil)
	s := Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
	s.Encode(e)
	if e.Len() != 68 {
		t.Fatalf("stat is %d bytes", e.Len())
	}
	if got := DecodeStat(jute.NewDecoder(e.Bytes(), 0)); got != s {
		t.Fatalf("round trip %+v", got)
	}
}

func TestMultiRoundTrip(t *testing.T) {
	ops := []MultiOp{
		{Type: OpCreate, Create: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, TTL: -1}},
		{Type: OpCreateTTL, Create: &CreateRequest{Path: "/t", ACL: OpenACLUnsafe, Flags: 5, TTL: 99}},
		{Type: OpDelete, Path: &PathVersion{Path: "/b", Version: 3}},
		{Type: OpSetData, SetData: &SetDataRequest{Path: "/c", Data: []byte("y"), Version: -1}},
		{Type: OpCheck, Path: &PathVersion{Path: "/d", Version: 1}},
	}
	e := jute.NewEncoder(nil)
	EncodeMulti(e, ops)
	got, err := DecodeMulti(jute.NewDecoder(e.Bytes(), 0))
	if err != nil || len(got) != len(ops) || got[1].Create.TTL != 99 || got[2].Path.Version != 3 || string(got[3].SetData.Data) != "y" {
		t.Fatalf("%+v %v", got, err)
	}
	e.Reset()
	e.Int(99)
	e.Bool(false)
	e.Int(-1)
	if _, err := DecodeMulti(jute.NewDecoder(e.Bytes(), 0)); !errors.Is(err, ErrBadMultiOp) {
		t.Fatalf("bad op: %v", err)
	}
}

// FuzzRequestRecords feeds arbitrary bytes to every request decoder, as the
// server does with a frame's body after the header. None may panic, loop or
// allocate beyond the input.
func FuzzRequestRecords(f *testing.F) {
	e := jute.NewEncoder(nil)
	(&CreateRequest{Path: "/a", Data: []byte("d"), ACL: OpenACLUnsafe, Flags: 3}).Encode(e, true)
	f.Add(int32(OpCreateTTL), e.Bytes())
	e = jute.NewEncoder(nil)
	EncodeMulti(e, []MultiOp{{Type: OpDelete, Path: &PathVersion{Path: "/x", Version: -1}}})
	f.Add(int32(OpMulti), e.Bytes())
	e = jute.NewEncoder(nil)
	(&ConnectRequest{Timeout: 3000, Passwd: make([]byte, 16), HasReadOnly: true}).Encode(e)
	f.Add(int32(-100), e.Bytes())
	f.Add(int32(OpSetWatches2), []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, '/'})
	f.Fuzz(func(t *testing.T, op int32, b []byte) {
		d := jute.NewDecoder(b, 1<<20)
		switch Op(op) {
		case OpCreate, OpCreate2, OpCreateContainer:
			DecodeCreate(d, false)
		case OpCreateTTL:
			DecodeCreate(d, true)
		case OpDelete, OpCheck:
			DecodePathVersion(d)
		case OpExists, OpGetData, OpGetChildren, OpGetChildren2:
			DecodePathWatch(d)
		case OpSetData:
			DecodeSetData(d)
		case OpSetACL:
			DecodeSetACL(d)
		case OpMulti, OpMultiRead:
			DecodeMulti(d)
		case OpAuth:
			DecodeAuth(d)
		case OpSetWatches, OpSetWatches2:
			DecodeSetWatches(d, Op(op) == OpSetWatches2)
		case OpAddWatch, OpCheckWatches, OpRemoveWatches:
			DecodePathType(d)
		case OpReconfig:
			DecodeReconfig(d)
		default:
			DecodeConnectRequest(b, 1<<20)
			DecodeRequestHeader(d)
		}
		if d.Offset() > len(b) {
			t.Fatal("read past the input")
		}
	})
}
