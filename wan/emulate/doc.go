// Package emulate is an in-process WAN for tests and failover drills: a
// net.PacketConn (Conn) that adds one-way delay, jitter, loss, a bandwidth
// cap with a bounded queue, and cuts, per destination address, under an
// unchanged quic-go. Loss and jitter come from a seeded *rand.Rand, so a
// test run replays. Specs are written "delay=40ms,jitter=2ms,loss=0.01,
// rate=10mbit,limit=500" (ParseSpec). It imports the standard library only.
package emulate
