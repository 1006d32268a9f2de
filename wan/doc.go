// Package wan is the transport between zoogate servers across datacenters:
// QUIC (quic-go) with mutual TLS 1.3, one connection per pair of servers,
// carrying opaque frames ([]byte) and large blobs between servers named by
// uint64 ids. It knows nothing of ZooKeeper or ZAB: bridge/ adapts ZAB
// messages onto it. Its sub-package emulate is a net.PacketConn that
// impairs traffic (delay, jitter, loss, bandwidth, cuts) so that tests and
// drills run this very code over an emulated WAN. The protocol, byte by
// byte, is in docs/wan.md.
//
// # What it owns
//
// The QUIC endpoint of a server (one quic.Transport over one UDP socket,
// for listening and dialing alike), who dials whom, TLS identities (LoadTLS,
// the zoogate://<cluster>/node/<id> URI SAN), the hello on each stream,
// framing, spooling received blobs to disk, per-peer send queues with a
// byte bound, reconnection with jittered backoff, and the ordering of what
// the driver is told.
//
// # What it must never import
//
// Only the standard library and github.com/quic-go/... (DESIGN.md §2,
// enforced by internal/archtest), plus one known exception:
// github.com/klauspost/compress/flate for the lanes' deflate (the standard
// library's costs the leader 2.5 times the CPU per flushed frame). No
// zoogate package, not even go-hclog.
// Logging goes through the Logger interface, whose methods are a subset of
// hclog.Logger's, so the caller passes its hclog logger (named "wan", as
// DESIGN.md §4 asks) without wan importing hclog.
//
// # Semantics a driver relies on
//
// They are core/peer's, so that one driver can use either. A stream is the
// channel between this server and one peer, as the driver sees it: it
// starts with the first frame sent or received after the previous stream
// with that peer ended, and ends with a Broken event or with the driver's
// own CloseStream. A stream has two lanes:
//
//   - LaneOrdered, the protocol stream: frames (and blob headers, see
//     below) sent on it are received in the order of the Send and
//     SendBlob calls, without gaps.
//   - LaneRequests, forwarded requests and their replies: FIFO within the
//     lane, in no particular order with LaneOrdered (they travel on
//     different QUIC streams, so neither waits for the other's losses).
//
// A frame is either delivered on the stream it was sent on or lost with
// that stream.
//
//   - Broken first: when a stream ends for any reason other than this
//     server's CloseStream (the peer closed it, crashed, restarted or was
//     replaced, the connection went idle, a bad frame, the send queue
//     bound, a blob that could not be read, no connection within
//     ConnectWait), the driver receives Event{From: peer, Broken: true},
//     before any frame of a later stream with that peer. Every frame of the
//     old stream the driver did not receive before that event is lost.
//   - Drop until told: between the moment a stream with a peer breaks and
//     the moment the driver takes that Broken event (Recv), Send and
//     SendBlob to that peer drop what they are given. So nothing the driver
//     sent while it believed the old stream alive ever arrives on a new
//     one.
//   - Graceful close: CloseStream(peer) delivers everything already sent
//     to the peer on the stream (both lanes and every blob), then the peer
//     receives Broken. What the peer sent and this driver has not yet
//     received is discarded (including events already waiting). The
//     closing side gets no Broken for a stream it closed itself; its next
//     Send starts a new stream, which the peer sees after its Broken.
//   - Send and SendBlob never block; Recv never blocks.
//
// Events are taken with a pull API, because "drop until told" needs to
// know exactly when the driver took a Broken event. The driver waits on
// Notify, then calls Recv until it reports no event:
//
//	for {
//	    select {
//	    case <-ticker.C:
//	        tick()
//	    case <-tr.Notify():
//	        for ev, ok := tr.Recv(); ok; ev, ok = tr.Recv() {
//	            switch {
//	            case ev.Broken:
//	                disconnected(ev.From)
//	            case ev.Blob != nil:
//	                snapshot(ev.From, ev.Frame, ev.Blob) // then ev.Blob.Remove()
//	            default:
//	                step(ev.From, ev.Lane, ev.Frame)
//	            }
//	        }
//	    }
//	}
//
// # Blobs
//
// SendBlob(to, header, blob) takes its place on LaneOrdered like a frame:
// what was sent before it arrives before it, what was sent after it after
// it. Its bytes travel on a QUIC stream of their own, at a lower priority
// than the lanes, so a snapshot in flight delays neither LaneRequests nor
// anything to other peers; it is read when its turn comes, in pieces,
// never held in memory whole. The receiver writes it to a file in SpoolDir
// and delivers the header only once the file holds exactly the announced
// size, with Event.Blob a *SpoolBlob the driver reads, moves or removes. A
// blob that cannot be opened or read whole, or whose length is not its
// Size, or that exceeds the receiver's MaxBlobSize, breaks the stream on
// both sides; nothing truncated is ever delivered.
//
// # Who dials, who opens what
//
// The remote side dials, as a learner dials its leader: Config.Dial lists
// the peers this server dials (a relay dials the primary's voters, an
// observer its site's relay); they may never connect to it. Any other peer
// may connect if Config.AllowPeer says so. A dialer keeps one connection
// up to each of its Dial peers, redialing with exponential backoff and
// jitter; attempts overlap, so one started after a long cut is healed does
// not wait behind one stuck in QUIC's own back-off. Heartbeats on the
// ordered lane make silence meaningful: a stream that received nothing
// for Config.StallTimeout is broken and dialed anew. The dialer opens both lane streams and speaks first on each (a
// QUIC stream is invisible to the peer until its opener writes); the
// acceptor answers on the ordered one; the sender of a blob opens its
// stream. A peer that dials this server is never dialed by it: a frame to
// it while it is not connected is lost and the driver told Broken at once.
// A new connection from a peer replaces the old one (the old stream is
// reported Broken first).
//
// # Identity
//
// A node's identity is its certificate: the URI SAN
// zoogate://<cluster>/node/<id>, issued by the deployment CA (`zoogate tls
// init`). Both sides verify the chain against the CA for server and client
// authentication, and the cluster; the dialer checks that the acceptor is
// the id it dialed, the acceptor that the dialer's id is allowed. Host
// names and IP addresses in the certificate are not checked: ids are the
// identity, addresses change behind NAT. New refuses to start without TLS,
// or with a certificate that is not this server's.
package wan
