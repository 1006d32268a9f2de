// Package netfree tells whether an address can be listened on here. It is
// shared by internal/testport (tests) and zoogate drill --local (the
// binary), so it imports neither testing nor anything of zoogate.
package netfree

import "net"

// Free reports whether addr can be listened on now, over TCP and UDP.
func Free(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	p, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	p.Close()
	return true
}
