#!/usr/bin/env python3
"""Kazoo in read-only mode (read_only=True) against one server of a
3-voter ensemble, driven by the Go test through stdin/stdout:

  script: connects read-write, writes /kazoo-ro, prints READY
  test:   cuts the server from the other two, writes CUT
  script: waits for CONNECTED_RO, reads /kazoo-ro with a data watch, gets
          NotReadOnlyCallError for a write, prints RO-OK
  test:   writes /kazoo-ro on the majority side, heals the partition,
          writes HEALED
  script: waits until it is read-write again (Kazoo finds out by itself)
          and until the watch set in read-only mode fired for the change
          made during the cut, writes /kazoo-rw, prints RW-OK

Any failure prints FAIL <why> and exits 1. Mirrors Kazoo's own
TestReadOnlyMode (kazoo/tests/test_client.py).
"""
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.protocol.states import KeeperState


def fail(why):
    print("FAIL " + why, flush=True)
    sys.exit(1)


def wait_state(client, want, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if client.client_state == want:
            return True
        time.sleep(0.05)
    return False


def main():
    hosts = sys.argv[1]
    client = KazooClient(hosts=hosts, read_only=True, timeout=10.0)
    seen = []
    lock = threading.Lock()

    def listener(state):
        with lock:
            seen.append((state, client.client_state))

    client.add_listener(listener)
    client.start(timeout=15)
    if client.client_state != KeeperState.CONNECTED:
        fail("first connection is %s, want CONNECTED (read-write)" % client.client_state)
    client.ensure_path("/kazoo-ro")
    client.set("/kazoo-ro", b"before the cut")
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "CUT":
        fail("expected CUT")
    if not wait_state(client, KeeperState.CONNECTED_RO, 30):
        fail("no CONNECTED_RO within 30 s of the cut (state %s)" % client.client_state)
    fired = threading.Event()
    data, _ = client.get("/kazoo-ro", watch=lambda ev: fired.set())
    if data != b"before the cut":
        fail("read %r in read-only mode" % data)
    if client.get_children("/kazoo-ro") != []:
        fail("children in read-only mode")
    try:
        client.create("/kazoo-ro/child", b"x")
        fail("a create in read-only mode succeeded")
    except NotReadOnlyCallError:
        pass
    print("RO-OK", flush=True)
    if sys.stdin.readline().strip() != "HEALED":
        fail("expected HEALED")
    if not wait_state(client, KeeperState.CONNECTED, 60):
        fail("not read-write within 60 s of the heal (state %s)" % client.client_state)
    if not fired.wait(30):
        fail("the watch set in read-only mode did not fire for the change made during the cut")
    client.create("/kazoo-rw", b"after the heal")
    data, _ = client.get("/kazoo-ro")
    if data != b"during the cut":
        fail("read %r after the heal" % data)
    client.stop()
    client.close()
    print("RW-OK", flush=True)


if __name__ == "__main__":
    main()
