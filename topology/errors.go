package topology

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidConfig matches every error Parse, Load and Validate return
	// about the content of a file, and every *FieldError.
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

// FieldError is one thing wrong (or, as a warning, suspicious) in a
// topology file: the key it is about, the problem, and where the file has
// it. It has the shape of the other packages' FieldErrors (core/zab,
// core/server, storage) plus the location, and matches ErrInvalidConfig.
type FieldError struct {
	// Field is the key path the problem is about: "cluster.tick",
	// "site[1].name", "node[2].client" ([[site]] and [[node]] tables are
	// counted from 0 in file order); "" for a syntax error.
	Field   string
	Problem string
	File    string // file name given to Parse/Load; "" for a File built in code
	Line    int    // 1-based line; 0 when unknown (key absent, File built in code)
	Col     int    // 1-based column; only set for TOML syntax errors
	// Err is the underlying error, if any (a toml.ParseError for syntax
	// errors).
	Err error
}

// Error formats the problem as "file:line:col: field: problem", leaving out
// what is unknown; without a file or line, as the other packages do:
// "topology: config field: problem".
func (e *FieldError) Error() string {
	var b strings.Builder
	loc := e.File
	if e.Line > 0 {
		if loc == "" {
			loc = "line " + strconv.Itoa(e.Line)
		} else {
			loc += ":" + strconv.Itoa(e.Line)
		}
		if e.Col > 0 {
			loc += ":" + strconv.Itoa(e.Col)
		}
	}
	if loc == "" {
		loc = "topology: config"
	} else {
		loc += ":"
	}
	b.WriteString(loc)
	if e.Field != "" {
		b.WriteString(" ")
		b.WriteString(e.Field)
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap makes every FieldError match ErrInvalidConfig, a syntax error
// ErrSyntax too, and exposes the underlying error.
func (e *FieldError) Unwrap() []error {
	errs := []error{ErrInvalidConfig}
	if e.Field == "" && e.Err != nil {
		errs = append(errs, ErrSyntax)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// FieldErrors returns the *FieldError values err holds (an error returned
// by Parse, Load or Validate), in order; nil for any other error.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// sortProblems orders problems by line (unknown lines last), keeping the
// order in which they were found among equals.
func sortProblems(ps []*FieldError) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// asError returns nil for no problems, else the problems sorted by line in
// an errors.Join (one problem per line of its message).
func asError(ps []*FieldError) error {
	if len(ps) == 0 {
		return nil
	}
	sortProblems(ps)
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}
