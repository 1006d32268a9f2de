package bridge

import (
	"errors"
	"fmt"

	"github.com/zoogate/zoogate/core/zab"
	"github.com/zoogate/zoogate/wan"
)

// ErrBadFrame: a WAN frame that is not a zab message this server may
// receive from its sender on that lane.
var ErrBadFrame = errors.New("bridge: bad frame")

// decode turns a frame from a WAN peer into the message the driver steps.
// The sender's id is the one its certificate proves (ev.From); the
// message must say the same, and be addressed to self (or to nobody).
// Only REQUESTs travel on the requests lane (anything else there would
// lose its order with the ordered lane, which ZAB relies on). A blob
// header must carry no Data: the blob is the payload.
func decode(self uint64, ev wanEvent) (zab.Message, error) {
	m, err := zab.Unmarshal(ev.Frame)
	switch {
	case err != nil:
		return zab.Message{}, fmt.Errorf("%w: %w", ErrBadFrame, err)
	case m.From != ev.From || (m.To != 0 && m.To != self):
		return zab.Message{}, fmt.Errorf("%w: message %d->%d on the stream with %d", ErrBadFrame, m.From, m.To, ev.From)
	case ev.Lane == wan.LaneRequests && m.Type != zab.MsgRequest:
		return zab.Message{}, fmt.Errorf("%w: %s on the requests lane", ErrBadFrame, m.Type)
	case ev.Lane != wan.LaneRequests && ev.Lane != wan.LaneOrdered:
		return zab.Message{}, fmt.Errorf("%w: unknown lane %d", ErrBadFrame, ev.Lane)
	case ev.Blob != nil && len(m.Data) > 0:
		return zab.Message{}, fmt.Errorf("%w: %s with both Data and a blob", ErrBadFrame, m.Type)
	}
	if ev.Blob != nil {
		m.Blob = ev.Blob
	}
	return m, nil
}
