package acl

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/zoogate/zoogate/core/proto"
)

// SuperID is the identity that bypasses every ACL check.
var SuperID = proto.ID{Scheme: "super", ID: ""}

// ErrUnknownScheme reports an auth packet whose scheme has no provider.
var ErrUnknownScheme = errors.New("acl: no authentication provider for scheme")

// DigestOf returns "user:BASE64(SHA1(user:password))" for "user:password".
func DigestOf(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Authenticate handles an auth packet. It returns the identities to add to
// the connection: digest auth always succeeds and adds digest:<digest>, plus
// super when the digest equals superDigest ("super:<hash>").
func Authenticate(scheme string, auth []byte, superDigest string) ([]proto.ID, error) {
	switch scheme {
	case "digest":
		d := DigestOf(string(auth))
		ids := []proto.ID{{Scheme: "digest", ID: d}}
		if superDigest != "" && d == superDigest {
			ids = append(ids, SuperID)
		}
		return ids, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownScheme, scheme)
}

// IsSuper reports whether ids include the super identity.
func IsSuper(ids []proto.ID) bool {
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	return false
}

// Check reports whether a caller holding ids has perm on a node with acl.
func Check(acl []proto.ACL, perm int32, ids []proto.ID) bool {
	if len(acl) == 0 || IsSuper(ids) {
		return true
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range ids {
			if id.Scheme == a.ID.Scheme && matches(a.ID.Scheme, id.ID, a.ID.ID) {
				return true
			}
		}
	}
	return false
}

func matches(scheme, have, want string) bool {
	switch scheme {
	case "ip":
		return ipMatches(have, want)
	default:
		return have == want
	}
}

// ipMatches checks an address against "addr" or "addr/bits".
func ipMatches(addr, pattern string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	host, bitsStr, hasBits := strings.Cut(pattern, "/")
	want := net.ParseIP(host)
	if want == nil {
		return false
	}
	if (ip.To4() == nil) != (want.To4() == nil) {
		return false
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip, want = ip4, want.To4()
	}
	bits := len(ip) * 8
	if hasBits {
		b, err := strconv.Atoi(bitsStr)
		if err != nil || b < 0 || b > len(ip)*8 {
			return false
		}
		bits = b
	}
	mask := net.CIDRMask(bits, len(ip)*8)
	return ip.Mask(mask).Equal(want.Mask(mask))
}

// validID reports whether an ACL id is well formed for its scheme.
func validID(id proto.ID) bool {
	switch id.Scheme {
	case "world":
		return id.ID == "anyone"
	case "digest":
		return strings.Count(id.ID, ":") == 1
	case X509Scheme: // a distinguished name (x509.go); ZooKeeper parses it, zoogate only wants one
		return id.ID != ""
	case "ip":
		host, bits, hasBits := strings.Cut(id.ID, "/")
		ip := net.ParseIP(host)
		if ip == nil {
			return false
		}
		if hasBits {
			b, err := strconv.Atoi(bits)
			max := 128
			if ip.To4() != nil {
				max = 32
			}
			return err == nil && b >= 0 && b <= max
		}
		return true
	}
	return false
}

// Fixup validates an ACL list for create or setACL: it drops duplicates,
// replaces auth entries with the caller's authenticated ids (digest and x509 only:
// ip and super have no authenticating provider) and rejects empty lists, unknown schemes and bad ids with
// an error wrapping proto.ErrInvalidACL.
func Fixup(acl []proto.ACL, ids []proto.ID) ([]proto.ACL, error) {
	if len(acl) == 0 {
		return nil, fmt.Errorf("%w: empty ACL", proto.ErrInvalidACL)
	}
	out := make([]proto.ACL, 0, len(acl))
	seen := make(map[proto.ACL]bool, len(acl))
	add := func(a proto.ACL) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, a := range acl {
		if a.ID.Scheme == "auth" {
			found := false
			for _, id := range ids {
				if id.Scheme == "digest" || id.Scheme == X509Scheme {
					found = true
					add(proto.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: auth scheme but no authenticated identity", proto.ErrInvalidACL)
			}
			continue
		}
		if !validID(a.ID) {
			return nil, fmt.Errorf("%w: bad id %s:%s", proto.ErrInvalidACL, a.ID.Scheme, a.ID.ID)
		}
		add(a)
	}
	return out, nil
}

// MaskDigests returns acl with digest hashes hidden (user:x), as a server
// does for callers without ADMIN on the node.
func MaskDigests(acl []proto.ACL) []proto.ACL {
	out := make([]proto.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == "digest" {
			user, _, _ := strings.Cut(a.ID.ID, ":")
			a.ID.ID = user + ":x"
		}
		out[i] = a
	}
	return out
}
