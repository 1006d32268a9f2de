// Package peer is the transport between zoogate servers: one ordered,
// bidirectional stream per pair of servers, carrying zab.Message values,
// between voters and between a learner (an observer or a relay) and its
// upstream (a leader or a relay). TCP is the production implementation;
// Mem is its in-memory twin with fault controls for tests. Both keep the
// semantics below, which are the ones the ZAB core's simulation
// (core/zab/zabsim) gives its nodes, on every kind of link alike.
//
// # What it owns
//
// Connections between servers: who dials whom, the handshake (magic,
// version, cluster name, ids; optionally inside mutual TLS), framing ([uint32 big-endian length][zab.Marshal
// bytes], plus control frames that stream a Blob in chunks), spooling
// received Blobs to disk, per-peer send queues with a byte bound,
// reconnection with jittered backoff, and the ordering of what the driver
// is told.
//
// # What it must never import
//
// Only the standard library, go-hclog and core/zab (for Message and its
// codec). Never core/server, storage, topology, bridge, wan or cmd. TLS
// does not change that: crypto/tls is standard, and how a certificate
// names a server (the deployment's scheme) comes in as a function,
// TLSConfig.PeerID, along with the tls.Configs.
//
// # Semantics a driver relies on
//
// A stream is the ordered channel between this server and one peer, as the
// driver sees it: it starts with the first message sent or received after
// the previous stream with that peer ended, and ends with a Broken event or
// with the driver's own CloseStream.
//
//   - FIFO: messages Sent to a peer on one stream are received by it in the
//     order of the Send calls, without gaps. A message is either delivered
//     on the stream it was sent on or lost with that stream.
//   - Broken first: when a stream ends for any reason other than this
//     server's CloseStream (the peer closed it, crashed or restarted, the
//     connection failed, a bad frame, the send queue bound, a connection
//     that never came up in time), the driver receives Event{Broken: peer}
//     and it comes before any message of a later stream with that peer.
//     Every message of the old stream the driver did not receive before that
//     event is lost.
//   - Drop until told: between the moment a stream with a peer breaks and
//     the moment the driver takes that Broken event (Recv), Send to that peer
//     drops the message. So no message the driver sent while it believed the
//     old stream was alive ever arrives on a new one.
//   - Graceful close: CloseStream(peer) delivers everything already Sent to
//     the peer on the stream, then the peer receives Broken. What the peer
//     sent and this driver has not yet received is discarded (including
//     messages already waiting in this server's event queue). The closing
//     side gets no Broken for a stream it closed itself; its next Send starts
//     a new stream, which the peer sees after its Broken.
//   - Send never blocks the driver. Recv never blocks.
//
// Events are taken with a pull API rather than a channel of events, because
// "drop until told" needs to know exactly when the driver took a Broken: a
// Go channel cannot say whether a receive happened before or after a
// concurrent Send. The driver waits on Notify() and then calls Recv until it
// reports no event:
//
//	for {
//	    select {
//	    case <-ticker.C:
//	        node.Tick()
//	    case <-tr.Notify():
//	        for ev, ok := tr.Recv(); ok; ev, ok = tr.Recv() {
//	            if ev.Msg != nil {
//	                node.Step(*ev.Msg)
//	            } else {
//	                node.Disconnected(ev.Broken)
//	            }
//	            // handle Ready
//	        }
//	    }
//	}
//
// Notify has a token whenever an event was queued since the last Recv that
// left the queue empty, so a driver that takes only some events per wake-up
// is woken again.
//
// A message may carry its payload in a zab.Blob (a SNAP's snapshot) rather
// than in Data. It takes its place in the stream like any message: what was
// Sent before it arrives before it, what was Sent after it arrives after it.
// The receiver gets it only whole, with a Blob of its own; if the blob
// cannot be read or received whole, the stream breaks (both ends told
// Broken) and the message is lost with it, never delivered truncated.
//
// # TCP specifics
//
// Exactly one connection per pair. Between voters (Peers) the server with
// the lower id dials the higher one; a learner dials each of its Upstreams
// whatever the ids; dialing is eager and again after every break (with
// exponential backoff and jitter after failures); the other end accepts.
// A server with AcceptLearners accepts a hello from an id it does not know:
// that learner is a peer like any other while it is connected (Send, Recv,
// CloseStream, Broken when the connection ends, drop until told), and is
// never dialed, so a Send to it while no connection of its is up or
// awaited loses the message and the driver is told Broken at once (as Mem
// does for a server that is not running); its next connection starts a new
// stream. The dialer sends a
// hello frame (magic "ZGPR", version, sender and receiver ids, cluster name)
// and the acceptor answers with its own; any mismatch is logged and the
// connection closed. A new connection from a peer that already has one waits
// until the old one has ended (bounded by ReplaceGrace), and the old one is
// reported Broken before any message of the new one. A graceful close sends
// what was queued, half-closes the connection and waits (up to CloseLinger)
// for the peer to close its side, so queued data is never cut by a reset.
//
// A Blob is read by the connection's writer when its turn comes, in chunks
// of SnapshotChunkSize, so it never sits in memory whole and counts in the
// send queue's bound by its header only. The receiver writes the chunks to
// a spool file in SpoolDir and delivers the message once the file holds
// exactly the announced size, with Blob a *SpoolBlob (Removable: the driver
// deletes it when done, or moves it away); blobs above MaxSnapshotSize are
// refused, and spool files left over are deleted when the transport starts
// and closes. Blob bytes never count in the inbox bound (they are on disk).
// The wire format is described in wire.go.
//
// # TLS
//
// With TCPConfig.TLS set, links may run over mutual TLS; what they carry
// is unchanged (the same hellos, frames and semantics, inside TLS
// records; offsets in log lines count the decrypted bytes; a graceful
// close sends a close_notify before the half-close). An acceptor tells the two kinds of connection apart by their
// first byte: 0x16 starts a TLS handshake record, while a plain
// connection starts with its hello frame's length word, whose first byte
// is 0 (a hello is far shorter than 1<<24 bytes). That byte is read again
// as part of the stream, so a plain connection goes on as it always did.
// A TLS connection is served with TLS.Server, which requires and verifies
// a client certificate; the dialer's hello must then come from the server
// that certificate names (TLS.PeerID), or the connection is refused. A
// dialer with TLS.Dial does the TLS handshake with TLS.Client and checks
// that the server's certificate names the id it dialed before it sends
// its hello; a mismatch fails the dial like any other (logged, backoff).
// HandshakeTimeout bounds the first byte, the TLS handshake and the
// hellos together. A server without TLS refuses a TLS connection; one
// with TLS still serves plain ones (configured peers not on TLS yet), so
// TLS authenticates the connections that use it, no others: for learners
// AdmitLearner decides.
//
// AcceptLearners alone trusts the cluster name. With AdmitLearner, every
// connection from an id that is in neither Peers nor Upstreams is vetted,
// knowing whether it came over TLS with a certificate naming that id: a
// deployment that lets observers absent from its topology join at run
// time sets TLS and an AdmitLearner that refuses the unverified.
package peer
