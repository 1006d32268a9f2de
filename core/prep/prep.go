package prep

import (
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/proto"
	"github.com/zoogate/zoogate/core/tree"
	"github.com/zoogate/zoogate/core/txn"
)

// Reader is the part of the tree prep reads. The caller holds whatever lock
// keeps the tree still during Prepare.
type Reader interface {
	Meta(path string) (tree.Meta, bool)
	Ephemerals(session int64) []string
}

// Config holds the server settings that change how requests are validated.
type Config struct {
	TTLEnabled bool // ZooKeeper's extendedTypesEnabled
	SkipACL    bool
}

// Request is a decoded write request. Exactly the field matching Type is set.
type Request struct {
	SessionID int64
	Cxid      int32
	Type      proto.Op
	Create    *proto.CreateRequest // create, create2, createContainer, createTTL
	Path      *proto.PathVersion   // delete, check
	SetData   *proto.SetDataRequest
	SetACL    *proto.SetACLRequest
	Multi     []proto.MultiOp
	Timeout   int32      // createSession: negotiated timeout
	Auth      []proto.ID // the caller's identities
	// Secret is the new session secret of a txn.OpSessionSecret request,
	// which only the server itself makes (never a client, never forwarded).
	Secret []byte
}

// change is an outstanding (prepared, not applied) state of one path.
type change struct {
	zxid   int64
	exists bool
	meta   tree.Meta
}

// Prep holds the outstanding changes between Prepare and Applied.
type Prep struct {
	cfg     Config
	r       Reader
	pending map[string]*change
	// owners lists, per session, the paths whose pending state names it as
	// ephemeral owner (so closeSession sees ephemerals not yet applied).
	owners map[int64]map[string]struct{}
	// order lists every change recorded in pending, oldest first (zxids
	// only grow), so Applied visits only the changes it retires instead of
	// the whole map. An entry whose path was changed again later is stale:
	// pending then holds the newer change, which Applied leaves alone.
	order []pendingRef
	head  int // order[:head] are retired
}

// pendingRef names one recorded change.
type pendingRef struct {
	zxid int64
	path string
}

// New returns a prep step reading r.
func New(cfg Config, r Reader) *Prep {
	return &Prep{cfg: cfg, r: r, pending: make(map[string]*change), owners: make(map[int64]map[string]struct{})}
}

// Outstanding returns the number of paths with outstanding changes.
func (p *Prep) Outstanding() int { return len(p.pending) }

// Applied forgets outstanding changes made by transactions up to zxid,
// which the tree now reflects. Call it after applying each transaction.
func (p *Prep) Applied(zxid int64) {
	for p.head < len(p.order) && p.order[p.head].zxid <= zxid {
		path := p.order[p.head].path
		p.order[p.head] = pendingRef{}
		p.head++
		if c, ok := p.pending[path]; ok && c.zxid <= zxid {
			delete(p.pending, path)
			if c.exists && txn.IsSessionOwner(c.meta.Owner) {
				if m := p.owners[c.meta.Owner]; m != nil {
					delete(m, path)
					if len(m) == 0 {
						delete(p.owners, c.meta.Owner)
					}
				}
			}
		}
	}
	if p.head == len(p.order) {
		p.order, p.head = p.order[:0], 0
	} else if p.head > 1024 && p.head*2 > len(p.order) {
		p.order = append(p.order[:0], p.order[p.head:]...)
		p.head = 0
	}
}

// Reset drops every outstanding change (after a leader change the tree is
// the only truth).
func (p *Prep) Reset() {
	p.pending = make(map[string]*change)
	p.owners = make(map[int64]map[string]struct{})
	p.order, p.head = nil, 0
}

// view is the tree plus outstanding changes plus the changes of the
// request being prepared (a multi's earlier ops), which are only merged
// into the outstanding set when the whole request succeeds.
type view struct {
	p     *Prep
	local map[string]*change
	zxid  int64
}

func (v *view) get(path string) (tree.Meta, bool) {
	if c, ok := v.local[path]; ok {
		return c.meta, c.exists
	}
	if c, ok := v.p.pending[path]; ok {
		return c.meta, c.exists
	}
	return v.p.r.Meta(path)
}

func (v *view) set(path string, exists bool, m tree.Meta) {
	v.local[path] = &change{zxid: v.zxid, exists: exists, meta: m}
}

func (p *Prep) commit(v *view) {
	for path, c := range v.local {
		if old, ok := p.pending[path]; ok && old.exists && txn.IsSessionOwner(old.meta.Owner) {
			if m := p.owners[old.meta.Owner]; m != nil {
				delete(m, path)
			}
		}
		p.pending[path] = c
		p.order = append(p.order, pendingRef{zxid: c.zxid, path: path})
		if c.exists && txn.IsSessionOwner(c.meta.Owner) {
			m := p.owners[c.meta.Owner]
			if m == nil {
				m = make(map[string]struct{})
				p.owners[c.meta.Owner] = m
			}
			m[path] = struct{}{}
		}
	}
}

// Prepare turns a request into a transaction with the given zxid and time.
// A request that fails validation becomes an Error transaction (it still
// uses the zxid, as in ZooKeeper); its error is returned too.
func (p *Prep) Prepare(req *Request, zxid, now int64) (*txn.Txn, error) {
	x := &txn.Txn{Header: txn.Header{SessionID: req.SessionID, Cxid: req.Cxid, Zxid: zxid, Time: now, Type: req.Type}}
	v := &view{p: p, local: make(map[string]*change), zxid: zxid}
	var body txn.Body
	var err error
	switch req.Type {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		body, err = v.create(req.Type, req.Create, req)
	case proto.OpDelete, proto.OpDeleteContainer:
		body, err = v.delete(req.Path, req)
	case proto.OpSetData:
		body, err = v.setData(req.SetData, req)
	case proto.OpSetACL:
		body, err = v.setACL(req.SetACL, req)
	case proto.OpMulti:
		body, err = v.multi(req.Multi, req)
		if err != nil {
			x.Body = body // a failed multi is a Multi of Error ops
			return x, err
		}
	case proto.OpCreateSession:
		body = &txn.CreateSession{Timeout: req.Timeout}
	case proto.OpCloseSession:
		body = &txn.CloseSession{Paths: v.closeSession(req.SessionID)}
	case txn.OpSessionSecret:
		if len(req.Secret) < txn.MinSessionSecretLen {
			err = badArgs("session secret of %d bytes (at least %d)", len(req.Secret), txn.MinSessionSecretLen)
			break
		}
		body = &txn.SessionSecret{Secret: req.Secret}
	case proto.OpReconfig:
		err = proto.ErrReconfigDisabled
	default:
		err = fmt.Errorf("%w: %v is not a write", proto.ErrUnimplemented, req.Type)
	}
	if err != nil {
		x.Type = proto.OpError
		x.Body = &txn.Error{Code: proto.CodeOf(err)}
		return x, err
	}
	x.Body = body
	p.commit(v)
	return x, nil
}

func (v *view) checkACL(list []proto.ACL, perm int32, req *Request) error {
	if v.p.cfg.SkipACL || acl.Check(list, perm, req.Auth) {
		return nil
	}
	return proto.ErrNoAuth
}

func pathErr(path string, err error) error {
	var pe *proto.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &proto.PathError{Path: path, Err: err}
}
