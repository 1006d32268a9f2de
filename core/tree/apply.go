package tree

import (
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// Event is a watch trigger fired by applying a transaction.
type Event struct {
	Type int32 // proto.EventNode...
	Path string
	ACL  []proto.ACL // the node's ACL when the event fired (for READ filtering)
}

// Result is what applying a transaction produced: the watch triggers, in
// the order ZooKeeper fires them, and for each operation (one, or one per
// multi op) the client-visible Stat of its node right after it, which
// create2 and setData replies carry.
type Result struct {
	Events []Event
	Stats  []proto.Stat
}

// ErrOutOfOrder reports a transaction whose zxid is not above the last one.
var ErrOutOfOrder = errors.New("tree: transaction applied out of zxid order")

// Apply applies one transaction and returns the watch triggers it fired, in
// the order ZooKeeper fires them. Transactions must come in increasing zxid
// order. A transaction that does not fit the tree (which happens only when
// replaying a log over a fuzzy snapshot) leaves the tree unchanged for that
// operation and is reported as an error; the zxid still advances.
func (t *Tree) Apply(x *txn.Txn) (Result, error) {
	if x.Zxid <= t.lastZxid && x.Zxid != 0 {
		return Result{}, fmt.Errorf("%w: zxid %#x after %#x", ErrOutOfOrder, x.Zxid, t.lastZxid)
	}
	t.lastZxid = x.Zxid
	var res Result
	ev := &res.Events
	var err error
	switch b := x.Body.(type) {
	case *txn.CreateSession:
		t.sessions[x.SessionID] = b.Timeout
	case *txn.CloseSession:
		for _, p := range b.Paths {
			if e := t.applyOp(x, b2delete(p), ev); e != nil && err == nil {
				err = e
			}
		}
		delete(t.sessions, x.SessionID)
	case *txn.SessionSecret:
		// The first secret applied wins; a later one (a second proposal
		// from a new leader that had not applied the first yet, or a log
		// replayed over a snapshot that holds it) changes nothing, so
		// every replica keeps the same secret.
		if t.sessionSecret == nil && len(b.Secret) >= txn.MinSessionSecretLen {
			t.sessionSecret = append([]byte(nil), b.Secret...)
		}
	case *txn.Multi:
		if len(b.Ops) > 0 {
			if _, failed := b.Ops[0].Body.(*txn.Error); failed {
				return res, nil
			}
		}
		for _, op := range b.Ops {
			if e := t.applyOp(x, op.Body, ev); e != nil && err == nil {
				err = e
			}
			res.Stats = append(res.Stats, t.statAfter(op.Body))
		}
	default:
		err = t.applyOp(x, x.Body, ev)
		res.Stats = append(res.Stats, t.statAfter(x.Body))
	}
	return res, err
}

// statAfter returns the Stat of the node an operation touched, if any.
func (t *Tree) statAfter(b txn.Body) proto.Stat {
	var path string
	switch b := b.(type) {
	case *txn.Create:
		path = b.Path
	case *txn.SetData:
		path = b.Path
	case *txn.SetACL:
		path = b.Path
	default:
		return proto.Stat{}
	}
	st, _ := t.Stat(path)
	return st
}

func b2delete(p string) txn.Body { return &txn.Delete{Path: p} }

func (t *Tree) applyOp(x *txn.Txn, body txn.Body, ev *[]Event) error {
	switch b := body.(type) {
	case *txn.Create:
		return t.applyCreate(x, b, ev)
	case *txn.Delete:
		n, ok := t.nodes[b.Path]
		if !ok {
			return &proto.PathError{Path: b.Path, Err: proto.ErrNoNode}
		}
		if len(n.children) > 0 {
			return &proto.PathError{Path: b.Path, Err: proto.ErrNotEmpty}
		}
		parentPath := proto.ParentPath(b.Path)
		acl := n.acl.list
		t.removeNode(b.Path, n)
		p := t.nodes[parentPath]
		if p != nil && x.Zxid > p.stat.Pzxid {
			t.modify(parentPath, p, func() { p.stat.Pzxid = x.Zxid })
		}
		*ev = append(*ev, Event{proto.EventNodeDeleted, b.Path, acl}, Event{proto.EventNodeChildrenChanged, parentPath, p.acl.list})
	case *txn.SetData:
		n, ok := t.nodes[b.Path]
		if !ok {
			return &proto.PathError{Path: b.Path, Err: proto.ErrNoNode}
		}
		t.modify(b.Path, n, func() {
			n.data = b.Data
			n.stat.Version = b.Version
			n.stat.Mzxid = x.Zxid
			n.stat.Mtime = x.Time
		})
		*ev = append(*ev, Event{proto.EventNodeDataChanged, b.Path, n.acl.list})
	case *txn.SetACL:
		n, ok := t.nodes[b.Path]
		if !ok {
			return &proto.PathError{Path: b.Path, Err: proto.ErrNoNode}
		}
		t.modify(b.Path, n, func() {
			t.acls.release(n.acl)
			n.acl = t.acls.get(b.ACL)
			n.stat.Aversion = b.Version
		})
	case *txn.Check, *txn.Error:
	default:
		return fmt.Errorf("tree: cannot apply %T", body)
	}
	return nil
}

func (t *Tree) applyCreate(x *txn.Txn, b *txn.Create, ev *[]Event) error {
	parentPath := proto.ParentPath(b.Path)
	p, ok := t.nodes[parentPath]
	if !ok {
		return &proto.PathError{Path: parentPath, Err: proto.ErrNoNode}
	}
	if _, exists := t.nodes[b.Path]; exists {
		return &proto.PathError{Path: b.Path, Err: proto.ErrNodeExists}
	}
	n := t.addNode(b.Path, b.Data, b.ACL, proto.Stat{
		Czxid: x.Zxid, Mzxid: x.Zxid, Pzxid: x.Zxid,
		Ctime: x.Time, Mtime: x.Time,
		EphemeralOwner: b.EphemeralOwner,
	})
	t.modify(parentPath, p, func() {
		if b.ParentCversion > p.stat.Cversion {
			p.stat.Cversion = b.ParentCversion
		}
		if x.Zxid > p.stat.Pzxid {
			p.stat.Pzxid = x.Zxid
		}
	})
	*ev = append(*ev, Event{proto.EventNodeCreated, b.Path, n.acl.list}, Event{proto.EventNodeChildrenChanged, parentPath, p.acl.list})
	return nil
}
