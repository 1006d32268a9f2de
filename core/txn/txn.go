package txn

import (
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// Header is what every transaction carries besides its body.
type Header struct {
	SessionID int64    // session that issued the request (0 for internal ones)
	Cxid      int32    // the request's xid
	Zxid      int64    // assigned by the leader
	Time      int64    // leader's clock, ms since the epoch; ctime/mtime come from it
	Type      proto.Op // OpCreate... or OpError, OpMulti, OpCreateSession, OpCloseSession, OpSessionSecret
}

// Txn is a header plus a body whose concrete type matches Header.Type.
type Txn struct {
	Header
	Body Body
}

// Body is one of the transaction records below.
type Body interface{ encode(e *jute.Encoder) }

// Create makes a node. EphemeralOwner is the raw stored owner: a session id,
// 0 for persistent nodes, ContainerOwner, or TTLOwner(ttl).
type Create struct {
	Path           string
	Data           []byte
	ACL            []proto.ACL
	EphemeralOwner int64
	ParentCversion int32 // the parent's stored cversion (child create count) after this create
}

// Delete removes a node (also used for deleteContainer and TTL reaping).
type Delete struct{ Path string }

// SetData replaces a node's data; Version is the new data version.
type SetData struct {
	Path    string
	Data    []byte
	Version int32
}

// SetACL replaces a node's ACL; Version is the new ACL version.
type SetACL struct {
	Path    string
	ACL     []proto.ACL
	Version int32
}

// Check is a version check inside a multi; applying it changes nothing.
type Check struct {
	Path    string
	Version int32
}

// CreateSession opens a session with the negotiated timeout in ms.
type CreateSession struct{ Timeout int32 }

// CloseSession ends a session and deletes the listed ephemeral nodes, which
// the leader lists in a fixed (sorted, children first) order.
type CloseSession struct{ Paths []string }

// SessionSecret records the deployment's session secret: the random key
// that session passwords are derived from when no session_secret_file is
// configured. The first leader of a deployment (or a standalone server with
// a log) proposes one; replicas keep the first one they apply and ignore
// any later one, so every replica ends with the same key.
type SessionSecret struct{ Secret []byte }

// Error records a request that failed in prep. It changes nothing but uses
// a zxid, as in ZooKeeper.
type Error struct{ Code proto.Code }

// Multi is an atomic list of operations sharing one zxid. Op types are the
// request opcodes so the reply can use the matching result type. A failed
// multi holds one Error op per requested op (0 before the failing one, its
// code, -2 after).
type Multi struct{ Ops []Op }

// Op is one operation of a Multi.
type Op struct {
	Type proto.Op
	Body Body
}

// Internal transaction types: zoogate's own, logged and replicated like the
// others but never sent by a client. They are numbered from -1001 downwards,
// far from ZooKeeper's opcodes (0..22, 100..107, -1, -10, -11) and below
// core/server's -1000 (a session claim, which is never logged). Append-only:
// a number, once used, keeps its meaning in every log and snapshot.
const (
	// OpSessionSecret carries a SessionSecret body.
	OpSessionSecret proto.Op = -1001
)

// MinSessionSecretLen is the smallest session secret, in bytes, that a
// replica accepts (256 bits of entropy).
const MinSessionSecretLen = 32

// TypeName names a transaction type: ZooKeeper's opcode names, and the
// internal types above.
func TypeName(op proto.Op) string {
	if op == OpSessionSecret {
		return "sessionSecret"
	}
	return op.String()
}

// Owner markers for container and TTL nodes (hidden from clients).
const (
	ContainerOwner int64 = -0x8000000000000000
	ttlMask        int64 = -0x100000000000000 // 0xFF00000000000000
	MaxTTL         int64 = 0xFFFFFFFFFF
)

// TTLOwner returns the stored owner of a TTL node.
func TTLOwner(ttl int64) int64 { return ttlMask | ttl }

// IsTTLOwner reports whether owner marks a TTL node, and returns its ttl.
func IsTTLOwner(owner int64) (int64, bool) {
	if owner != ContainerOwner && owner&ttlMask == ttlMask {
		return owner &^ ttlMask, true
	}
	return 0, false
}

// IsSessionOwner reports whether owner is a real session (an ephemeral node).
func IsSessionOwner(owner int64) bool {
	_, ttl := IsTTLOwner(owner)
	return owner != 0 && owner != ContainerOwner && !ttl
}

func (b *Create) encode(e *jute.Encoder) {
	e.String(b.Path)
	e.Buffer(b.Data)
	proto.EncodeACLs(e, b.ACL)
	e.Long(b.EphemeralOwner)
	e.Int(b.ParentCversion)
}
func (b *Delete) encode(e *jute.Encoder)  { e.String(b.Path) }
func (b *SetData) encode(e *jute.Encoder) { e.String(b.Path); e.Buffer(b.Data); e.Int(b.Version) }
func (b *SetACL) encode(e *jute.Encoder) {
	e.String(b.Path)
	proto.EncodeACLs(e, b.ACL)
	e.Int(b.Version)
}
func (b *Check) encode(e *jute.Encoder)         { e.String(b.Path); e.Int(b.Version) }
func (b *CreateSession) encode(e *jute.Encoder) { e.Int(b.Timeout) }
func (b *CloseSession) encode(e *jute.Encoder)  { e.Strings(b.Paths) }
func (b *Error) encode(e *jute.Encoder)         { e.Int(int32(b.Code)) }
func (b *SessionSecret) encode(e *jute.Encoder) { e.Buffer(b.Secret) }
func (b *Multi) encode(e *jute.Encoder) {
	e.VectorLen(len(b.Ops))
	for _, op := range b.Ops {
		e.Int(int32(op.Type))
		e.Int(int32(kindOf(op.Body)))
		op.Body.encode(e)
	}
}

// kind numbers the body records inside a multi; append-only.
type kind int32

const (
	kindCreate  kind = 1
	kindDelete  kind = 2
	kindSetData kind = 3
	kindSetACL  kind = 4
	kindCheck   kind = 5
	kindError   kind = 6
)

func kindOf(b Body) kind {
	switch b.(type) {
	case *Create:
		return kindCreate
	case *Delete:
		return kindDelete
	case *SetData:
		return kindSetData
	case *SetACL:
		return kindSetACL
	case *Check:
		return kindCheck
	case *Error:
		return kindError
	}
	panic(fmt.Sprintf("txn: %T cannot be part of a multi", b))
}

// Encode returns the transaction's bytes: header then body.
func Encode(t *Txn) []byte {
	e := jute.NewEncoder(make([]byte, 0, 64+sizeHint(t.Body)))
	e.Long(t.SessionID)
	e.Int(t.Cxid)
	e.Long(t.Zxid)
	e.Long(t.Time)
	e.Int(int32(t.Type))
	t.Body.encode(e)
	return e.Bytes()
}

// ErrBadTxn reports bytes that are not a valid transaction.
var ErrBadTxn = errors.New("txn: invalid transaction")

// Decode parses bytes made by Encode. The transaction's byte buffers are
// copies.
func Decode(b []byte) (*Txn, error) { return decode(jute.NewDecoder(b, 0)) }

// DecodeShared is Decode for bytes that are never modified afterwards (a
// committed log entry): the transaction's data buffers are views into b.
func DecodeShared(b []byte) (*Txn, error) { return decode(jute.NewDecoder(b, 0).ShareBuffers()) }

func decode(d *jute.Decoder) (*Txn, error) {
	t := &Txn{Header: Header{
		SessionID: d.Long("TxnHeader.clientId"),
		Cxid:      d.Int("TxnHeader.cxid"),
		Zxid:      d.Long("TxnHeader.zxid"),
		Time:      d.Long("TxnHeader.time"),
		Type:      proto.Op(d.Int("TxnHeader.type")),
	}}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTxn, err)
	}
	var err error
	switch t.Type {
	case proto.OpMulti:
		t.Body, err = decodeMulti(d)
	case proto.OpCreateSession:
		t.Body = &CreateSession{Timeout: d.Int("CreateSessionTxn.timeOut")}
	case proto.OpCloseSession:
		t.Body = &CloseSession{Paths: d.Strings("CloseSessionTxn.paths")}
	case OpSessionSecret:
		t.Body = &SessionSecret{Secret: d.Buffer("SessionSecretTxn.secret")}
	default:
		var k kind
		switch t.Type {
		case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
			k = kindCreate
		case proto.OpDelete, proto.OpDeleteContainer:
			k = kindDelete
		case proto.OpSetData:
			k = kindSetData
		case proto.OpSetACL:
			k = kindSetACL
		case proto.OpError:
			k = kindError
		default:
			return nil, fmt.Errorf("%w: unknown type %d", ErrBadTxn, int32(t.Type))
		}
		t.Body, err = decodeBody(d, k)
	}
	if err == nil {
		err = d.Done("txn")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTxn, err)
	}
	return t, nil
}

func decodeBody(d *jute.Decoder, k kind) (Body, error) {
	switch k {
	case kindCreate:
		b := &Create{Path: d.String("CreateTxn.path"), Data: d.Buffer("CreateTxn.data")}
		b.ACL = proto.DecodeACLs(d)
		b.EphemeralOwner = d.Long("CreateTxn.ephemeralOwner")
		b.ParentCversion = d.Int("CreateTxn.parentCVersion")
		return b, d.Err()
	case kindDelete:
		return &Delete{Path: d.String("DeleteTxn.path")}, d.Err()
	case kindSetData:
		return &SetData{Path: d.String("SetDataTxn.path"), Data: d.Buffer("SetDataTxn.data"), Version: d.Int("SetDataTxn.version")}, d.Err()
	case kindSetACL:
		b := &SetACL{Path: d.String("SetACLTxn.path")}
		b.ACL = proto.DecodeACLs(d)
		b.Version = d.Int("SetACLTxn.version")
		return b, d.Err()
	case kindCheck:
		return &Check{Path: d.String("CheckVersionTxn.path"), Version: d.Int("CheckVersionTxn.version")}, d.Err()
	case kindError:
		return &Error{Code: proto.Code(d.Int("ErrorTxn.err"))}, d.Err()
	}
	return nil, fmt.Errorf("unknown multi body kind %d at byte %d", k, d.Offset())
}

func decodeMulti(d *jute.Decoder) (Body, error) {
	n := d.VectorLen("MultiTxn.ops", 8)
	m := &Multi{Ops: make([]Op, 0, n)}
	for i := 0; i < n; i++ {
		typ := proto.Op(d.Int("MultiTxn.op.type"))
		k := kind(d.Int("MultiTxn.op.kind"))
		if err := d.Err(); err != nil {
			return nil, err
		}
		b, err := decodeBody(d, k)
		if err != nil {
			return nil, err
		}
		m.Ops = append(m.Ops, Op{Type: typ, Body: b})
	}
	return m, d.Err()
}

// sizeHint is roughly how many bytes b encodes to, so that Encode allocates
// once for the common bodies.
func sizeHint(b Body) int {
	switch b := b.(type) {
	case *SetData:
		return 16 + len(b.Path) + len(b.Data)
	case *Create:
		return 64 + len(b.Path) + len(b.Data)
	}
	return 64
}
