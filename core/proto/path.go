package proto

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidatePath applies ZooKeeper's path rules (PathUtils.validatePath) and
// returns an error wrapping ErrBadArguments that says what is wrong and at
// which character. For sequential creates pass path+"1".
func ValidatePath(path string) error {
	bad := func(why string, at int) error {
		return &PathError{Path: path, Err: fmt.Errorf("%w: %s at index %d", ErrBadArguments, why, at)}
	}
	if path == "" {
		return &PathError{Path: path, Err: fmt.Errorf("%w: path must not be empty", ErrBadArguments)}
	}
	if path[0] != '/' {
		return bad("path must start with /", 0)
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return bad("path must not end with /", len(path)-1)
	}
	segStart := 1
	for i := 1; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			seg := path[segStart:i]
			switch seg {
			case "":
				return bad("empty node name", i)
			case ".", "..":
				return bad("relative paths not allowed", segStart)
			}
			segStart = i + 1
		}
	}
	for i, r := range path {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(path[i:]); size <= 1 {
				return bad("invalid UTF-8", i)
			}
		case r == 0:
			return bad("null character not allowed", i)
		case r > 0 && r <= 0x1f, r >= 0x7f && r <= 0x9f,
			r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			// r > 0xffff: Java sees a surrogate pair, which the rule forbids.
			return bad(fmt.Sprintf("invalid character \\u%04X", r), i)
		}
	}
	return nil
}

// ParentPath returns the parent of an absolute path ("/" for top-level).
func ParentPath(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// BaseName returns the last segment of an absolute path.
func BaseName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// JoinPath joins a parent path and a child name.
func JoinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}
