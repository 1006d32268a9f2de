package topology

import "testing"

// TestNodeIDDecoding: ids decode into uint64 (core's server id type); a
// negative or oversized TOML integer is a clear problem, not a wrapped
// value.
func TestNodeIDDecoding(t *testing.T) {
	f, err := Parse([]byte("[[node]]\nid = 254\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n"), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.SelectNode(254); err != nil || n.ID != uint64(254) {
		t.Fatalf("SelectNode(254) = %+v, %v", n, err)
	}
	for _, tc := range []struct {
		name, id string
		want     want
	}{
		{"negative", "-3", want{"node[0].id", 2, "id -3 is negative: ids are in 1..254"}},
		{"too large", "4294967297", want{"node[0].id", 2, "id 4294967297 is out of range 1..254"}},
		{"not an integer", "\"7\"", want{"node[0].id", 2, `must be an integer in 1..254, got string "7"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "[[node]]\nid = " + tc.id + "\nclient = \"127.0.0.1:2181\"\ndata_dir = \"d\"\n"
			expectProblems(t, problemsOf(t, src), tc.want)
		})
	}
}
