// Package topology reads the TOML topology file of a zoogate deployment: the
// [cluster] settings every server shares, the [[site]] tables (one primary
// site whose voters run ZAB, remote sites served by relays and observers) and
// the [[node]] tables (id, site, role, listen addresses, directories).
//
// Every server reads the same file and is told its node id; SelectNode turns
// the --id flag (or its absence, for a one-node file) into that server's Node.
//
// Parse and Load decode a file, fill in defaults and validate it, reporting
// every problem at once as an errors.Join of *FieldError values (FieldErrors
// lists them), each naming its key path ("node[2].client") and its line in
// the file, and matching ErrInvalidConfig. Warnings (legal but suspicious
// layouts) come separately from File.Warnings. CONFIG.md in this folder is
// the reference of every key.
//
// The package owns the file format only. It imports the standard library,
// BurntSushi/toml and hclog, and must never import anything under core/,
// bridge/, wan/ or cmd/: cmd/zoogate maps these structs onto the server's own
// configuration.
package topology
