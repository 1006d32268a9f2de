// Package rawzk is a minimal ZooKeeper client speaking the wire protocol
// frame by frame, for tests that need what stock clients hide or cannot
// do: the readOnly flag of the handshake (go-zookeeper never sets it), the
// exact error code of a reply, the raw ConnectResponse.
//
// It is for tests only; it imports core/jute and core/proto and nothing
// else of zoogate.
package rawzk
