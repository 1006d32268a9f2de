package gossip

import (
	"errors"
	"fmt"
	"time"
)

// Identity verification. The gossip key only proves that a member is of
// the deployment; with Config.TLS each member must also prove the id it
// gossips: the agent dials the member's gossip address, and the TLS
// handshake shows a certificate of the deployment CA naming an id. Until
// that id is seen to equal the gossiped one the member stays out of the
// View; when it differs the member is refused for good (for that name,
// address and boot).
//
// Probes run on their own goroutines, never inside memberlist's delegate
// callbacks: those hold memberlist's locks, and a dial can take seconds.

// Probe pacing: transient failures (the member is starting, a dial timed
// out) are retried from probeRetryMin, doubling to probeRetryMax, while
// the member is alive; at most maxProbes probes dial at once.
const (
	probeRetryMin = 250 * time.Millisecond
	probeRetryMax = 5 * time.Second
	probeTimeout  = 5 * time.Second
	maxProbes     = 8
)

// verdict is what the agent concluded about a member's identity.
type verdict uint8

const (
	unverified verdict = iota // not probed yet, or transient failures so far
	verified                  // its certificate names the id it gossips
	refused                   // its certificate names another id, or proves nothing
)

// idKey is what a verdict is about: a member as memberlist names it, at
// an address, in one run (Meta.Boot). A member that moves or restarts is
// verified anew.
type idKey struct {
	name, addr string
	boot       uint64
}

// identityLocked is called (a.mu held) when memberlist reports e, named
// name in pool: it resets the verdict if e's key changed and starts a
// probe if one is needed and none runs.
func (a *Agent) identityLocked(pool int, name string, e *entry) {
	if e.meta.ID == a.cfg.ID {
		e.verdict = verified // the node itself
		return
	}
	k := idKey{name, e.addr, e.meta.Boot}
	if k != e.checked {
		e.checked, e.verdict = k, unverified
		if _, ok := a.refused[k]; ok {
			e.verdict = refused
		}
	}
	// a.closed is set before Close takes a.mu and then waits for a.done:
	// a probe is either counted before that wait or never started.
	if e.verdict != unverified || e.health != Alive || e.probing || a.closed.Load() {
		return
	}
	e.probing = true
	a.done.Add(1)
	go a.probe(pool, name)
}

// probe verifies the member named name in pool until it has a verdict,
// is no longer alive, or the agent closes. It probes whatever key the
// entry has at each attempt, so a member that moved while a dial was
// under way is probed again at its new address.
func (a *Agent) probe(pool int, name string) {
	defer a.done.Done()
	wait := probeRetryMin
	for {
		a.mu.Lock()
		e := a.pools[pool][name]
		if e.verdict != unverified || e.health != Alive || a.closed.Load() {
			e.probing = false
			a.mu.Unlock()
			return
		}
		k, want := e.checked, e.meta.ID
		a.mu.Unlock()

		select {
		case a.probes <- struct{}{}:
		case <-a.closing:
			a.stopProbing(pool, name)
			return
		}
		got, err := a.cfg.TLS.probeIdentity(a.ctx, k.addr, probeTimeout)
		<-a.probes

		a.mu.Lock()
		e = a.pools[pool][name]
		switch {
		case e.checked != k:
			a.mu.Unlock()
			wait = probeRetryMin
			continue // moved or restarted meanwhile: probe the new key now
		case err == nil && got == want:
			e.verdict = verified
			a.publishLocked()
		case err == nil:
			a.refuseLocked(pool, e, fmt.Errorf("gossip: member %q at %s gossips id %d, its certificate names node %d: refused", k.name, k.addr, want, got))
		case errors.Is(err, errIdentity):
			a.refuseLocked(pool, e, fmt.Errorf("gossip: member %q at %s (id %d) proves no identity: %w", k.name, k.addr, want, err))
		default:
			a.mu.Unlock()
			a.log.Debug("identity probe failed, will retry", "pool", poolName(pool), "member", k.name, "address", k.addr, "in", wait, "error", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-a.closing:
				t.Stop()
				a.stopProbing(pool, name)
				return
			}
			wait = min(2*wait, probeRetryMax)
			continue
		}
		a.mu.Unlock()
		// The loop's check ends it now that the entry has a verdict.
	}
}

func (a *Agent) stopProbing(pool int, name string) {
	a.mu.Lock()
	a.pools[pool][name].probing = false
	a.mu.Unlock()
}

// refuseLocked records that e's key is refused: it leaves the view, and
// NotifyAlive turns its alive messages away from now on. Logged once: a
// key is refused once, and its alive messages never reach an entry again.
func (a *Agent) refuseLocked(pool int, e *entry, why error) {
	e.verdict = refused
	a.refused[e.checked] = why
	a.refusals.Add(1)
	a.log.Warn("gossip member refused", "pool", poolName(pool), "member", e.checked.name, "address", e.checked.addr, "error", why)
	a.publishLocked()
}

// refusedAlive returns the reason a member (name, address, boot) was
// refused, or nil.
func (a *Agent) refusedAlive(name, addr string, boot uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refused[idKey{name, addr, boot}]
}
