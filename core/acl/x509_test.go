package acl

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/zoogate/zoogate/core/proto"
)

func atv(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidUID   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// TestX509ID: the subject in RFC 2253 form as Java's X500Principal.getName()
// writes it: most specific RDN first, no spaces, escapes, + between the
// values of one RDN, dotted OID and #hex for types without a keyword.
func TestX509ID(t *testing.T) {
	ia5 := func(s string) asn1.RawValue {
		return asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(s)}
	}
	for _, tc := range []struct {
		name string
		rdns pkix.RDNSequence
		want string
	}{
		{"go's pkix.Name order", pkix.Name{CommonName: "client", Organization: []string{"zoogate"}}.ToRDNSequence(), "CN=client,O=zoogate"},
		{"reversed, escaped", pkix.RDNSequence{
			{atv(oidC, "US")}, {atv(oidO, "Acme, Inc.")}, {atv(oidOU, "a+b=c")}, {atv(oidCN, " #x;\"y\" ")},
		}, `CN=\ \#x\;\"y\"\ ,OU=a\+b\=c,O=Acme\, Inc.,C=US`},
		{"multi-valued RDN", pkix.RDNSequence{{atv(oidDC, ia5("example"))}, {atv(oidCN, "a"), atv(oidUID, "b")}}, "CN=a+UID=b,DC=example"},
		{"no keyword", pkix.RDNSequence{{atv(oidO, "zoogate")}, {atv(oidEmail, ia5("a@b"))}, {atv(oidCN, "c")}}, "CN=c,1.2.840.113549.1.9.1=#1603614062,O=zoogate"},
	} {
		raw, err := asn1.Marshal(tc.rdns)
		if err != nil {
			t.Fatal(err)
		}
		if got := X509ID(&x509.Certificate{RawSubject: raw}); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestX509ACLs(t *testing.T) {
	me := []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: X509Scheme, ID: "CN=client,O=zoogate"}}
	got, err := Fixup([]proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "auth"}}}, me)
	if err != nil || len(got) != 1 || got[0].ID != me[1] {
		t.Fatalf("auth ACL of an x509 client: %v, %v", got, err)
	}
	if _, err := Fixup([]proto.ACL{{Perms: 31, ID: proto.ID{Scheme: X509Scheme}}}, me); err == nil {
		t.Fatal("an x509 ACL with an empty id was accepted")
	}
	acl := []proto.ACL{{Perms: 31, ID: me[1]}}
	if !Check(acl, 1, me) || Check(acl, 1, me[:1]) || Check(acl, 1, []proto.ID{{Scheme: X509Scheme, ID: "CN=other,O=zoogate"}}) {
		t.Fatal("x509 ACL check")
	}
}
