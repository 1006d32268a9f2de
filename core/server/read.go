package server

import (
	"fmt"
	"strings"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/watch"
)

func isRead(op proto.Op) bool {
	switch op {
	case proto.OpExists, proto.OpGetData, proto.OpGetACL, proto.OpGetChildren,
		proto.OpGetChildren2, proto.OpMultiRead, proto.OpSetWatches, proto.OpSetWatches2,
		proto.OpAddWatch, proto.OpCheckWatches, proto.OpRemoveWatches,
		proto.OpGetEphemerals, proto.OpGetAllChildrenNumber, proto.OpWhoAmI:
		return true
	}
	return false
}

func aclAllows(list []proto.ACL, perm int32, ids []proto.ID) bool {
	return acl.Check(list, perm, ids)
}

// readResult is a read's outcome: an error code or a body.
type readResult struct {
	err  error
	body func(e *jute.Encoder)
}

// handleRead answers a read request from the local tree. The processor
// calls it only after every earlier write of the session was applied.
func (s *Server) handleRead(c *conn, it *item) []byte {
	return s.answerRead(c, it, false)
}

// answerRead builds a read's reply under the tree's read lock and, with
// send, queues it to c before releasing the lock. A read that sets a
// watch must reach the client before that watch's notification: writes
// fire watches under the write lock, so a reply queued after the lock was
// released could be overtaken by the event of the very next write, and a
// client library that learns of its watch from the reply (go-zookeeper,
// the Java client) drops an event for a watch it does not know yet and
// then waits forever.
func (s *Server) answerRead(c *conn, it *item, send bool) []byte {
	d := jute.NewDecoder(it.body, s.cfg.MaxPacketSize)
	s.mu.RLock()
	defer s.mu.RUnlock()
	zxid := s.tree.LastZxid()
	r := s.read(c, it, d)
	var frame []byte
	if r.err != nil {
		frame = errorFrame(it.hdr.Xid, zxid, proto.CodeOf(r.err))
	} else {
		frame = encodeFrame(proto.ReplyHeader{Xid: it.hdr.Xid, Zxid: zxid}, r.body)
	}
	if send {
		c.send(frame)
	}
	return frame
}

func (s *Server) checkRead(list []proto.ACL, perm int32, ids []proto.ID) error {
	if s.cfg.SkipACL || acl.Check(list, perm, ids) {
		return nil
	}
	return proto.ErrNoAuth
}

func marshalErr(d *jute.Decoder) readResult {
	return readResult{err: fmt.Errorf("%w: %w", proto.ErrMarshalling, d.Err())}
}

// read runs under the tree's shared lock.
func (s *Server) read(c *conn, it *item, d *jute.Decoder) readResult {
	t := s.tree
	switch it.hdr.Type {
	case proto.OpExists:
		r := proto.DecodePathWatch(d)
		if d.Err() != nil {
			return marshalErr(d)
		}
		if strings.IndexByte(r.Path, 0) >= 0 {
			return readResult{err: proto.ErrBadArguments}
		}
		_, st, list, ok := t.Get(r.Path)
		if ok {
			if err := s.checkRead(list, proto.PermRead, it.auth); err != nil {
				return readResult{err: err}
			}
		}
		if r.Watch {
			s.watches.Add(c.id, r.Path, watch.Data)
		}
		if !ok {
			return readResult{err: proto.ErrNoNode}
		}
		return readResult{body: func(e *jute.Encoder) { st.Encode(e) }}
	case proto.OpGetData:
		r := proto.DecodePathWatch(d)
		if d.Err() != nil {
			return marshalErr(d)
		}
		data, st, err := s.getData(c, it, r)
		if err != nil {
			return readResult{err: err}
		}
		return readResult{body: func(e *jute.Encoder) { e.Buffer(data); st.Encode(e) }}
	case proto.OpGetChildren, proto.OpGetChildren2:
		r := proto.DecodePathWatch(d)
		if d.Err() != nil {
			return marshalErr(d)
		}
		children, st, err := s.getChildren(c, it, r)
		if err != nil {
			return readResult{err: err}
		}
		withStat := it.hdr.Type == proto.OpGetChildren2
		return readResult{body: func(e *jute.Encoder) {
			e.Strings(children)
			if withStat {
				st.Encode(e)
			}
		}}
	case proto.OpGetACL:
		path := d.String("GetACLRequest.path")
		if d.Err() != nil {
			return marshalErr(d)
		}
		_, st, list, ok := t.Get(path)
		if !ok {
			return readResult{err: proto.ErrNoNode}
		}
		if s.checkRead(list, proto.PermRead|proto.PermAdmin, it.auth) != nil {
			return readResult{err: proto.ErrNoAuth}
		}
		if s.checkRead(list, proto.PermAdmin, it.auth) != nil {
			list = acl.MaskDigests(list)
		}
		return readResult{body: func(e *jute.Encoder) { proto.EncodeACLs(e, list); st.Encode(e) }}
	case proto.OpGetAllChildrenNumber:
		path := d.String("GetAllChildrenNumberRequest.path")
		if d.Err() != nil {
			return marshalErr(d)
		}
		list, ok := t.ACL(path)
		if !ok {
			return readResult{err: proto.ErrNoNode}
		}
		if err := s.checkRead(list, proto.PermRead, it.auth); err != nil {
			return readResult{err: err}
		}
		n, _ := t.CountDescendants(path)
		return readResult{body: func(e *jute.Encoder) { e.Int(int32(n)) }}
	case proto.OpGetEphemerals:
		prefix := d.String("GetEphemeralsRequest.prefixPath")
		if d.Err() != nil {
			return marshalErr(d)
		}
		var out []string
		for _, p := range t.Ephemerals(c.session.Load()) {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, prefix) {
				out = append(out, p)
			}
		}
		return readResult{body: func(e *jute.Encoder) { e.Strings(out) }}
	case proto.OpWhoAmI:
		ids := it.auth
		return readResult{body: func(e *jute.Encoder) {
			e.VectorLen(len(ids))
			for _, id := range ids {
				user := id.ID
				if id.Scheme == "digest" { // ZooKeeper shows the user, not the hash
					user, _, _ = strings.Cut(user, ":")
				}
				e.String(id.Scheme)
				e.String(user)
			}
		}}
	case proto.OpMultiRead:
		return s.multiRead(c, it, d)
	case proto.OpSetWatches, proto.OpSetWatches2:
		r := proto.DecodeSetWatches(d, it.hdr.Type == proto.OpSetWatches2)
		if d.Err() != nil {
			return marshalErr(d)
		}
		s.setWatches(c, r)
		return readResult{}
	case proto.OpAddWatch:
		r := proto.DecodePathType(d)
		if d.Err() != nil {
			return marshalErr(d)
		}
		switch r.Type {
		case proto.AddWatchPersistent:
			s.watches.Add(c.id, r.Path, watch.Persistent)
		case proto.AddWatchPersistentRecursive:
			s.watches.Add(c.id, r.Path, watch.Recursive)
		default:
			return readResult{err: proto.ErrBadArguments}
		}
		// The Java client expects an ErrorResponse{0} body.
		return readResult{body: func(e *jute.Encoder) { e.Int(0) }}
	case proto.OpCheckWatches, proto.OpRemoveWatches:
		r := proto.DecodePathType(d)
		if d.Err() != nil {
			return marshalErr(d)
		}
		if !s.watches.Check(c.id, r.Path, r.Type, it.hdr.Type == proto.OpRemoveWatches) {
			return readResult{err: proto.ErrNoWatcher}
		}
		return readResult{}
	}
	return readResult{err: proto.ErrUnimplemented}
}

// getData reads a node's data and Stat, checking READ and arming a data
// watch if asked.
func (s *Server) getData(c *conn, it *item, r *proto.PathWatch) ([]byte, proto.Stat, error) {
	data, st, list, ok := s.tree.Get(r.Path)
	if !ok {
		return nil, st, proto.ErrNoNode
	}
	if err := s.checkRead(list, proto.PermRead, it.auth); err != nil {
		return nil, st, err
	}
	if r.Watch {
		s.watches.Add(c.id, r.Path, watch.Data)
	}
	return data, st, nil
}

// getChildren lists a node's children with its Stat, checking READ and
// arming a child watch if asked.
func (s *Server) getChildren(c *conn, it *item, r *proto.PathWatch) ([]string, proto.Stat, error) {
	list, ok := s.tree.ACL(r.Path)
	if !ok {
		return nil, proto.Stat{}, proto.ErrNoNode
	}
	if err := s.checkRead(list, proto.PermRead, it.auth); err != nil {
		return nil, proto.Stat{}, err
	}
	children, _ := s.tree.Children(r.Path)
	st, _ := s.tree.Stat(r.Path)
	if r.Watch {
		s.watches.Add(c.id, r.Path, watch.Child)
	}
	return children, st, nil
}

func (s *Server) multiRead(c *conn, it *item, d *jute.Decoder) readResult {
	ops, err := proto.DecodeMulti(d)
	if err != nil {
		return readResult{err: fmt.Errorf("%w: %w", proto.ErrMarshalling, err)}
	}
	results := make([]proto.MultiResult, len(ops))
	for i, op := range ops {
		res := proto.MultiResult{Type: op.Type}
		var err error
		switch op.Type {
		case proto.OpGetData:
			var st proto.Stat
			res.Data, st, err = s.getData(c, it, op.Read)
			res.Stat = &st
		case proto.OpGetChildren:
			res.Children, _, err = s.getChildren(c, it, op.Read)
		default:
			return readResult{err: fmt.Errorf("%w: %v in multiRead", proto.ErrMarshalling, op.Type)}
		}
		res.Err = proto.CodeOf(err)
		results[i] = res
	}
	return readResult{body: func(e *jute.Encoder) { proto.EncodeMultiResponse(e, results) }}
}

// setWatches restores a reconnecting client's watches, sending at once the
// events it missed (compared with relativeZxid), with zxid -1.
func (s *Server) setWatches(c *conn, r *proto.SetWatches) {
	event := func(typ int32, path string) {
		c.send(encodeFrame(proto.ReplyHeader{Xid: proto.XidNotification, Zxid: -1}, func(e *jute.Encoder) {
			(&proto.WatcherEvent{Type: typ, State: proto.StateSyncConnected, Path: path}).Encode(e)
		}))
	}
	t := s.tree
	for _, p := range r.DataWatches {
		m, ok := t.Meta(p)
		switch {
		case !ok:
			event(proto.EventNodeDeleted, p)
		case m.Mzxid > r.RelativeZxid:
			event(proto.EventNodeDataChanged, p)
		default:
			s.watches.Add(c.id, p, watch.Data)
		}
	}
	for _, p := range r.ExistWatches {
		if t.Exists(p) {
			event(proto.EventNodeCreated, p)
		} else {
			s.watches.Add(c.id, p, watch.Data)
		}
	}
	for _, p := range r.ChildWatches {
		m, ok := t.Meta(p)
		switch {
		case !ok:
			event(proto.EventNodeDeleted, p)
		case m.Pzxid > r.RelativeZxid:
			event(proto.EventNodeChildrenChanged, p)
		default:
			s.watches.Add(c.id, p, watch.Child)
		}
	}
	for _, p := range r.PersistentWatches {
		s.watches.Add(c.id, p, watch.Persistent)
	}
	for _, p := range r.PersistentRecursive {
		s.watches.Add(c.id, p, watch.Recursive)
	}
}
