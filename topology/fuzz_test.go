package topology

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// addSeeds seeds a fuzz target with every example file plus a few tricky
// documents.
func addSeeds(f *testing.F) {
	for _, path := range configFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"[cluster]\ntick = \"2s\"\n",
		"node = [{ id = 1, client = \"127.0.0.1:2181\", data_dir = \"d\" }]\n",
		"[[node]]\nid = 1\n[node.x]\n[[node.y]]\nz = \"\"\"\n[[node]]\n\"\"\"\n",
		"a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
		"x = { y = { z = [ { w = 1 } ] } }\n",
		"[cluster]\nfour_letter_words = [\"*\", 1]\nsuper_digest = \"super:\"\n",
		"[[site]]\n[[site]]\nprimary = 1\n[[node]]\nid = -1\nclient = \"[::1]:99999\"\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse: Parse never panics; a success validates cleanly, a failure is a
// list of *FieldError values pointing at lines of the input.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "fuzz.toml")
		if err == nil {
			if file == nil {
				t.Fatal("nil File without error")
			}
			if verr := file.Validate(); verr != nil {
				t.Fatalf("Parse succeeded but Validate fails: %v", verr)
			}
			for i := range file.Nodes {
				n, err := file.SelectNode(file.Nodes[i].ID)
				if err != nil || n != &file.Nodes[i] {
					t.Fatalf("SelectNode(%d) = %v, %v", file.Nodes[i].ID, n, err)
				}
			}
			_ = file.Warnings()
			return
		}
		if file != nil {
			t.Fatal("File returned with an error")
		}
		ps := FieldErrors(err)
		if len(ps) == 0 || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error %T %v holds no *FieldError", err, err)
		}
		maxLine := bytes.Count(data, []byte("\n")) + 1
		for _, p := range ps {
			if p.Line < 0 || p.Line > maxLine || p.Problem == "" || p.Error() == "" {
				t.Fatalf("bad problem %+v (input has %d lines)", p, maxLine)
			}
		}
	})
}

// FuzzScanLines: the line scanner terminates without panicking on any input,
// valid TOML or not, and never reports a line past the end.
func FuzzScanLines(f *testing.F) {
	addSeeds(f)
	f.Add([]byte("\"unterminated\n'also\n\"\"\"never closed\n[[\n= = =\n{[{[\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		maxLine := bytes.Count(data, []byte("\n")) + 1
		for k, l := range scanLines(data) {
			if l < 1 || l > maxLine {
				t.Fatalf("%s at line %d of %d", k, l, maxLine)
			}
		}
	})
}
