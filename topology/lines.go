package topology

import (
	"strconv"
	"strings"
)

// lineIndex maps key paths (keyPath.String()) to the 1-based line where the
// key, table header or inline table element first appears.
//
// BurntSushi/toml reports which keys a file has but not where they are, so
// scanLines walks the file itself. It only has to understand the structure of
// TOML (headers, keys, where values end), not values: it runs on files the
// TOML parser has already accepted. On anything else it still terminates and
// never panics; it just records less.
type lineIndex map[string]int

// line returns the line of k, or of its nearest ancestor that the file
// mentions (a missing key is reported at its table's header), or 0.
func (ix lineIndex) line(k keyPath) int {
	for n := len(k); n > 0; n-- {
		if l, ok := ix[k[:n].String()]; ok {
			return l
		}
	}
	return 0
}

// exact returns the line of k itself, or 0 when the file does not mention k.
func (ix lineIndex) exact(k keyPath) int {
	return ix[k.String()]
}

// Bounds on what the scanner follows. A topology file needs a handful of
// levels; deeper documents are refused by Parse before the TOML parser sees
// them (its run time grows quickly with nesting).
const (
	maxValueDepth = 32 // nested arrays and inline tables
	maxKeyParts   = 32 // parts of one dotted key or header
	maxPathLen    = 64 // segments of a recorded key path
)

type lineScanner struct {
	src    string
	pos    int
	line   int
	ix     lineIndex
	table  keyPath        // current table from the last header
	arrays map[string]int // array-of-tables path -> tables seen so far
	// deepLine is the first line where the document goes past the bounds
	// above (0 if it never does).
	deepLine int
}

// scanLines builds the line index of a TOML document.
func scanLines(src []byte) lineIndex {
	ix, _ := scanLinesDepth(src)
	return ix
}

// scanLinesDepth builds the line index and also returns the first line where
// the document nests deeper than the scanner follows (0 if nowhere).
func scanLinesDepth(src []byte) (lineIndex, int) {
	s := &lineScanner{src: string(src), line: 1, ix: lineIndex{}, arrays: map[string]int{}}
	for s.pos < len(s.src) {
		start := s.pos
		s.statement()
		if s.pos == start { // never stall on input the grammar does not expect
			s.advance()
		}
	}
	return s.ix, s.deepLine
}

func (s *lineScanner) tooDeep() {
	if s.deepLine == 0 {
		s.deepLine = s.line
	}
}

// child returns p.key(name), or p itself once p is as long as recorded paths
// may be.
func (s *lineScanner) child(p keyPath, name string) keyPath {
	if len(p) >= maxPathLen {
		s.tooDeep()
		return p
	}
	return p.key(name)
}

// elem returns p.index(i), or p itself once p is as long as recorded paths
// may be.
func (s *lineScanner) elem(p keyPath, i int) keyPath {
	if len(p) >= maxPathLen {
		s.tooDeep()
		return p
	}
	return p.index(i)
}

// statement scans one line-level item: blank, comment, header or key/value.
func (s *lineScanner) statement() {
	s.skipSpace()
	if s.pos >= len(s.src) {
		return
	}
	switch c := s.src[s.pos]; c {
	case '\n', '\r':
		s.advance()
	case '#':
		s.skipComment()
	case '[':
		s.header()
		s.skipRestOfLine()
	default:
		s.keyValue(s.table, 0)
		s.skipRestOfLine()
	}
}

// header scans "[a.b]" or "[[a.b]]" and makes it the current table.
func (s *lineScanner) header() {
	line := s.line
	s.pos++
	isArray := s.peek() == '['
	if isArray {
		s.pos++
	}
	segs := s.keyNames()
	var p keyPath
	for i, name := range segs {
		p = s.child(p, name)
		if isArray && i == len(segs)-1 {
			k := p.String()
			n := s.arrays[k]
			s.arrays[k] = n + 1
			s.record(p, line)
			p = s.elem(p, n)
		} else if n, ok := s.arrays[p.String()]; ok && n > 0 {
			p = s.elem(p, n-1)
		}
	}
	if len(segs) == 0 {
		return
	}
	s.record(p, line)
	s.table = p
}

// keyValue scans "a.b = value" relative to table.
func (s *lineScanner) keyValue(table keyPath, depth int) {
	line := s.line
	segs := s.keyNames()
	if len(segs) == 0 {
		return
	}
	p := table
	for _, name := range segs {
		p = s.child(p, name)
		s.record(p, line)
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.pos++
	s.skipSpace()
	s.value(p, depth)
}

// keyNames scans a possibly dotted key and returns its parts.
func (s *lineScanner) keyNames() []string {
	var names []string
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return names
		}
		var name string
		switch c := s.src[s.pos]; {
		case c == '"':
			raw := s.basicString()
			name = unquoteBasic(raw)
		case c == '\'':
			name = s.literalString()
		case isBareKeyByte(c):
			start := s.pos
			for s.pos < len(s.src) && isBareKeyByte(s.src[s.pos]) {
				s.pos++
			}
			name = s.src[start:s.pos]
		default:
			return names
		}
		if len(names) < maxKeyParts {
			names = append(names, name)
		} else {
			s.tooDeep()
		}
		s.skipSpace()
		if s.peek() != '.' {
			return names
		}
		s.pos++
	}
}

// value scans one value; arrays and inline tables record their elements'
// keys under p.
func (s *lineScanner) value(p keyPath, depth int) {
	if s.pos >= len(s.src) {
		return
	}
	switch s.src[s.pos] {
	case '"':
		if strings.HasPrefix(s.src[s.pos:], `"""`) {
			s.multiline(`"""`, true)
		} else {
			s.basicString()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.pos:], `'''`) {
			s.multiline(`'''`, false)
		} else {
			s.literalString()
		}
	case '[':
		if depth >= maxValueDepth {
			s.tooDeep()
			s.skipNested()
			return
		}
		s.array(p, depth+1)
	case '{':
		if depth >= maxValueDepth {
			s.tooDeep()
			s.skipNested()
			return
		}
		s.inlineTable(p, depth+1)
	default: // number, bool, date: ends at a delimiter
		for s.pos < len(s.src) && !strings.ContainsRune(",]}\n\r#", rune(s.src[s.pos])) {
			s.pos++
		}
	}
}

func (s *lineScanner) array(p keyPath, depth int) {
	s.pos++ // '['
	for i := 0; s.pos < len(s.src); i++ {
		s.skipBlank()
		if s.pos >= len(s.src) {
			return
		}
		if s.src[s.pos] == ']' {
			s.pos++
			return
		}
		start := s.pos
		elem := s.elem(p, i)
		s.record(elem, s.line)
		s.value(elem, depth)
		s.skipBlank()
		if s.peek() == ',' {
			s.pos++
		} else if s.peek() != ']' && s.pos == start {
			s.advance()
		}
	}
}

func (s *lineScanner) inlineTable(p keyPath, depth int) {
	s.pos++ // '{'
	for s.pos < len(s.src) {
		s.skipBlank()
		if s.pos >= len(s.src) {
			return
		}
		if s.src[s.pos] == '}' {
			s.pos++
			return
		}
		start := s.pos
		s.keyValue(p, depth)
		s.skipBlank()
		if s.peek() == ',' {
			s.pos++
		} else if s.peek() != '}' && s.pos == start {
			s.advance()
		}
	}
}

// skipNested skips a too-deeply nested array or inline table without
// recursion, still honouring strings.
func (s *lineScanner) skipNested() {
	level := 0
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case '[', '{':
			level++
			s.pos++
		case ']', '}':
			level--
			s.pos++
			if level <= 0 {
				return
			}
		case '"', '\'':
			s.value(nil, maxValueDepth)
		case '#':
			s.skipComment()
		default:
			s.advance()
		}
	}
}

// basicString scans "..." and returns its raw content.
func (s *lineScanner) basicString() string {
	s.pos++
	start := s.pos
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case '\\':
			s.pos += 2
			continue
		case '"':
			raw := s.src[start:s.pos]
			s.pos++
			return raw
		case '\n':
			return s.src[start:s.pos]
		}
		s.pos++
	}
	if start > len(s.src) {
		start = len(s.src)
	}
	return s.src[start:]
}

// literalString scans '...' and returns its content.
func (s *lineScanner) literalString() string {
	s.pos++
	start := s.pos
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case '\'':
			lit := s.src[start:s.pos]
			s.pos++
			return lit
		case '\n':
			return s.src[start:s.pos]
		}
		s.pos++
	}
	return s.src[start:]
}

// multiline scans a triple-quoted string (basic or literal), counting the lines it spans. A
// closing delimiter may be followed by up to two more quotes, which belong to
// the content.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.pos += len(delim)
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case escapes && c == '\\':
			s.pos++
			if s.pos < len(s.src) {
				s.advance()
			}
			continue
		case strings.HasPrefix(s.src[s.pos:], delim):
			s.pos += len(delim)
			for i := 0; i < 2 && s.pos < len(s.src) && s.src[s.pos] == delim[0]; i++ {
				s.pos++
			}
			return
		}
		s.advance()
	}
}

func (s *lineScanner) record(p keyPath, line int) {
	k := p.String()
	if _, ok := s.ix[k]; !ok {
		s.ix[k] = line
	}
}

// advance moves one byte, counting newlines.
func (s *lineScanner) advance() {
	if s.pos < len(s.src) && s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

func (s *lineScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

func (s *lineScanner) skipSpace() {
	for s.pos < len(s.src) && (s.src[s.pos] == ' ' || s.src[s.pos] == '\t') {
		s.pos++
	}
}

// skipBlank skips spaces, newlines and comments (inside arrays and inline
// tables).
func (s *lineScanner) skipBlank() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.advance()
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *lineScanner) skipComment() {
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		s.pos++
	}
}

// skipRestOfLine skips to just after the next newline that is not inside a
// string (after a value, only spaces and a comment can remain).
func (s *lineScanner) skipRestOfLine() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case '\n':
			s.advance()
			return
		case '"', '\'':
			s.value(nil, maxValueDepth)
		default:
			s.pos++
		}
	}
}

// unquoteBasic decodes the escapes of a basic string's raw content; content
// it cannot decode is returned raw.
func unquoteBasic(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	if u, err := strconv.Unquote(`"` + raw + `"`); err == nil {
		return u
	}
	return raw
}
