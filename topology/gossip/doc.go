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
// The package owns gossip only. It imports the standard library,
// memberlist, hclog and topology (for roles), and must never import
// anything under core/, bridge/, wan/ or cmd/.
package gossip
