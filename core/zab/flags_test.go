package zab

import "flag"

// The simulation lives in ./zabsim; these flags are declared here too so
// that `go test ./core/zab/... -run TestSim -seed=N` works for both test
// binaries.
var (
	_ = flag.Int64("seed", 0, "simulation seed (used by ./zabsim)")
	_ = flag.Int("seeds", 0, "number of simulation seeds (used by ./zabsim)")
	_ = flag.Bool("rewrite", false, "rewrite scenario files (used by ./zabsim)")
)
