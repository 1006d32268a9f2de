// Package bridge carries ZAB across sites: a Transport is a
// core/peer.Transport that reaches the peers of the server's own site
// over a LAN transport (core/peer's TCP, or its Mem twin in tests) and
// the peers of other sites over a *wan.Transport (QUIC, mutual TLS). It
// plugs into server.ClusterConfig.Transport unchanged, so a relay in a
// remote site follows the primary's voters over the WAN (election
// notifications included) and serves its site's observers over the LAN,
// and a voter accepts relays over the WAN beside its LAN peers.
//
// # What it owns
//
// The mapping of zab.Message onto wan's frames, lanes and blobs, the
// checks on what comes back, the routing of each peer to one of the two
// transports, and the merging of their events into one pull API with
// core/peer's semantics. It decides nothing about ZAB (core/zab does),
// topology (topology/ does) or connections (wan and core/peer do).
//
// # What it must never import
//
// cmd (DESIGN.md §2: bridge imports only bridge, core, wan and topology
// of zoogate; internal/archtest enforces it). core never imports bridge.
//
// # Routing
//
//   - A peer is reached over the WAN if Config.WANPeers lists it, if
//     Config.IsWANPeer says so, or if it was learned there: a peer that
//     connected over the WAN without being configured (a relay dialing a
//     voter) is learned when the driver takes its first event from the
//     WAN. It stays a WAN peer after its Broken: its next stream comes
//     over the WAN too, and a Send to it in between must fail on the WAN
//     (wan reports Broken at once, or drops it while a Broken is owed) —
//     routed to the LAN, it would be dropped with a warning by TCP, and on
//     the Mem twin the LAN's Broken could reach the driver after the
//     first events of the peer's new WAN stream, breaking its order. Only
//     a message from it over the LAN moves it back to the LAN.
//   - Every other peer is reached over the LAN, its messages passed on
//     unchanged.
//   - Over the WAN, Send sets From and To and zab.Marshals the message. A
//     REQUEST goes on wan.LaneRequests; a message with a Blob (a SNAP) with
//     wan.SendBlob, the marshalled message without its blob being the
//     header; everything else on wan.LaneOrdered. CloseStream follows the
//     same routing.
//
// # Receiving
//
// A WAN frame is decoded with zab.Unmarshal; it must come from the peer
// its certificate names and be addressed to this server, and only a
// REQUEST may travel on the requests lane. A blob header becomes the
// message with Blob = the spooled *wan.SpoolBlob, which is a zab.Blob with
// Remove, so core/replica.DiskStorage deletes the spool file once the
// snapshot is installed. A frame that fails any check breaks that peer's
// stream only: it is logged, its blob removed, the wan stream closed (the
// peer sees Broken after what was sent to it; what it sent and was not
// taken is discarded) and the driver is handed Broken in its place.
//
// # Events
//
// One Notify/Recv merges both transports. A goroutine only forwards the
// Notify tokens of both to the Transport's own; it never takes an event.
// Recv takes at most one event, from one transport, alternating which one
// it asks first so that neither starves the other, and returns it at
// once. Hence:
//
//   - Per-peer order and Broken first hold: a peer's events all come from
//     the one transport that carries it, in that transport's order.
//   - Drop until told holds on each side: the underlying Recv, which is
//     what takes a Broken and ends the drop window, is called only inside
//     the driver's Recv and its event handed straight to the driver. An
//     event buffered ahead of the driver would let Sends through to a
//     peer whose Broken the driver has not seen.
//   - A driver that takes only some events is woken again: Recv re-arms
//     Notify after every event it hands out (the forwarder merged both
//     transports' tokens into one, so the other transport may still hold
//     events), at the cost of at most one empty wake-up per batch.
//
// # Why REQUESTs may travel on their own lane
//
// wan keeps each lane FIFO but orders nothing across lanes, so a REQUEST
// may overtake ordered messages its learner sent before it. This is safe:
//
//   - A learner sends REQUESTs only in the broadcast phase of its current
//     stream (zab.Node.Forward and Sync check it; a relay forwards its
//     observers' requests from handlers that exist only once it is in
//     broadcast, and drops them all when it leaves its upstream). It
//     enters that phase on UPTODATE, which the leader sends only when it
//     processes the learner's ACK of NEWLEADER, i.e. after it processed
//     the whole handshake the learner sent on the ordered lane
//     (OBSERVERINFO, ACKEPOCH, ACK). So a REQUEST is sent after, and
//     received after, everything the leader needs to accept it (its
//     handler is up to date): causality, not the lane, orders them.
//   - After UPTODATE the learner's ordered lane carries PING replies
//     (session touches) and, for followers, ACKs. No REQUEST depends on
//     them: session claims (core/server/owners.go) are REQUESTs, so they
//     keep their order with the client's writes on the requests lane; a
//     session is touched only once its createSession has been committed
//     and applied, so after the leader processed it; the leader ignores a
//     touch of a session it does not know or is closing (core/server
//     sessions.go), so a closeSession that overtakes an earlier touch is
//     harmless.
//   - sync() is a REQUEST too, FIFO with the same learner's writes; its
//     answer, SYNC, travels back on the ordered lane behind the INFORMs
//     and COMMITs it must follow. Nothing but REQUEST is ever put on the
//     requests lane, and the receiver refuses anything else there.
//   - Both lanes belong to one wan stream: a REQUEST is delivered on the
//     stream it was sent on or lost with it, never on a later stream (a
//     later handler of the same learner, or a restarted leader). A learner
//     leaving its leader closes the stream, which delivers both lanes
//     before the leader's Broken.
//
// So REQUESTs go on the requests lane, where a packet lost on the ordered
// stream does not hold forwarded writes back (nor they the ordered
// stream).
package bridge
