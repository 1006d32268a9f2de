package acl

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// X509Scheme is the ACL scheme of identities proven by a client
// certificate on the TLS client port: id = the certificate's subject.
const X509Scheme = "x509"

// x509Keywords are the attribute types written by name in an RFC 2253
// distinguished name, the set Java's X500Principal.getName() uses (which
// is what ZooKeeper's x509 provider takes as the id). Every other type is
// written as its dotted OID with a #hex value.
var x509Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// X509ID is a certificate's subject as an RFC 2253 distinguished name, in
// the form Java's X500Principal.getName() gives ("CN=client,O=zoogate"):
// the most specific RDN first, RDNs joined by ",", the values of a
// multi-valued RDN by "+", no spaces.
func X509ID(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) != 0 {
		return cert.Subject.String() // unparsable raw subject: Go's own RFC 2253 form
	}
	var rawRDNs []asn1.RawValue // the DER of each value, for the #hex form
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err == nil {
		rawRDNs = rawAttributeValues(seq.Bytes)
	}
	var b strings.Builder
	k := len(rawRDNs)
	for i := len(rdns) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		// rawRDNs lists the values in file order; find this RDN's first one.
		first := 0
		for j := 0; j < i; j++ {
			first += len(rdns[j])
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			var raw []byte
			if first+j < k {
				raw = rawRDNs[first+j].FullBytes
			}
			writeATV(&b, atv, raw)
		}
	}
	return b.String()
}

// rawAttributeValues walks RDNSequence DER (SEQUENCE OF SET OF
// SEQUENCE{type, value}) and returns every value's raw encoding, in order.
func rawAttributeValues(seq []byte) []asn1.RawValue {
	var out []asn1.RawValue
	for len(seq) > 0 {
		var set asn1.RawValue
		rest, err := asn1.Unmarshal(seq, &set)
		if err != nil {
			return nil
		}
		seq = rest
		inner := set.Bytes
		for len(inner) > 0 {
			var atv struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}
			r, err := asn1.Unmarshal(inner, &atv)
			if err != nil {
				return nil
			}
			inner = r
			out = append(out, atv.Value)
		}
	}
	return out
}

func writeATV(b *strings.Builder, atv pkix.AttributeTypeAndValue, raw []byte) {
	oid := atv.Type.String()
	name, known := x509Keywords[oid]
	s, isString := atv.Value.(string)
	if !known || !isString {
		if !known {
			name = oid
		}
		b.WriteString(name)
		b.WriteString("=#")
		if raw == nil {
			raw, _ = asn1.Marshal(atv.Value)
		}
		b.WriteString(hex.EncodeToString(raw))
		return
	}
	b.WriteString(name)
	b.WriteByte('=')
	writeRFC2253Value(b, s)
}

// writeRFC2253Value escapes a string value with backslashes: the
// characters RFC 2253 reserves (and '=' and '#', as Java does anywhere in
// the value), NUL as \00, and a leading or trailing space.
func writeRFC2253Value(b *strings.Builder, s string) {
	for i, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString(`\00`)
		case r == ' ' && (i == 0 || i == len(s)-1):
			b.WriteString(`\ `)
		default:
			b.WriteRune(r)
		}
	}
}
