package tree

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/txn"
)

// Snapshot payload format (inside storage's snapshot file, which adds the
// zxid header and the checksum trailer):
//
//	magic "ZGTREE02"
//	frame: sessions  = int count, then (long id, int timeout)*
//	frame: meta      = int count, then (ustring key, buffer value)*
//	frame: node*     = ustring path, buffer data, vector<ACL>, long czxid,
//	                   long mzxid, long ctime, long mtime, int version,
//	                   int storedCversion, int aversion, long owner, long pzxid
//	frame: end       = ustring "" (empty path)
//
// Every frame is [uint32 length][jute bytes], so a reader streams it with a
// bounded buffer. Nodes come parents first. A snapshot may be fuzzy (taken
// while transactions were applied): the reader skips a node whose parent is
// missing, and replaying the log from the snapshot's zxid repairs the rest,
// because applying a transaction twice leaves the same tree.
//
// The meta frame holds the tree's persistent metadata by key; a reader
// ignores keys it does not know. Keys (append-only):
//
//	"session_secret"  the deployment's session secret (txn.SessionSecret)
//
// Version 1 ("ZGTREE01", written before the meta frame existed) has no meta
// frame; ReadSnapshot still reads it.
const (
	snapMagic   = "ZGTREE02"
	snapMagicV1 = "ZGTREE01"

	metaSessionSecret = "session_secret"
)

// ErrBadSnapshot reports a snapshot payload that does not decode.
var ErrBadSnapshot = errors.New("tree: invalid snapshot")

// SnapshotWriter writes a (possibly fuzzy) snapshot of a tree in batches,
// so the tree's lock need only be held for one batch at a time.
type SnapshotWriter struct {
	w     *bufio.Writer
	paths []string
	next  int
	e     *jute.Encoder
}

// NewSnapshotWriter starts a snapshot: it records the session table and
// the list of paths to write. Call it with the tree locked; then call
// WriteBatch (with the tree locked, shared) until it reports done.
func (t *Tree) NewSnapshotWriter(w io.Writer) (*SnapshotWriter, error) {
	sw := &SnapshotWriter{w: bufio.NewWriterSize(w, 256<<10), e: jute.NewEncoder(nil)}
	if _, err := sw.w.WriteString(snapMagic); err != nil {
		return nil, err
	}
	sw.e.Int(int32(len(t.sessions)))
	for id, to := range t.sessions {
		sw.e.Long(id)
		sw.e.Int(to)
	}
	if err := sw.frame(); err != nil {
		return nil, err
	}
	if t.sessionSecret != nil {
		sw.e.Int(1)
		sw.e.String(metaSessionSecret)
		sw.e.Buffer(t.sessionSecret)
	} else {
		sw.e.Int(0)
	}
	if err := sw.frame(); err != nil {
		return nil, err
	}
	sw.paths = make([]string, 0, len(t.nodes))
	_ = t.Walk(func(p string, _ []byte, _ []proto.ACL, _ proto.Stat) error {
		sw.paths = append(sw.paths, p)
		return nil
	})
	return sw, nil
}

func (sw *SnapshotWriter) frame() error {
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(sw.e.Len()))
	if _, err := sw.w.Write(lb[:]); err != nil {
		return err
	}
	_, err := sw.w.Write(sw.e.Bytes())
	sw.e.Reset()
	return err
}

// WriteBatch writes up to n more nodes as they are now (nodes deleted since
// the snapshot began are skipped). It returns done once every node and the
// end marker are written; the caller then flushes nothing more: the writer
// is flushed.
func (sw *SnapshotWriter) WriteBatch(t *Tree, n int) (done bool, err error) {
	end := min(sw.next+n, len(sw.paths))
	for ; sw.next < end; sw.next++ {
		p := sw.paths[sw.next]
		nd, ok := t.nodes[p]
		if !ok {
			continue
		}
		sw.e.String(p)
		sw.e.Buffer(nd.data)
		proto.EncodeACLs(sw.e, nd.acl.list)
		st := &nd.stat
		sw.e.Long(st.Czxid)
		sw.e.Long(st.Mzxid)
		sw.e.Long(st.Ctime)
		sw.e.Long(st.Mtime)
		sw.e.Int(st.Version)
		sw.e.Int(st.Cversion)
		sw.e.Int(st.Aversion)
		sw.e.Long(st.EphemeralOwner)
		sw.e.Long(st.Pzxid)
		if err := sw.frame(); err != nil {
			return false, err
		}
	}
	if sw.next < len(sw.paths) {
		return false, nil
	}
	sw.e.String("")
	if err := sw.frame(); err != nil {
		return false, err
	}
	return true, sw.w.Flush()
}

// ReadSnapshot builds a tree from a snapshot payload. zxid becomes the
// tree's last applied zxid.
func ReadSnapshot(r io.Reader, zxid int64) (*Tree, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(br, magic); err != nil || (string(magic) != snapMagic && string(magic) != snapMagicV1) {
		return nil, fmt.Errorf("%w: bad magic %q (%v)", ErrBadSnapshot, magic, err)
	}
	var buf []byte
	var off int64 = int64(len(snapMagic))
	next := func() (*jute.Decoder, error) {
		var lb [4]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return nil, fmt.Errorf("%w: frame at payload byte %d: %v", ErrBadSnapshot, off, err)
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > 1<<30 {
			return nil, fmt.Errorf("%w: frame of %d bytes at payload byte %d", ErrBadSnapshot, n, off)
		}
		if cap(buf) >= int(n) {
			buf = buf[:n]
			if _, err := io.ReadFull(br, buf); err != nil {
				return nil, fmt.Errorf("%w: frame at payload byte %d: %v", ErrBadSnapshot, off, err)
			}
		} else {
			// Grow only as bytes actually arrive: a corrupt length must not
			// allocate a gigabyte up front.
			b, err := io.ReadAll(io.LimitReader(br, int64(n)))
			if err != nil || len(b) != int(n) {
				return nil, fmt.Errorf("%w: frame at payload byte %d: %d of %d bytes (%v)", ErrBadSnapshot, off, len(b), n, err)
			}
			buf = b
		}
		off += 4 + int64(n)
		return jute.NewDecoder(buf, 0), nil
	}
	t := New()
	d, err := next()
	if err != nil {
		return nil, err
	}
	ns := d.VectorLen("sessions", 12)
	for i := 0; i < ns; i++ {
		id := d.Long("session.id")
		t.sessions[id] = d.Int("session.timeout")
	}
	if d.Err() != nil {
		return nil, fmt.Errorf("%w: sessions: %v", ErrBadSnapshot, d.Err())
	}
	if string(magic) != snapMagicV1 {
		if d, err = next(); err != nil {
			return nil, err
		}
		if err := t.readMeta(d); err != nil {
			return nil, err
		}
	}
	for {
		frameOff := off
		d, err := next()
		if err != nil {
			return nil, err
		}
		path := d.String("path")
		if path == "" && d.Err() == nil {
			break
		}
		data := d.Buffer("data")
		acl := proto.DecodeACLs(d)
		st := proto.Stat{
			Czxid: d.Long("czxid"), Mzxid: d.Long("mzxid"), Ctime: d.Long("ctime"), Mtime: d.Long("mtime"),
			Version: d.Int("version"), Cversion: d.Int("cversion"), Aversion: d.Int("aversion"),
			EphemeralOwner: d.Long("ephemeralOwner"), Pzxid: d.Long("pzxid"),
		}
		if d.Err() != nil {
			return nil, fmt.Errorf("%w: node frame at payload byte %d: %v", ErrBadSnapshot, frameOff, d.Err())
		}
		if err := proto.ValidatePath(path); err != nil {
			return nil, fmt.Errorf("%w: node frame at payload byte %d: %v", ErrBadSnapshot, frameOff, err)
		}
		if n, ok := t.nodes[path]; ok { // a built-in node: take the stored state
			t.modify(path, n, func() {
				t.acls.release(n.acl)
				n.data, n.acl, n.stat = data, t.acls.get(acl), st
			})
			continue
		}
		if _, ok := t.nodes[proto.ParentPath(path)]; !ok {
			continue // fuzzy snapshot: the log replay recreates it
		}
		t.addNode(path, data, acl, st)
	}
	t.lastZxid = zxid
	return t, nil
}

// readMeta reads the meta frame into t.
func (t *Tree) readMeta(d *jute.Decoder) error {
	n := d.VectorLen("meta", 8)
	for i := 0; i < n && d.Err() == nil; i++ {
		key := d.String("meta.key")
		value := d.Buffer("meta.value")
		if d.Err() != nil {
			break
		}
		switch key {
		case metaSessionSecret:
			if len(value) < txn.MinSessionSecretLen {
				return fmt.Errorf("%w: meta: session secret of %d bytes (at least %d)", ErrBadSnapshot, len(value), txn.MinSessionSecretLen)
			}
			t.sessionSecret = value
		}
	}
	if err := d.Done("meta"); err != nil {
		return fmt.Errorf("%w: meta: %v", ErrBadSnapshot, err)
	}
	return nil
}
