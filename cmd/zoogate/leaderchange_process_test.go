package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestKill9LeaderStockClientsStayConnected: 3 voters as processes; stock
// go-zookeeper clients, each given one follower, create sequential nodes
// with unique values; the leader is killed with SIGKILL. The clients lose
// no connection and no write, every acknowledged create is there exactly
// once, and each writer has a write issued after the kill succeed
// (leader_wait keeps them through the election, docs/cluster.md).
func TestKill9LeaderStockClientsStayConnected(t *testing.T) {
	bin := buildBinary(t)
	pc := newProcCluster(t, bin, 3)
	lead := pc.leader()
	var followers []string
	for id := 1; id <= 3; id++ {
		if id != lead {
			followers = append(followers, pc.client[id])
		}
	}
	setup, _, err := zk.Connect([]string{followers[0]}, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Create("/s", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	setup.Close()

	type writer struct {
		mu        sync.Mutex
		acked     []string
		errs      []error
		losses    int
		okAfter   bool // a write issued after the kill succeeded
		killStart time.Time
	}
	var killAt time.Time
	var killMu sync.Mutex
	writers := make([]*writer, 4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		w := &writer{}
		writers[i] = w
		c, events, err := zk.Connect([]string{followers[i%2]}, 8*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			for ev := range events {
				if ev.Type == zk.EventSession && (ev.State == zk.StateDisconnected || ev.State == zk.StateExpired) {
					select {
					case <-stop:
					default:
						w.mu.Lock()
						w.losses++
						w.mu.Unlock()
					}
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("w%d-%d", i, n)
				issued := time.Now()
				_, err := c.Create("/s/n-", []byte(v), zk.FlagSequence, zk.WorldACL(zk.PermAll))
				killMu.Lock()
				after := !killAt.IsZero() && issued.After(killAt)
				killMu.Unlock()
				w.mu.Lock()
				if err != nil {
					w.errs = append(w.errs, err)
				} else {
					w.acked = append(w.acked, v)
					w.okAfter = w.okAfter || after
				}
				w.mu.Unlock()
			}
		}()
	}
	total := func() int {
		n := 0
		for _, w := range writers {
			w.mu.Lock()
			n += len(w.acked)
			w.mu.Unlock()
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for total() < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the writers' progress
	}
	killMu.Lock()
	killAt = time.Now()
	killMu.Unlock()
	pc.kill(lead)
	allAfter := func() bool {
		for _, w := range writers {
			w.mu.Lock()
			ok := w.okAfter
			w.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	}
	deadline = time.Now().Add(20 * time.Second)
	for !allAfter() {
		if time.Now().After(deadline) {
			pc.dumpLogs()
			t.Fatal("not every writer had a write issued after the kill succeed within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("every writer wrote after the kill within %v", time.Since(killAt).Round(time.Millisecond))
	close(stop)
	wg.Wait()
	pc.leader()
	pc.converged()

	c, _, err := zk.Connect([]string{followers[0]}, 8*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kids, _, err := c.Children("/s")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range kids {
		data, _, err := c.Get("/s/" + k)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(data)]++
	}
	acked := 0
	for i, w := range writers {
		if w.losses > 0 {
			t.Errorf("writer %d (on a surviving follower) lost its connection %d times", i, w.losses)
		}
		if len(w.errs) > 0 {
			t.Errorf("writer %d: %d writes failed, first: %v", i, len(w.errs), w.errs[0])
		}
		for _, v := range w.acked {
			acked++
			if seen[v] != 1 {
				t.Errorf("acknowledged %s is there %d times", v, seen[v])
			}
		}
	}
	if len(kids) != acked {
		t.Errorf("%d nodes for %d acknowledged creates", len(kids), acked)
	}
	t.Logf("%d creates acknowledged, none lost or doubled, across kill -9 of leader %d", acked, lead)
}
