package topology

import (
	"strconv"
	"strings"
)

// keyPath names a value in a file: segments are key names (quoted when not
// bare TOML keys) and array indexes "[i]". Its String is what problems show:
// "cluster.tick", "node[2].client".
type keyPath []string

// key returns k extended by the key name (never aliasing k).
func (k keyPath) key(name string) keyPath {
	return append(k[:len(k):len(k)], formatKeyName(name))
}

// index returns k extended by the array index i (never aliasing k).
func (k keyPath) index(i int) keyPath {
	return append(k[:len(k):len(k)], "["+strconv.Itoa(i)+"]")
}

func (k keyPath) String() string {
	var b strings.Builder
	for i, s := range k {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// formatKeyName quotes a key name unless it is a bare TOML key.
func formatKeyName(name string) string {
	if isBareKey(name) {
		return name
	}
	return strconv.Quote(name)
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Paths used by decoding and validation.
var (
	clusterPath = keyPath{"cluster"}
	sitePath    = keyPath{"site"}
	nodePath    = keyPath{"node"}
)

func siteKey(i int, name string) keyPath { return sitePath.index(i).key(name) }
func nodeKey(i int, name string) keyPath { return nodePath.index(i).key(name) }
func clusterKey(name string) keyPath     { return clusterPath.key(name) }
