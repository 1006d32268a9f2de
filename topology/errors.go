package topology

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidConfig matches every error Parse, Load and Validate return
	// about the content of a file, and every *Problem.
	ErrInvalidConfig = errors.New("topology: invalid config")
	// ErrSyntax matches a TOML syntax error (also ErrInvalidConfig).
	ErrSyntax = errors.New("topology: TOML syntax error")
	// ErrNodeNotFound is returned by Node and SelectNode for an id the file
	// does not define.
	ErrNodeNotFound = errors.New("topology: no such node")
	// ErrIDRequired is returned by SelectNode when no id was given and the
	// file defines more than one node.
	ErrIDRequired = errors.New("topology: --id is required")
)

// Problem is one thing wrong (or, as a warning, suspicious) in a topology
// file.
type Problem struct {
	File string // file name given to Parse/Load; "" for a File built in code
	Line int    // 1-based line; 0 when unknown (key absent, File built in code)
	Col  int    // 1-based column; only set for TOML syntax errors
	// Key is the key path the problem is about: "cluster.tick",
	// "site[1].name", "node[2].client" ([[site]] and [[node]] tables are
	// counted from 0 in file order); "" for a syntax error.
	Key string
	Msg string
	// Err is the underlying error, if any (a toml.ParseError for syntax
	// errors).
	Err error
}

// Error formats the problem as "file:line:col: key: msg", leaving out what is
// unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	loc := p.File
	if p.Line > 0 {
		if loc == "" {
			loc = "line " + strconv.Itoa(p.Line)
		} else {
			loc += ":" + strconv.Itoa(p.Line)
		}
		if p.Col > 0 {
			loc += ":" + strconv.Itoa(p.Col)
		}
	}
	if loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Is makes every Problem match ErrInvalidConfig, and syntax problems match
// ErrSyntax.
func (p *Problem) Is(target error) bool {
	if target == ErrInvalidConfig {
		return true
	}
	return target == ErrSyntax && p.Key == "" && p.Err != nil
}

// Unwrap returns the underlying error, if any.
func (p *Problem) Unwrap() error { return p.Err }

// ValidationError lists every problem found in a file. It matches
// ErrInvalidConfig, and errors.As finds each *Problem through it.
type ValidationError struct {
	Problems []*Problem // sorted by line; problems without a line come last
}

// Error returns one problem per line.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidConfig.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns the problems, so errors.Is and errors.As look into them.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// sortProblems orders problems by line (unknown lines last), keeping the
// order in which they were found among equals.
func sortProblems(ps []*Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// asError returns nil for no problems, else a sorted *ValidationError.
func asError(ps []*Problem) error {
	if len(ps) == 0 {
		return nil
	}
	sortProblems(ps)
	return &ValidationError{Problems: ps}
}
