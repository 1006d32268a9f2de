package tests

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
)

// reply is one side's answer to an op, rendered so that equal behaviour
// gives equal text: zxids relative to the workload root's czxid, session
// ids as session indexes, children sorted, times left out.
type reply struct {
	text    string
	created []string // names returned by creates (to steer later steps)
}

// run executes o on this side and renders the answer.
func (s *side) run(o op) reply {
	ss := s.sess[o.sess]
	c := ss.conn
	switch o.kind {
	case opCreate:
		name, err := c.Create(o.path, o.data, o.flags, o.acl)
		return reply{text: fmt.Sprintf("name=%s err=%s", name, errText(err)), created: []string{name}}
	case opCreateContainer:
		name, err := c.CreateContainer(o.path, o.data, o.flags, o.acl)
		return reply{text: fmt.Sprintf("name=%s err=%s", name, errText(err)), created: []string{name}}
	case opCreateTTL:
		name, err := c.CreateTTL(o.path, o.data, o.flags, o.acl, o.ttl)
		return reply{text: fmt.Sprintf("name=%s err=%s", name, errText(err)), created: []string{name}}
	case opDelete:
		return reply{text: "err=" + errText(c.Delete(o.path, o.version))}
	case opSetData:
		st, err := c.Set(o.path, o.data, o.version)
		return reply{text: fmt.Sprintf("err=%s stat=%s", errText(err), s.statIf(st, err))}
	case opGet:
		var data []byte
		var st *zk.Stat
		var err error
		if o.watch {
			data, st, _, err = c.GetW(o.path)
		} else {
			data, st, err = c.Get(o.path)
		}
		return reply{text: fmt.Sprintf("err=%s data=%s stat=%s", errText(err), dataText(data), s.statIf(st, err))}
	case opExists:
		var ok bool
		var st *zk.Stat
		var err error
		if o.watch {
			ok, st, _, err = c.ExistsW(o.path)
		} else {
			ok, st, err = c.Exists(o.path)
		}
		if !ok {
			st = nil
		}
		return reply{text: fmt.Sprintf("err=%s exists=%v stat=%s", errText(err), ok, s.statIf(st, err))}
	case opChildren:
		var kids []string
		var st *zk.Stat
		var err error
		if o.watch {
			kids, st, _, err = c.ChildrenW(o.path)
		} else {
			kids, st, err = c.Children(o.path)
		}
		return reply{text: fmt.Sprintf("err=%s children=%v stat=%s", errText(err), sortedCopy(kids), s.statIf(st, err))}
	case opGetACL:
		acl, st, err := c.GetACL(o.path)
		return reply{text: fmt.Sprintf("err=%s acl=%s stat=%s", errText(err), aclText(acl), s.statIf(st, err))}
	case opSetACL:
		st, err := c.SetACL(o.path, o.acl, o.version)
		return reply{text: fmt.Sprintf("err=%s stat=%s", errText(err), s.statIf(st, err))}
	case opMulti:
		return s.runMulti(c, o.multi)
	case opSync:
		p, err := c.Sync(o.path)
		return reply{text: fmt.Sprintf("err=%s path=%s", errText(err), p)}
	case opAddAuth:
		return reply{text: "err=" + errText(c.AddAuth("digest", []byte(o.auth)))}
	case opCloseSession:
		ss.close()
		return reply{text: "closed"}
	}
	return reply{text: "unknown op " + string(o.kind)}
}

func (s *side) runMulti(c *zk.Conn, ops []multiOp) reply {
	reqs := make([]any, len(ops))
	for i, m := range ops {
		switch m.kind {
		case opCreate:
			reqs[i] = &zk.CreateRequest{Path: m.path, Data: m.data, Acl: m.acl, Flags: m.flags}
		case opDelete:
			reqs[i] = &zk.DeleteRequest{Path: m.path, Version: m.version}
		case opSetData:
			reqs[i] = &zk.SetDataRequest{Path: m.path, Data: m.data, Version: m.version}
		default:
			reqs[i] = &zk.CheckVersionRequest{Path: m.path, Version: m.version}
		}
	}
	res, err := c.Multi(reqs...)
	var b strings.Builder
	fmt.Fprintf(&b, "err=%s results=%d", errText(err), len(res))
	var created []string
	for i, r := range res {
		fmt.Fprintf(&b, "\n      [%d] err=%s string=%s stat=%s", i, errText(r.Error), r.String, s.statIf(r.Stat, r.Error))
		if r.Error == nil && r.String != "" {
			created = append(created, r.String)
		}
	}
	return reply{text: b.String(), created: created}
}

// statIf renders st when the call succeeded.
func (s *side) statIf(st *zk.Stat, err error) string {
	if err != nil || st == nil {
		return "-"
	}
	return s.stat(st)
}

// stat renders every Stat field but ctime and mtime, with zxids relative
// to the workload root and the ephemeral owner as a session index.
func (s *side) stat(st *zk.Stat) string {
	return fmt.Sprintf("{czxid=%s mzxid=%s pzxid=%s ver=%d cver=%d aver=%d owner=%s len=%d kids=%d}",
		s.zxid(st.Czxid), s.zxid(st.Mzxid), s.zxid(st.Pzxid), st.Version, st.Cversion, st.Aversion,
		s.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

func (s *side) zxid(z int64) string {
	if z == 0 {
		return "0"
	}
	return fmt.Sprintf("B%+d", z-s.base)
}

func (s *side) owner(id int64) string {
	if id == 0 {
		return "0"
	}
	if i, ok := s.idx[id]; ok {
		return fmt.Sprintf("session#%d", i)
	}
	return fmt.Sprintf("unknown(%#x)", id)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// dataText tells null data (a -1 length on the wire) from empty data.
func dataText(b []byte) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("%q", b)
}

// aclText renders an ACL list sorted: ZooKeeper keeps a session's
// identities in a hash set, so the order in which an auth:"" entry expands
// into several digest ids is no contract. Duplicates still show.
func aclText(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.Scheme, a.ID)
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "]"
}

// dumpTree renders the whole tree (data, stat, ACL of every node) as seen
// by session ss, which should hold super so nothing is hidden.
func (s *side) dumpTree(ss *session) (string, error) {
	var b strings.Builder
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := ss.conn.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		acl, _, err := ss.conn.GetACL(p)
		if err != nil {
			return fmt.Errorf("getACL %s: %w", p, err)
		}
		fmt.Fprintf(&b, "%s data=%s acl=%s stat=%s\n", p, dataText(data), aclText(acl), s.stat(st))
		kids, _, err := ss.conn.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			if err := walk(path.Join(p, k)); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk("/")
	return b.String(), err
}
