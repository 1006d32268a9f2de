// Package testport hands tests loopback addresses to start servers on.
//
// Picking a port by listening on 127.0.0.1:0 and closing the listener
// races with every other test that binds port 0 meanwhile: the kernel
// hands the same ephemeral port out again, and a test once polled
// "ruok" on the port it gave Apache ZooKeeper, got imok from a zoogate
// that had bound it first, and ran both sides of a differential test
// against zoogate. This package picks ports outside the kernel's
// ephemeral range (ip_local_port_range), checked free for both TCP and
// UDP, and never hands one out twice in a test binary.
//
// It is for tests only and imports only the standard library.
package testport
