// Package gossip runs a zoogate node's memberlist pools and keeps its live
// view of the deployment.
//
// Every node joins its site's LAN pool (memberlist's LAN profile, on the
// node's `gossip` address); voters and relays also join one WAN pool across
// sites (the WAN profile, on `gossip_wan`). Each node gossips its Meta (id,
// site, role, addresses, serving state, the leader it follows and its
// epoch, last applied zxid, lag) and rebuilds a View, an immutable
// snapshot, from what the pools report: who is alive, who leads, which
// relay serves each site, how far behind every node is. The View is a
// value handed to whoever routes (cmd/zoogate, bridge/): it is replaced,
// never modified, and no map is shared under a lock across packages.
//
// The gossip key proves that a member belongs to the deployment, not who
// it is. With Config.TLS the pools also have certificate identity: every
// node holds a certificate of the deployment CA whose URI SAN names its
// id. memberlist's streams (joins, state exchanges, fallback pings) then
// run over mutual TLS 1.3 (transport.go), its packets stay as they are
// (UDP, under the key), and host names are never checked: the id is the
// identity. A node of another CA cannot join, a dial to a named member
// fails unless the certificate names that member's id, and a member enters
// the view only once the agent has dialed its gossip address and seen a
// certificate naming the id it gossips (identity.go); one whose
// certificate names another id is refused, for that address and run. The
// node itself is always in its view.
//
// The package owns gossip only. It imports the standard library,
// memberlist, hclog and topology (for roles), and must never import
// anything under core/, bridge/, wan/ or cmd/.
package gossip
