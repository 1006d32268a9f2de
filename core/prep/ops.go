package prep

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
)

func badArgs(format string, a ...any) error {
	return fmt.Errorf("%w: %s", proto.ErrBadArguments, fmt.Sprintf(format, a...))
}

// create follows ZooKeeper's order of checks: flags and TTL, path syntax,
// ACL fix-up, parent exists, CREATE on the parent, sequence suffix, final
// path, node exists, parent ephemeral.
func (v *view) create(op proto.Op, r *proto.CreateRequest, req *Request) (txn.Body, error) {
	if r.Flags < proto.FlagPersistent || r.Flags > proto.FlagPersistentSequentialWithTTL {
		return nil, badArgs("invalid create flags %d", r.Flags)
	}
	isTTL := r.Flags == proto.FlagPersistentWithTTL || r.Flags == proto.FlagPersistentSequentialWithTTL
	if isTTL && !v.p.cfg.TTLEnabled {
		return nil, fmt.Errorf("%w: TTL nodes are disabled (cluster.ttl_nodes)", proto.ErrUnimplemented)
	}
	ttl := r.TTL
	if op != proto.OpCreateTTL {
		ttl = -1
	}
	if isTTL && (ttl <= 0 || ttl > txn.MaxTTL) {
		return nil, badArgs("ttl %d out of range [1, %d]", ttl, txn.MaxTTL)
	}
	if !isTTL && ttl >= 0 {
		return nil, badArgs("ttl %d given for a create mode without TTL", ttl)
	}
	sequential := r.Flags == proto.FlagPersistentSequential || r.Flags == proto.FlagEphemeralSequential ||
		r.Flags == proto.FlagPersistentSequentialWithTTL
	path := r.Path
	check := path
	if sequential {
		check = path + "1"
	}
	if err := proto.ValidatePath(check); err != nil {
		return nil, err
	}
	acls, err := acl.Fixup(r.ACL, req.Auth)
	if err != nil {
		return nil, pathErr(path, err)
	}
	// The parent is everything before the last slash; for "/" itself that
	// is the root (ZooKeeper keeps the root under "" too), so creating "/"
	// says NodeExists and a sequential "/" makes "/<suffix>".
	parentPath := path[:strings.LastIndexByte(path, '/')]
	if parentPath == "" {
		parentPath = "/"
	}
	parent, ok := v.get(parentPath)
	if !ok {
		return nil, pathErr(parentPath, proto.ErrNoNode)
	}
	if err := v.checkACL(parent.ACL, proto.PermCreate, req); err != nil {
		return nil, pathErr(parentPath, err)
	}
	if sequential {
		if path == "/" {
			path = ""
		}
		path += fmt.Sprintf("%010d", parent.StoredCversion)
		if path[0] != '/' {
			path = "/" + path
		}
	}
	if err := proto.ValidatePath(path); err != nil {
		return nil, err
	}
	if _, exists := v.get(path); exists {
		return nil, pathErr(path, proto.ErrNodeExists)
	}
	if txn.IsSessionOwner(parent.Owner) {
		return nil, pathErr(parentPath, proto.ErrNoChildrenForEphemerals)
	}
	var owner int64
	switch {
	case r.Flags == proto.FlagEphemeral || r.Flags == proto.FlagEphemeralSequential:
		owner = req.SessionID
	case r.Flags == proto.FlagContainer:
		owner = txn.ContainerOwner
	case isTTL:
		owner = txn.TTLOwner(ttl)
	}
	parent.StoredCversion++
	parent.NumChildren++
	parent.Pzxid = v.zxid
	v.set(parentPath, true, parent)
	v.set(path, true, tree.Meta{Owner: owner, ACL: acls, Mzxid: v.zxid, Pzxid: v.zxid})
	return &txn.Create{Path: path, Data: r.Data, ACL: acls, EphemeralOwner: owner, ParentCversion: parent.StoredCversion}, nil
}

func checkVersion(path string, want, have int32) error {
	if want != -1 && want != have {
		return pathErr(path, proto.ErrBadVersion)
	}
	return nil
}

func (v *view) delete(r *proto.PathVersion, req *Request) (txn.Body, error) {
	container := req.Type == proto.OpDeleteContainer
	path := r.Path
	// ZooKeeper checks only this much of a delete's path; anything else
	// that is not a valid path simply does not exist.
	if strings.LastIndexByte(path, '/') < 0 || strings.IndexByte(path, 0) >= 0 {
		return nil, pathErr(path, badArgs("invalid path"))
	}
	if tree.IsReserved(path) {
		return nil, pathErr(path, badArgs("cannot delete a built-in node"))
	}
	parentPath := proto.ParentPath(path)
	parent, ok := v.get(parentPath)
	if !ok {
		return nil, pathErr(parentPath, proto.ErrNoNode)
	}
	if err := v.checkACL(parent.ACL, proto.PermDelete, req); err != nil {
		return nil, pathErr(parentPath, err)
	}
	n, ok := v.get(path)
	if !ok {
		return nil, pathErr(path, proto.ErrNoNode)
	}
	if err := checkVersion(path, r.Version, n.Version); err != nil {
		return nil, err
	}
	if n.NumChildren > 0 {
		return nil, pathErr(path, proto.ErrNotEmpty)
	}
	if _, ttl := txn.IsTTLOwner(n.Owner); container && n.Owner != txn.ContainerOwner && !ttl {
		return nil, pathErr(path, badArgs("not a container or TTL node"))
	}
	parent.NumChildren--
	parent.Pzxid = v.zxid
	v.set(parentPath, true, parent)
	v.set(path, false, tree.Meta{})
	return &txn.Delete{Path: path}, nil
}

func (v *view) setData(r *proto.SetDataRequest, req *Request) (txn.Body, error) {
	if err := proto.ValidatePath(r.Path); err != nil {
		return nil, err
	}
	n, ok := v.get(r.Path)
	if !ok {
		return nil, pathErr(r.Path, proto.ErrNoNode)
	}
	if err := v.checkACL(n.ACL, proto.PermWrite, req); err != nil {
		return nil, pathErr(r.Path, err)
	}
	if err := checkVersion(r.Path, r.Version, n.Version); err != nil {
		return nil, err
	}
	n.Version++
	n.Mzxid = v.zxid
	v.set(r.Path, true, n)
	return &txn.SetData{Path: r.Path, Data: r.Data, Version: n.Version}, nil
}

func (v *view) setACL(r *proto.SetACLRequest, req *Request) (txn.Body, error) {
	if err := proto.ValidatePath(r.Path); err != nil {
		return nil, err
	}
	acls, err := acl.Fixup(r.ACL, req.Auth)
	if err != nil {
		return nil, pathErr(r.Path, err)
	}
	n, ok := v.get(r.Path)
	if !ok {
		return nil, pathErr(r.Path, proto.ErrNoNode)
	}
	if err := v.checkACL(n.ACL, proto.PermAdmin, req); err != nil {
		return nil, pathErr(r.Path, err)
	}
	if err := checkVersion(r.Path, r.Version, n.Aversion); err != nil {
		return nil, err
	}
	n.Aversion++
	n.ACL = acls
	v.set(r.Path, true, n)
	return &txn.SetACL{Path: r.Path, ACL: acls, Version: n.Aversion}, nil
}

func (v *view) check(r *proto.PathVersion, req *Request) (txn.Body, error) {
	if err := proto.ValidatePath(r.Path); err != nil {
		return nil, err
	}
	n, ok := v.get(r.Path)
	if !ok {
		return nil, pathErr(r.Path, proto.ErrNoNode)
	}
	if err := v.checkACL(n.ACL, proto.PermRead, req); err != nil {
		return nil, pathErr(r.Path, err)
	}
	if err := checkVersion(r.Path, r.Version, n.Version); err != nil {
		return nil, err
	}
	return &txn.Check{Path: r.Path, Version: r.Version}, nil
}

// multi prepares every op against the running view. On the first failure it
// returns a Multi of Error ops: 0 before the failing op, its code, then
// RuntimeInconsistency, and the error.
func (v *view) multi(ops []proto.MultiOp, req *Request) (txn.Body, error) {
	m := &txn.Multi{Ops: make([]txn.Op, 0, len(ops))}
	for i, op := range ops {
		var b txn.Body
		var err error
		switch op.Type {
		case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
			b, err = v.create(op.Type, op.Create, req)
		case proto.OpDelete:
			b, err = v.delete(op.Path, req)
		case proto.OpSetData:
			b, err = v.setData(op.SetData, req)
		case proto.OpCheck:
			b, err = v.check(op.Path, req)
		default:
			err = badArgs("op type %v not allowed in multi", op.Type)
		}
		if err != nil {
			failed := &txn.Multi{Ops: make([]txn.Op, len(ops))}
			for j := range ops {
				code := proto.CodeOK
				switch {
				case j == i:
					code = proto.CodeOf(err)
				case j > i:
					code = proto.CodeRuntimeInconsistency
				}
				failed.Ops[j] = txn.Op{Type: proto.OpError, Body: &txn.Error{Code: code}}
			}
			v.local = map[string]*change{}
			return failed, err
		}
		m.Ops = append(m.Ops, txn.Op{Type: op.Type, Body: b})
	}
	return m, nil
}

// closeSession lists the session's ephemerals, applied or outstanding.
func (v *view) closeSession(session int64) []string {
	set := make(map[string]struct{})
	for _, p := range v.p.r.Ephemerals(session) {
		set[p] = struct{}{}
	}
	for p := range v.p.owners[session] {
		set[p] = struct{}{}
	}
	var out []string
	for p := range set {
		if m, ok := v.get(p); ok && m.Owner == session {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	for _, p := range out {
		parentPath := proto.ParentPath(p)
		if parent, ok := v.get(parentPath); ok {
			parent.NumChildren--
			parent.Pzxid = v.zxid
			v.set(parentPath, true, parent)
		}
		v.set(p, false, tree.Meta{})
	}
	return out
}
