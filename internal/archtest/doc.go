// Package archtest holds no code, only a test: it checks the folder import
// rules of DESIGN.md §2 over every package of the module (`go list`):
//
//   - core/... imports only core/ and storage/ of zoogate, and never bridge,
//     wan, topology or cmd (not even in tests), quic-go or memberlist;
//   - core/peer imports only the standard library, go-hclog and core/zab;
//   - storage/... imports only the standard library and storage/...;
//   - wan/... imports only the standard library, quic-go and wan/...;
//   - topology/... imports nothing of core, bridge, wan or cmd;
//   - bridge/... imports only bridge, core, wan and topology of zoogate;
//   - nothing outside cmd/ imports cmd/....
//
// Known exceptions are listed, with their reason, in the test; one that no
// longer occurs fails the test so that the list stays true.
package archtest
