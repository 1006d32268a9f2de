package drill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

// A read-only client: go-zookeeper never sets the handshake's readOnly
// flag, so a site that lost its upstream turns its clients away; clients
// that ask for read-only mode (Kazoo's read_only=True, the Java client's
// canBeReadOnly, zkCli -r) are still served from the site's last state.
// The workload runs one such reader per site, on this minimal session:
// the handshake with readOnly set, getData, closeSession.

// roCallTimeout bounds the handshake and each call of a read-only reader.
const roCallTimeout = 2 * time.Second

// roClientID numbers the read-only reader of site s in the history.
func roClientID(s int) int { return 1000 + s }

type roConn struct {
	nc       net.Conn
	br       *bufio.Reader
	xid      int32
	readOnly bool // the server answered the handshake in read-only mode
}

// errServerCode: the server answered a call with an error code.
var errServerCode = errors.New("server error code")

func dialReadOnly(addr string) (*roConn, error) {
	nc, err := net.DialTimeout("tcp", addr, roCallTimeout)
	if err != nil {
		return nil, err
	}
	c := &roConn{nc: nc, br: bufio.NewReader(nc)}
	e := jute.NewEncoder(nil)
	(&proto.ConnectRequest{Timeout: 10000, Passwd: make([]byte, 16), HasReadOnly: true, ReadOnly: true}).Encode(e)
	nc.SetDeadline(time.Now().Add(roCallTimeout))
	if err := c.send(e.Bytes()); err != nil {
		nc.Close()
		return nil, err
	}
	b, err := c.recv()
	if err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := proto.DecodeConnectResponse(b)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.readOnly = resp.ReadOnly
	return c, nil
}

func (c *roConn) send(b []byte) error {
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err := c.nc.Write(append(frame, b...))
	return err
}

func (c *roConn) recv() ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(c.br, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > 1<<20 {
		return nil, fmt.Errorf("a reply of %d bytes", size)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(c.br, b)
	return b, err
}

// call sends one request and returns the decoder of its reply's body.
func (c *roConn) call(op proto.Op, body func(*jute.Encoder)) (*jute.Decoder, error) {
	c.xid++
	e := jute.NewEncoder(nil)
	proto.RequestHeader{Xid: c.xid, Type: op}.Encode(e)
	if body != nil {
		body(e)
	}
	c.nc.SetDeadline(time.Now().Add(roCallTimeout))
	if err := c.send(e.Bytes()); err != nil {
		return nil, err
	}
	for {
		b, err := c.recv()
		if err != nil {
			return nil, err
		}
		d := jute.NewDecoder(b, 0)
		h := proto.DecodeReplyHeader(d)
		if h.Xid != c.xid {
			continue // a watch event or a ping reply
		}
		if h.Err != 0 {
			return nil, fmt.Errorf("%w %d", errServerCode, h.Err)
		}
		return d, nil
	}
}

func (c *roConn) get(path string) ([]byte, error) {
	d, err := c.call(proto.OpGetData, func(e *jute.Encoder) { e.String(path); e.Bool(false) })
	if err != nil {
		return nil, err
	}
	return d.Buffer("data"), nil
}

// close ends the session (best effort) and the connection.
func (c *roConn) close() {
	c.nc.SetDeadline(time.Now().Add(200 * time.Millisecond))
	c.call(proto.OpCloseSession, nil)
	c.nc.Close()
}

// roReader reads the clock znode as a read-only client of the site's
// nodes, moving to the next node when one fails it.
func (w *workload) roReader(site int) {
	defer w.wg.Done()
	srv := w.servers[site]
	next := 0
	var c *roConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for w.pause(w.opts.Interval) {
		call := w.now()
		o := Op{Site: site, Client: roClientID(site), Kind: opROReader, Call: call, Outcome: outOK, Seen: -1}
		var err error
		if c == nil {
			c, err = dialReadOnly(srv[next%len(srv)])
		}
		var data []byte
		if err == nil {
			data, err = c.get(w.base + "/clock")
		}
		o.Ret = w.now()
		if err != nil {
			o.Outcome, o.Err = outFail, err.Error()
			if c != nil {
				c.nc.Close()
				c = nil
			}
			next++
			w.record(o)
			if !w.pause(100 * time.Millisecond) { // do not hammer a node that refuses
				return
			}
			continue
		}
		o.ReadOnly = c.readOnly
		if n, perr := strconv.ParseInt(string(data), 10, 64); perr == nil {
			o.Seen = n
		}
		w.record(o)
	}
}
