package rawzk

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// callTimeout bounds one request's round trip.
const callTimeout = 5 * time.Second

// Conn is one session on one connection. Not safe for concurrent use.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	xid int32
	// Notifications counts the watch events that arrived while calls
	// waited for their replies.
	Notifications int
}

// Dial opens a session on addr; readOnly sets the handshake's readOnly
// flag (Kazoo's read_only=True, the Java client's canBeReadOnly). A server
// that refuses the client closes the connection: the error is then io.EOF
// or a reset.
func Dial(addr string, readOnly bool) (*Conn, *proto.ConnectResponse, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c := &Conn{nc: nc, br: bufio.NewReader(nc)}
	e := jute.NewEncoder(nil)
	(&proto.ConnectRequest{Timeout: 10000, Passwd: make([]byte, 16), HasReadOnly: true, ReadOnly: readOnly}).Encode(e)
	nc.SetDeadline(time.Now().Add(callTimeout))
	if err := c.write(e.Bytes()); err != nil {
		nc.Close()
		return nil, nil, err
	}
	b, err := c.read()
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	resp, err := proto.DecodeConnectResponse(b)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, resp, nil
}

// NetConn is the connection underneath.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection (not the session).
func (c *Conn) Close() error { return c.nc.Close() }

func (c *Conn) write(b []byte) error {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(b)))
	_, err := c.nc.Write(append(l[:], b...))
	return err
}

func (c *Conn) read() ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(c.br, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > 16<<20 {
		return nil, fmt.Errorf("rawzk: frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.br, b)
	return b, err
}

// Call sends one request (body encodes it after the header) and returns
// its reply's error code and a decoder positioned at the reply body,
// counting the watch notifications that come first.
func (c *Conn) Call(op proto.Op, body func(*jute.Encoder)) (proto.Code, *jute.Decoder, error) {
	c.xid++
	e := jute.NewEncoder(nil)
	proto.RequestHeader{Xid: c.xid, Type: op}.Encode(e)
	if body != nil {
		body(e)
	}
	c.nc.SetDeadline(time.Now().Add(callTimeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.write(e.Bytes()); err != nil {
		return 0, nil, err
	}
	for {
		b, err := c.read()
		if err != nil {
			return 0, nil, err
		}
		d := jute.NewDecoder(b, 0)
		h := proto.DecodeReplyHeader(d)
		if h.Xid == c.xid {
			return h.Err, d, nil
		}
		if h.Xid == -1 {
			c.Notifications++
		}
	}
}

// Get reads path's data.
func (c *Conn) Get(path string) (string, proto.Code, error) {
	code, d, err := c.Call(proto.OpGetData, func(e *jute.Encoder) { e.String(path); e.Bool(false) })
	if err != nil || code != 0 {
		return "", code, err
	}
	return string(d.Buffer("data")), 0, nil
}
