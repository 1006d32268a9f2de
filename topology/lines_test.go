package topology

import (
	"os"
	"strings"
	"testing"
)

func TestScanLines(t *testing.T) {
	src := `# comment [[node]] id = 9
title = """
[[node]]
id = 99
"""
lit = '''
[cluster]
'''
[cluster] # the cluster
tick = "2s" # a "quoted" comment
'quoted.key' = 1
"esc\"aped" = 2
four_letter_words = [
  "ruok", # first
  "srvr",
]
inline = { a = 1, b = { c = [1, 2] } }

[[node]]
id = 1
[node.extra]
x = 1

[[node]]
  id = 2
  dotted.part = "v"
arr = [[1, 2], [3,
  4]]

[[site]]
name = 'p'
`
	ix := scanLines([]byte(src))
	for key, line := range map[string]int{
		"title":                        2,
		"lit":                          6,
		"cluster":                      9,
		"cluster.tick":                 10,
		`cluster."quoted.key"`:         11,
		`cluster."esc\"aped"`:          12,
		"cluster.four_letter_words":    13,
		"cluster.four_letter_words[0]": 14,
		"cluster.four_letter_words[1]": 15,
		"cluster.inline":               17,
		"cluster.inline.b.c[1]":        17,
		"node":                         19,
		"node[0]":                      19,
		"node[0].id":                   20,
		"node[0].extra":                21,
		"node[0].extra.x":              22,
		"node[1]":                      24,
		"node[1].id":                   25,
		"node[1].dotted.part":          26,
		"node[1].arr[1][1]":            28,
		"node[1].arr[1]":               27,
		"site[0].name":                 31,
	} {
		if got := ix[key]; got != line {
			t.Errorf("line of %s = %d, want %d", key, got, line)
		}
	}
	for _, key := range []string{"node[2]", "id", "cluster.id", "node[1].tick"} {
		if l, ok := ix[key]; ok {
			t.Errorf("%s recorded at line %d; it is inside a string or comment", key, l)
		}
	}
	// A missing key falls back to its table.
	if got := ix.line(nodeKey(1, "client")); got != 24 {
		t.Errorf("line(node[1].client) = %d, want 24", got)
	}
	if got := ix.exact(nodeKey(1, "client")); got != 0 {
		t.Errorf("exact(node[1].client) = %d, want 0", got)
	}
}

func TestScanLinesCRLF(t *testing.T) {
	src := strings.ReplaceAll("[cluster]\ntick = \"2s\"\n\n[[node]]\nid = 1\n", "\n", "\r\n")
	ix := scanLines([]byte(src))
	if ix["cluster.tick"] != 2 || ix["node[0].id"] != 5 {
		t.Errorf("index = %v", ix)
	}
}

// Every key of the example files is found on a line that spells it.
func TestScanLinesOnConfigs(t *testing.T) {
	for _, path := range configFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		ix := scanLines(data)
		if len(ix) == 0 {
			t.Fatalf("%s: nothing indexed", path)
		}
		for key, line := range ix {
			parts := strings.Split(key, ".")
			last := parts[len(parts)-1]
			if i := strings.IndexByte(last, '['); i >= 0 {
				last = last[:i]
			}
			text := strings.TrimSpace(lines[line-1])
			if !strings.HasPrefix(text, last+" =") && !strings.HasPrefix(text, "[") {
				t.Errorf("%s: %s at line %d: %q", path, key, line, text)
			}
		}
	}
}
