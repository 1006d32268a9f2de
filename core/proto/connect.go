package proto

import "github.com/zoogate/zoogate/core/jute"

// PasswordLen is the length of a session password.
const PasswordLen = 16

// ConnectRequest is the first frame a client sends (no RequestHeader).
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	Timeout         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool // the optional readOnly byte was present
}

// DecodeConnectRequest decodes a ConnectRequest; the trailing readOnly byte is
// optional (go-zk and 3.3 clients omit it).
func DecodeConnectRequest(b []byte, maxLen int) (*ConnectRequest, error) {
	d := jute.NewDecoder(b, maxLen)
	r := &ConnectRequest{
		ProtocolVersion: d.Int("ConnectRequest.protocolVersion"),
		LastZxidSeen:    d.Long("ConnectRequest.lastZxidSeen"),
		Timeout:         d.Int("ConnectRequest.timeOut"),
		SessionID:       d.Long("ConnectRequest.sessionId"),
		Passwd:          d.Buffer("ConnectRequest.passwd"),
	}
	if d.Err() == nil && d.Remaining() > 0 {
		r.HasReadOnly = true
		r.ReadOnly = d.Bool("ConnectRequest.readOnly")
	}
	return r, d.Err()
}

// Encode appends the request (with readOnly when HasReadOnly).
func (r *ConnectRequest) Encode(e *jute.Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.Timeout)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// ConnectResponse is the server's first frame (no ReplyHeader).
type ConnectResponse struct {
	ProtocolVersion int32
	Timeout         int32
	SessionID       int64
	Passwd          []byte // always PasswordLen bytes on the wire
	ReadOnly        bool
	HasReadOnly     bool // echo the readOnly byte only if the request had it
}

// Encode appends the response. The password is padded or cut to 16 bytes:
// the C client reads a fixed-size reply.
func (r *ConnectResponse) Encode(e *jute.Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.Timeout)
	e.Long(r.SessionID)
	pw := make([]byte, PasswordLen)
	copy(pw, r.Passwd)
	e.Buffer(pw)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// DecodeConnectResponse decodes a ConnectResponse (used by tests and tools).
func DecodeConnectResponse(b []byte) (*ConnectResponse, error) {
	d := jute.NewDecoder(b, 0)
	r := &ConnectResponse{
		ProtocolVersion: d.Int("ConnectResponse.protocolVersion"),
		Timeout:         d.Int("ConnectResponse.timeOut"),
		SessionID:       d.Long("ConnectResponse.sessionId"),
		Passwd:          d.Buffer("ConnectResponse.passwd"),
	}
	if d.Err() == nil && d.Remaining() > 0 {
		r.HasReadOnly = true
		r.ReadOnly = d.Bool("ConnectResponse.readOnly")
	}
	return r, d.Err()
}

// RequestHeader starts every client frame after the handshake.
type RequestHeader struct {
	Xid  int32
	Type Op
}

// DecodeRequestHeader reads a RequestHeader from d.
func DecodeRequestHeader(d *jute.Decoder) RequestHeader {
	return RequestHeader{Xid: d.Int("RequestHeader.xid"), Type: Op(d.Int("RequestHeader.type"))}
}

// Encode appends the header.
func (h RequestHeader) Encode(e *jute.Encoder) { e.Int(h.Xid); e.Int(int32(h.Type)) }

// ReplyHeader starts every server frame after the handshake.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Code
}

// Encode appends the header.
func (h ReplyHeader) Encode(e *jute.Encoder) { e.Int(h.Xid); e.Long(h.Zxid); e.Int(int32(h.Err)) }

// DecodeReplyHeader reads a ReplyHeader from d.
func DecodeReplyHeader(d *jute.Decoder) ReplyHeader {
	return ReplyHeader{Xid: d.Int("ReplyHeader.xid"), Zxid: d.Long("ReplyHeader.zxid"), Err: Code(d.Int("ReplyHeader.err"))}
}
