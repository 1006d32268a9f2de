package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// rawConn is a minimal ZooKeeper client connection for the measured loop of
// mixed mode (`--client raw`): it speaks just enough of the wire protocol
// (handshake, getData, setData, ping) to keep many requests in flight on one
// socket with one goroutine and two system calls per batch. go-zookeeper
// spends two goroutines, a channel hop and a map lookup per request, which
// on a 2-core machine makes the client, not the server, the bottleneck.
//
// It is used for nothing but load: no watches, no reconnects, no session
// moves. A broken connection ends the session's part of the run with an
// error per operation in flight.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	xid int32
	buf []byte // reply body scratch
	// canReadOnly: the handshake asks for read-only mode if need be.
	canReadOnly bool
}

// ZooKeeper wire constants the raw client needs (zk-client-protocol.md §3, §4).
const (
	rawOpGetData = 4
	rawOpSetData = 5
	rawOpPing    = 11
	rawOpClose   = -11
	rawXidPing   = -2
	rawXidWatch  = -1
	// rawMaxFrame bounds a reply frame: jute.maxbuffer plus headroom.
	rawMaxFrame = 1<<20 + 1024
)

// errRawProtocol is a reply the raw client cannot make sense of.
var errRawProtocol = errors.New("protocol error")

// rawServerError is a non-zero error code in a reply header.
type rawServerError int32

func (e rawServerError) Error() string { return fmt.Sprintf("server error %d", int32(e)) }

// rawCodeErrors maps the error codes a mixed run can meet to the same
// sentinels go-zookeeper reports, so error tables read the same with
// either client.
func (e rawServerError) Is(target error) bool {
	for _, k := range knownErrors {
		if k.err == target {
			if code, ok := rawErrorCodes[k.name]; ok {
				return code == int32(e)
			}
		}
	}
	return false
}

var rawErrorCodes = map[string]int32{
	"no_node": -101, "no_auth": -102, "bad_version": -103, "node_exists": -110,
	"not_empty": -111, "session_expired": -112, "invalid_acl": -114,
	"session_moved": -118, "bad_arguments": -8, "api_error": -100, "unknown": -1,
}

// dialRaw connects to addr and establishes a new session.
func dialRaw(addr string, sessionTimeout, connectTimeout time.Duration) (*rawConn, error) {
	return dialRawMode(addr, sessionTimeout, connectTimeout, false)
}

// dialRawMode is dialRaw; canReadOnly sets the ConnectRequest's readOnly
// flag (Kazoo's read_only=True, the Java client's canBeReadOnly).
func dialRawMode(addr string, sessionTimeout, connectTimeout time.Duration, canReadOnly bool) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, connectTimeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConnect, addr, err)
	}
	rc := &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10), canReadOnly: canReadOnly}
	if err := rc.handshake(sessionTimeout, connectTimeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrConnect, addr, err)
	}
	return rc, nil
}

// handshake sends a ConnectRequest for a new session and reads the
// ConnectResponse (a zero timeout in it means the server refused).
func (rc *rawConn) handshake(sessionTimeout, deadline time.Duration) error {
	_ = rc.c.SetDeadline(time.Now().Add(deadline))
	defer rc.c.SetDeadline(time.Time{})
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)                                     // frame length, patched below
	b = binary.BigEndian.AppendUint32(b, 0)                                     // protocolVersion
	b = binary.BigEndian.AppendUint64(b, 0)                                     // lastZxidSeen
	b = binary.BigEndian.AppendUint32(b, uint32(sessionTimeout.Milliseconds())) // timeOut
	b = binary.BigEndian.AppendUint64(b, 0)                                     // sessionId: new
	b = binary.BigEndian.AppendUint32(b, 16)                                    // passwd length
	b = append(b, make([]byte, 16)...)                                          // passwd
	if rc.canReadOnly {
		b = append(b, 1) // readOnly
	} else {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := rc.w.Write(b); err != nil {
		return err
	}
	if err := rc.w.Flush(); err != nil {
		return err
	}
	body, err := rc.readFrame()
	if err != nil {
		return err
	}
	if len(body) < 16 {
		return fmt.Errorf("%w: connect response of %d bytes", errRawProtocol, len(body))
	}
	if timeout := int32(binary.BigEndian.Uint32(body[4:8])); timeout <= 0 {
		return errors.New("server refused the session (timeout 0 in the connect response)")
	}
	return nil
}

// readFrame reads one length-prefixed frame; the result is valid until the
// next call.
func (rc *rawConn) readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(rc.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > rawMaxFrame {
		return nil, fmt.Errorf("%w: frame length %d", errRawProtocol, n)
	}
	if cap(rc.buf) < int(n) {
		rc.buf = make([]byte, n)
	}
	body := rc.buf[:n]
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// nextXid returns the next request xid (positive, wrapping like clients do).
func (rc *rawConn) nextXid() int32 {
	rc.xid++
	if rc.xid <= 0 {
		rc.xid = 1
	}
	return rc.xid
}

// appendString appends a jute ustring.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// queueGet buffers a getData(path, watch=false) request and returns its xid.
func (rc *rawConn) queueGet(path string) (int32, error) {
	xid := rc.nextXid()
	b := rc.w.AvailableBuffer()
	b = binary.BigEndian.AppendUint32(b, uint32(4+4+4+len(path)+1))
	b = binary.BigEndian.AppendUint32(b, uint32(xid))
	b = binary.BigEndian.AppendUint32(b, rawOpGetData)
	b = appendString(b, path)
	b = append(b, 0)
	_, err := rc.w.Write(b)
	return xid, err
}

// queueSet buffers a setData(path, value, version=-1) request and returns
// its xid.
func (rc *rawConn) queueSet(path string, value []byte) (int32, error) {
	xid := rc.nextXid()
	b := rc.w.AvailableBuffer()
	b = binary.BigEndian.AppendUint32(b, uint32(4+4+4+len(path)+4+len(value)+4))
	b = binary.BigEndian.AppendUint32(b, uint32(xid))
	b = binary.BigEndian.AppendUint32(b, rawOpSetData)
	b = appendString(b, path)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	b = append(b, value...)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // version -1
	_, err := rc.w.Write(b)
	return xid, err
}

// queueHeaderOnly buffers a request that has no body (ping, closeSession).
func (rc *rawConn) queueHeaderOnly(xid, op int32) error {
	b := rc.w.AvailableBuffer()
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint32(b, uint32(xid))
	b = binary.BigEndian.AppendUint32(b, uint32(op))
	_, err := rc.w.Write(b)
	return err
}

// flush sends everything queued.
func (rc *rawConn) flush() error { return rc.w.Flush() }

// buffered reports whether a reply may already be waiting in the read
// buffer (so the caller can handle it before flushing new requests).
func (rc *rawConn) buffered() bool { return rc.r.Buffered() > 0 }

// readReply reads the next reply header, skipping notifications and ping
// replies. err is a rawServerError for a non-zero error code, or the I/O
// or protocol failure that ended the connection (then fatal is true).
func (rc *rawConn) readReply() (xid int32, err error, fatal bool) {
	for {
		body, err := rc.readFrame()
		if err != nil {
			return 0, err, true
		}
		if len(body) < 16 {
			return 0, fmt.Errorf("%w: reply of %d bytes", errRawProtocol, len(body)), true
		}
		xid = int32(binary.BigEndian.Uint32(body[0:4]))
		if xid == rawXidPing || xid == rawXidWatch {
			continue
		}
		if code := int32(binary.BigEndian.Uint32(body[12:16])); code != 0 {
			return xid, rawServerError(code), false
		}
		return xid, nil, false
	}
}

// close sends closeSession and closes the socket without waiting long.
func (rc *rawConn) close() {
	_ = rc.c.SetDeadline(time.Now().Add(2 * time.Second))
	if rc.queueHeaderOnly(rc.nextXid(), rawOpClose) == nil && rc.flush() == nil {
		for {
			if _, _, fatal := rc.readReply(); fatal {
				break // the server closes the socket after answering
			}
		}
	}
	rc.c.Close()
}
