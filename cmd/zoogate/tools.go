package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
	"github.com/zoogate/zoogate/storage"
	"github.com/zoogate/zoogate/storage/vfs"
)

// cmdLog implements `zoogate log dump PATH [--json]`.
func cmdLog(args []string, stdout, stderr io.Writer) int {
	path, asJSON, ok := toolArgs(args, "log", "dump", "PATH: data dir or log dir (their log/ subdirectory), a log/ dir, or a segment file", stderr)
	if !ok {
		return 2
	}
	segs, err := segmentFiles(path)
	if err != nil {
		fmt.Fprintf(stderr, "zoogate log dump: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	count := 0
	for _, seg := range segs {
		err := storage.ScanSegment(vfs.OS{}, seg, func(rec storage.Record, off int64) error {
			x, err := txn.Decode(rec.Payload)
			if err != nil {
				return fmt.Errorf("%s at byte %d: zxid %#x: %w", seg, off, rec.Zxid, err)
			}
			count++
			if *asJSON {
				return enc.Encode(txnJSON(x))
			}
			_, err = fmt.Fprintln(stdout, txnText(x))
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "zoogate log dump: %v\n", err)
			return 1
		}
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%d transactions in %d segment(s)\n", count, len(segs))
	}
	return 0
}

// toolArgs parses `zoogate TOOL VERB PATH [--json]`.
func toolArgs(args []string, tool, verb, pathHelp string, stderr io.Writer) (path string, asJSON *bool, ok bool) {
	if len(args) == 0 || args[0] != verb {
		fmt.Fprintf(stderr, "usage: zoogate %s %s PATH [--json]   (%s)\n", tool, verb, pathHelp)
		return "", nil, false
	}
	fs := flag.NewFlagSet(tool+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON = fs.Bool("json", false, "one JSON object per line")
	path, err := parseWithPath(fs, args[1:])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return "", nil, false
	}
	return path, asJSON, true
}

// parseWithPath parses flags given before or after the one PATH argument.
func parseWithPath(fs *flag.FlagSet, args []string) (string, error) {
	var path string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		args = fs.Args()
		if len(args) > 0 {
			if path != "" {
				return "", fmt.Errorf("%s takes one PATH", fs.Name())
			}
			path, args = args[0], args[1:]
		}
	}
	if path == "" {
		return "", fmt.Errorf("%s needs a PATH", fs.Name())
	}
	return path, nil
}

// segmentFiles resolves a data dir or log dir (the segments are in its log/
// subdirectory), a log/ directory itself, or a segment file to segment
// paths.
func segmentFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	if sub := filepath.Join(path, "log"); isDir(sub) {
		path = sub
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no log segments (log.*) in %s (a node with its own log_dir keeps its log in <log_dir>/log: give that directory)", path)
	}
	sort.Strings(out)
	return out, nil
}

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

func fmtACL(acl []proto.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%s:%s:%s", a.ID.Scheme, a.ID.ID, permString(a.Perms))
	}
	return strings.Join(parts, ",")
}

func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{proto.PermCreate, 'c'}, {proto.PermDelete, 'd'}, {proto.PermRead, 'r'}, {proto.PermWrite, 'w'}, {proto.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// bodyFields describes a transaction body as ordered key/value pairs.
func bodyFields(b txn.Body) [][2]string {
	q := strconv.Quote
	switch b := b.(type) {
	case *txn.Create:
		return [][2]string{{"path", b.Path}, {"data", q(string(b.Data))}, {"acl", fmtACL(b.ACL)}, {"owner", fmt.Sprintf("%#x", b.EphemeralOwner)}, {"parent_cversion", fmt.Sprint(b.ParentCversion)}}
	case *txn.Delete:
		return [][2]string{{"path", b.Path}}
	case *txn.SetData:
		return [][2]string{{"path", b.Path}, {"data", q(string(b.Data))}, {"version", fmt.Sprint(b.Version)}}
	case *txn.SetACL:
		return [][2]string{{"path", b.Path}, {"acl", fmtACL(b.ACL)}, {"version", fmt.Sprint(b.Version)}}
	case *txn.Check:
		return [][2]string{{"path", b.Path}, {"version", fmt.Sprint(b.Version)}}
	case *txn.CreateSession:
		return [][2]string{{"timeout_ms", fmt.Sprint(b.Timeout)}}
	case *txn.CloseSession:
		return [][2]string{{"ephemerals", strings.Join(b.Paths, ",")}}
	case *txn.Error:
		return [][2]string{{"err", fmt.Sprint(int32(b.Code))}}
	case *txn.SessionSecret: // never shown: it keys every session password
		return [][2]string{{"secret", fmt.Sprintf("<redacted %d bytes>", len(b.Secret))}}
	}
	return nil
}

func txnText(x *txn.Txn) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s zxid=%#x session=%#x cxid=%#x %s", time.UnixMilli(x.Time).UTC().Format(time.RFC3339Nano), x.Zxid, x.SessionID, x.Cxid, txn.TypeName(x.Type))
	if m, ok := x.Body.(*txn.Multi); ok {
		for i, op := range m.Ops {
			fmt.Fprintf(&b, "\n    op %d %s", i, op.Type)
			for _, kv := range bodyFields(op.Body) {
				fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
			}
		}
		return b.String()
	}
	for _, kv := range bodyFields(x.Body) {
		fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
	}
	return b.String()
}

func fieldsMap(b txn.Body) map[string]string {
	m := map[string]string{}
	for _, kv := range bodyFields(b) {
		m[kv[0]] = kv[1]
	}
	return m
}

func txnJSON(x *txn.Txn) map[string]any {
	out := map[string]any{
		"zxid": fmt.Sprintf("%#x", x.Zxid), "time": x.Time, "session": fmt.Sprintf("%#x", x.SessionID),
		"cxid": x.Cxid, "type": txn.TypeName(x.Type),
	}
	if m, ok := x.Body.(*txn.Multi); ok {
		ops := make([]map[string]any, len(m.Ops))
		for i, op := range m.Ops {
			ops[i] = map[string]any{"type": op.Type.String(), "fields": fieldsMap(op.Body)}
		}
		out["ops"] = ops
	} else {
		out["fields"] = fieldsMap(x.Body)
	}
	return out
}

// cmdSnapshot implements `zoogate snapshot inspect PATH [--json]`.
func cmdSnapshot(args []string, stdout, stderr io.Writer) int {
	path, asJSON, ok := toolArgs(args, "snapshot", "inspect", "PATH: a snapshot file", stderr)
	if !ok {
		return 2
	}
	r, err := storage.ReadSnapshotFile(vfs.OS{}, path)
	if err != nil {
		fmt.Fprintf(stderr, "zoogate snapshot inspect: %v\n", err)
		return 1
	}
	defer r.Close()
	t, err := tree.ReadSnapshot(r, r.Zxid())
	if err == nil {
		_, err = io.Copy(io.Discard, r) // reach the end so the checksum is verified
	}
	if err != nil {
		fmt.Fprintf(stderr, "zoogate snapshot inspect: %s: %v\n", path, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	ids := make([]int64, 0, len(t.Sessions()))
	for id := range t.Sessions() {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if !*asJSON {
		fmt.Fprintf(stdout, "snapshot %s: zxid %#x, %d nodes, %d sessions, digest %016x\n", path, r.Zxid(), t.NodeCount(), len(ids), t.Digest())
		if t.HasSessionSecret() {
			fmt.Fprintln(stdout, "session secret: <redacted>")
		}
		fmt.Fprintln(stdout, "sessions:")
	}
	for _, id := range ids {
		if *asJSON {
			enc.Encode(map[string]any{"session": fmt.Sprintf("%#x", id), "timeout_ms": t.Sessions()[id]})
		} else {
			fmt.Fprintf(stdout, "  %#x timeout=%dms ephemerals=%d\n", id, t.Sessions()[id], len(t.Ephemerals(id)))
		}
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "nodes:")
	}
	err = t.Walk(func(p string, data []byte, acl []proto.ACL, _ proto.Stat) error {
		st, _ := t.Stat(p)
		if *asJSON {
			return enc.Encode(map[string]any{"path": p, "data": string(data), "acl": fmtACL(acl), "stat": st})
		}
		_, err := fmt.Fprintf(stdout, "  %s len=%d czxid=%#x mzxid=%#x pzxid=%#x version=%d cversion=%d aversion=%d owner=%#x children=%d acl=%s\n",
			p, st.DataLength, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.NumChildren, fmtACL(acl))
		return err
	})
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintf(stderr, "zoogate snapshot inspect: %v\n", err)
		return 1
	}
	return 0
}
