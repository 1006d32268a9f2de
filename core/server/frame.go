package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// ErrFrameLength reports a frame length below 0 or above the packet limit.
var ErrFrameLength = errors.New("invalid frame length")

// readFrame reads one length-prefixed frame.
func readFrame(r io.Reader, max int, buf []byte) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	return readFrameBody(r, int32(binary.BigEndian.Uint32(lb[:])), max, buf)
}

func readFrameBody(r io.Reader, n int32, max int, buf []byte) ([]byte, error) {
	if n < 0 || int(n) > max {
		return nil, fmt.Errorf("%w: %d (limit %d)", ErrFrameLength, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// encodeFrame returns a frame holding a reply header and an optional body.
func encodeFrame(h proto.ReplyHeader, body func(e *jute.Encoder)) []byte {
	e := jute.NewEncoder(make([]byte, 0, 64))
	e.Int(0) // length, patched below
	h.Encode(e)
	if body != nil {
		body(e)
	}
	e.PatchInt(0, int32(e.Len()-4))
	return e.Bytes()
}

// errorFrame is a header-only reply carrying an error code.
func errorFrame(xid int32, zxid int64, code proto.Code) []byte {
	return encodeFrame(proto.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}, nil)
}
