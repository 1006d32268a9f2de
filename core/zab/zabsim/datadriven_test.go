package zabsim

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// A tiny reader for etcd-raft-style "datadriven" files, written here to
// avoid a dependency for ~100 lines:
//
//	# comment
//	command arg key=value
//	----
//	expected output
//	(a blank line ends the output)
//
// With -rewrite the files are rewritten with the actual outputs; review
// the diff before committing it.

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of scenario files")

type ddCase struct {
	line    int
	cmd     string
	args    []string
	kv      map[string]string
	want    string
	comment []string // comment lines before the command
}

func parseDD(t *testing.T, path string) []ddCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []ddCase
	var comments []string
	sc := bufio.NewScanner(f)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if len(comments) > 0 {
				comments = append(comments, "")
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			comments = append(comments, line)
			continue
		}
		c := ddCase{line: lineNo, kv: map[string]string{}, comment: comments}
		comments = nil
		fields := strings.Fields(trimmed)
		c.cmd = fields[0]
		for _, a := range fields[1:] {
			if k, v, ok := strings.Cut(a, "="); ok {
				c.kv[k] = v
			} else {
				c.args = append(c.args, a)
			}
		}
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s:%d: expected ---- after %q", path, lineNo, trimmed)
		}
		lineNo++
		var out []string
		for sc.Scan() {
			lineNo++
			if sc.Text() == "" {
				break
			}
			out = append(out, sc.Text())
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases
}

// runDD runs every case of path through run and compares (or rewrites).
func runDD(t *testing.T, path string, run func(c ddCase) string) {
	t.Helper()
	cases := parseDD(t, path)
	var b strings.Builder
	for _, c := range cases {
		for _, l := range trimTrailingEmpty(c.comment) {
			b.WriteString(l + "\n")
		}
		got := strings.TrimRight(run(c), "\n")
		if got == "" {
			got = "ok"
		}
		if !*rewrite && got != c.want {
			t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s\n(rerun with -rewrite to update, then review the diff)",
				path, c.line, c.raw(), got, c.want)
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", c.raw(), got)
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(b.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (c ddCase) raw() string {
	parts := []string{c.cmd}
	parts = append(parts, c.args...)
	for _, k := range sortedKeys(c.kv) {
		parts = append(parts, k+"="+c.kv[k])
	}
	return strings.Join(parts, " ")
}

func trimTrailingEmpty(ls []string) []string {
	for len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}
