package peer

import (
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/zab"
)

// TestMemPartitionHeal: a partition breaks the streams across it (both
// ends told), Sends across it are lost with the sender told, streams inside
// a group carry on, and Heal lets new streams through.
func TestMemPartitionHeal(t *testing.T) {
	for _, delay := range []time.Duration{0, time.Millisecond} {
		nw := NewMemNetwork(WithDelay(delay))
		t.Cleanup(func() { nw.Close(); checkNoLeaks(t) })
		d := map[uint64]*drv{}
		for id := uint64(1); id <= 3; id++ {
			d[id] = newDrv(t, id, nw.Transport(id))
		}
		for x := uint64(1); x <= 3; x++ {
			for y := uint64(1); y <= 3; y++ {
				if x != y {
					d[x].send(y, 5)
				}
			}
		}
		for id := uint64(1); id <= 3; id++ {
			d[id].pumpUntil(waitLong, "two messages", func() bool { return len(d[id].got) == 2 })
		}
		nw.Partition([]uint64{1, 2}, []uint64{3})
		d[3].pumpUntil(waitLong, "Broken from both", func() bool { return d[3].brokens(1) == 1 && d[3].brokens(2) == 1 })
		d[1].pumpUntil(waitLong, "Broken(3)", func() bool { return d[1].brokens(3) == 1 })
		// Across: lost, the sender told; inside: delivered.
		d[1].send(3, 5)
		d[1].pumpUntil(waitLong, "Broken(3) again", func() bool { return d[1].brokens(3) == 2 })
		_, s := d[1].send(2, 5)
		d[2].pumpUntil(waitLong, "1's message", func() bool { return d[2].has(1, 0, s) })
		if d[1].brokens(2)+d[2].brokens(1) != 0 {
			t.Fatal("the stream inside the group broke")
		}
		nw.Heal()
		_, s = d[1].send(3, 5)
		d[3].pumpUntil(waitLong, "1's message after Heal", func() bool { return d[3].has(1, 2, s) })
		for id := uint64(1); id <= 3; id++ {
			checkStreams(t, id, d[id].got)
		}
		if d[3].brokens(1) != 1 {
			t.Fatalf("3 was told of the lost Send: %s", summarize(d[3].got))
		}
	}
}

// TestMemSendToStopped: a Send to a server that is not running is lost and
// the sender told, once; later Sends are dropped until it takes the event.
func TestMemSendToStopped(t *testing.T) {
	nw := NewMemNetwork()
	defer nw.Close()
	a := nw.Transport(1)
	a.Send(2, zab.Message{Type: zab.MsgPing})
	a.Send(2, zab.Message{Type: zab.MsgPing})
	ev, ok := a.Recv()
	if !ok || ev.Msg != nil || ev.Broken != 2 {
		t.Fatalf("got %+v, %v", ev, ok)
	}
	if ev, ok := a.Recv(); ok {
		t.Fatalf("second event %+v", ev)
	}
	b := nw.Transport(2)
	a.Send(2, zab.Message{Type: zab.MsgPing, Zxid: 9})
	if ev, ok := b.Recv(); !ok || ev.Msg == nil || ev.Msg.Zxid != 9 || ev.Msg.From != 1 || ev.Msg.To != 2 {
		t.Fatalf("got %+v, %v", ev, ok)
	}
}

// TestInboxPurge: CloseStream's purge drops only the peer's messages of
// the driver's current stream (before a waiting Broken), and the notify
// token is re-armed while events remain.
func TestInboxPurge(t *testing.T) {
	nw := NewMemNetwork()
	defer nw.Close()
	in := nw.Transport(9).in
	nw.mu.Lock()
	in.pushMsg(zab.Message{From: 1, Zxid: 1})
	in.pushMsg(zab.Message{From: 2, Zxid: 2})
	in.owe(1)
	in.pushBroken(1)
	in.pushMsg(zab.Message{From: 1, Zxid: 3})
	in.purge(1)
	nw.mu.Unlock()
	var got []string
	for range 3 {
		select {
		case <-in.notify:
		default:
			t.Fatalf("no notify token with events waiting (got %v)", got)
		}
		nw.mu.Lock()
		ev, ok := in.pop()
		nw.mu.Unlock()
		if !ok {
			t.Fatalf("queue empty after %v", got)
		}
		got = append(got, summarize([]Event{ev}))
	}
	if ev, ok := nw.Transport(9).Recv(); ok {
		t.Fatalf("extra event %+v", ev)
	}
	want := []string{" 2:0/2", " BROKEN(1)", " 1:0/3"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if in.bytes != 0 || len(in.from) != 0 || len(in.owed) != 0 {
		t.Fatalf("accounting left: %d bytes, %v, %v", in.bytes, in.from, in.owed)
	}
}
