package proto

import (
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/jute"
)

// MultiOp is one operation of a multi or multiRead request. Exactly one of
// the record fields is set, chosen by Type.
type MultiOp struct {
	Type    Op
	Create  *CreateRequest  // create, create2, createContainer, createTTL
	Path    *PathVersion    // delete, check
	SetData *SetDataRequest // setData
	Read    *PathWatch      // getData, getChildren (multiRead)
}

// ErrBadMultiOp reports an op type that multi does not allow.
var ErrBadMultiOp = errors.New("invalid operation type in multi")

// DecodeMulti reads a MultiOperationRecord: (MultiHeader, record)* ending with
// a header whose done flag is set. No count is sent, so the frame's length
// bounds the loop.
func DecodeMulti(d *jute.Decoder) ([]MultiOp, error) {
	var ops []MultiOp
	for {
		typ := Op(d.Int("MultiHeader.type"))
		done := d.Bool("MultiHeader.done")
		d.Int("MultiHeader.err")
		if err := d.Err(); err != nil {
			return nil, err
		}
		if done {
			return ops, nil
		}
		op := MultiOp{Type: typ}
		switch typ {
		case OpCreate, OpCreate2, OpCreateContainer:
			op.Create = DecodeCreate(d, false)
		case OpCreateTTL:
			op.Create = DecodeCreate(d, true)
		case OpDelete, OpCheck:
			op.Path = DecodePathVersion(d)
		case OpSetData:
			op.SetData = DecodeSetData(d)
		case OpGetData, OpGetChildren:
			op.Read = DecodePathWatch(d)
		default:
			return nil, fmt.Errorf("%w: %d at byte %d", ErrBadMultiOp, int32(typ), d.Offset())
		}
		if err := d.Err(); err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
}

// EncodeMulti appends a MultiOperationRecord (used by tests and tools).
func EncodeMulti(e *jute.Encoder, ops []MultiOp) {
	for _, op := range ops {
		e.Int(int32(op.Type))
		e.Bool(false)
		e.Int(-1)
		switch {
		case op.Create != nil:
			op.Create.Encode(e, op.Type == OpCreateTTL)
		case op.Path != nil:
			op.Path.Encode(e)
		case op.SetData != nil:
			op.SetData.Encode(e)
		case op.Read != nil:
			op.Read.Encode(e)
		}
	}
	e.Int(-1)
	e.Bool(true)
	e.Int(-1)
}

// MultiResult is one result of a multi or multiRead reply.
type MultiResult struct {
	Type     Op // result type; OpError for an error result
	Err      Code
	Path     string   // create, create2
	Stat     *Stat    // create2, setData, getData
	Data     []byte   // getData
	Children []string // getChildren
}

// EncodeMultiResponse appends a MultiResponse.
func EncodeMultiResponse(e *jute.Encoder, results []MultiResult) {
	for _, r := range results {
		typ := r.Type
		if r.Err != CodeOK {
			typ = OpError
		}
		e.Int(int32(typ))
		e.Bool(false)
		e.Int(int32(r.Err))
		switch typ {
		case OpError:
			e.Int(int32(r.Err))
		case OpCreate:
			e.String(r.Path)
		case OpCreate2:
			e.String(r.Path)
			r.Stat.Encode(e)
		case OpSetData:
			r.Stat.Encode(e)
		case OpGetData:
			e.Buffer(r.Data)
			r.Stat.Encode(e)
		case OpGetChildren:
			e.Strings(r.Children)
		}
	}
	e.Int(-1)
	e.Bool(true)
	e.Int(-1)
}
