// Package drill is `zoogate drill`: it rehearses failures on a deployment
// described by a topology file and reports what clients saw.
//
// A drill runs scenarios one after the other (scenarios.go): kill-leader,
// kill-follower, kill-relay, cut-site SITE, slow-wan, lose-primary and
// rolling-restart. Processes are killed and started through command
// templates (--kill-cmd, --start-cmd with {id} and {config}) or, with
// --local, as child processes of the drill itself (local.go), which starts
// every node of the file on this machine with the WAN between sites
// emulated. WAN faults go through each node's admin address, FaultPath
// (faults.go), which drives the emulator its WAN socket runs through and
// answers 403 unless the file has [cluster] drill_faults = true.
//
// During each scenario a workload (workload.go) runs go-zookeeper clients
// on every site: they write (version-checked and plain setData on a few
// shared znodes, and creates of unique znodes) and read a clock znode a
// writer of the primary site updates, recording every call with its
// outcome. The checker (check.go) turns that history into what clients
// saw per site (write and read unavailability, connection losses, session
// expirations, staleness), reads every acknowledged write back from every
// node once the scenario has healed, and checks the writes with porcupine
// (tests/lincheck's model). A drill fails (exit 1) when an acknowledged
// write is lost or the history is not linearizable.
//
// Reports (report.go, html.go): a summary on the terminal, --json (one
// object), --html FILE (one self-contained page with an SVG timeline per
// site). docs/drills.md is the operator's guide.
package drill
