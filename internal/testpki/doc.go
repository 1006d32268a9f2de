// Package testpki is a certificate authority for tests: it issues
// certificates the way `zoogate tls init` does (ECDSA P-256, a node's
// identity in one URI SAN zoogate://<cluster>/node/<id>, good for both
// ends of a link) and, where a test needs it, certificates that differ
// from those (another subject, host names, validity or key usage).
//
// It is imported by tests only; it must never import zoogate packages, so
// that every package's tests can use it.
package testpki
