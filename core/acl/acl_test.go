package acl

import (
	"errors"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
)

func TestDigest(t *testing.T) {
	if got := DigestOf("user:password"); got != "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=" {
		t.Fatal(got)
	}
	if got := DigestOf("super:admin"); got != "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=" {
		t.Fatal(got)
	}
	ids, err := Authenticate("digest", []byte("super:admin"), "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=")
	if err != nil || !IsSuper(ids) {
		t.Fatalf("super: %v %v", ids, err)
	}
	if _, err := Authenticate("sasl", nil, ""); !errors.Is(err, ErrUnknownScheme) {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	ip := []proto.ID{{Scheme: "ip", ID: "192.168.1.7"}}
	cases := []struct {
		acl  []proto.ACL
		perm int32
		ids  []proto.ID
		want bool
	}{
		{proto.OpenACLUnsafe, proto.PermWrite, nil, true},
		{proto.ReadACLUnsafe, proto.PermWrite, nil, false},
		{nil, proto.PermAdmin, nil, true},
		{[]proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "ip", ID: "192.168.0.0/16"}}}, proto.PermRead, ip, true},
		{[]proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "ip", ID: "192.168.2.0/24"}}}, proto.PermRead, ip, false},
		{[]proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "ip", ID: "::1"}}}, proto.PermRead, ip, false},
		{[]proto.ACL{{Perms: proto.PermRead, ID: proto.ID{Scheme: "digest", ID: "u:h"}}}, proto.PermRead, []proto.ID{{Scheme: "digest", ID: "u:h"}}, true},
		{proto.ReadACLUnsafe, proto.PermWrite, []proto.ID{SuperID}, true},
	}
	for i, c := range cases {
		if got := Check(c.acl, c.perm, c.ids); got != c.want {
			t.Errorf("case %d: %v", i, got)
		}
	}
}

func TestFixup(t *testing.T) {
	me := []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "u:h"}}
	got, err := Fixup([]proto.ACL{
		{Perms: proto.PermAll, ID: proto.ID{Scheme: "auth"}},
		{Perms: proto.PermRead, ID: proto.AnyoneID},
		{Perms: proto.PermRead, ID: proto.AnyoneID},
	}, me)
	if err != nil || len(got) != 2 || got[0].ID.Scheme != "digest" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range [][]proto.ACL{
		nil,
		{{Perms: 1, ID: proto.ID{Scheme: "world", ID: "someone"}}},
		{{Perms: 1, ID: proto.ID{Scheme: "digest", ID: "nocolon"}}},
		{{Perms: 1, ID: proto.ID{Scheme: "ip", ID: "1.2.3.4/40"}}},
		{{Perms: 1, ID: proto.ID{Scheme: "super", ID: ""}}},
		{{Perms: 1, ID: proto.ID{Scheme: "auth"}}},
	} {
		if _, err := Fixup(bad, me[:1]); !errors.Is(err, proto.ErrInvalidACL) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	if m := MaskDigests([]proto.ACL{{ID: proto.ID{Scheme: "digest", ID: "u:h"}}}); m[0].ID.ID != "u:x" {
		t.Fatal(m)
	}
}
