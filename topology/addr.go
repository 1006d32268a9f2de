package topology

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parseHostPort checks that s is "host:port" with a non-empty host (an IP
// address or a DNS name) and a port in 1..65535, and returns a canonical form
// used to spot two listeners on the same address: IP addresses in their
// standard spelling, host names in lower case.
func parseHostPort(s string) (canonical string, host string, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return "", "", fmt.Errorf("%q is not host:port (%s)", s, ae.Err)
		}
		return "", "", fmt.Errorf("%q is not host:port", s)
	}
	if h == "" {
		return "", "", fmt.Errorf("%q has no host (other servers and clients must be able to dial it)", s)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", "", fmt.Errorf("%q: port %q is not a number in 1..65535", s, p)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		h = ip.Unmap().String()
	} else if !isHostName(h) {
		return "", "", fmt.Errorf("%q: host %q is neither an IP address nor a valid host name", s, h)
	} else {
		h = strings.ToLower(h)
	}
	return net.JoinHostPort(h, strconv.Itoa(port)), h, nil
}

// isUnspecified reports whether host is 0.0.0.0 or ::.
func isUnspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// isHostName checks RFC 1123 host name syntax: dot-separated labels of
// letters, digits and inner hyphens, each at most 63 bytes, 253 in all.
func isHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
