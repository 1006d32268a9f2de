#!/usr/bin/python3
"""Kazoo compatibility checks for a ZooKeeper-compatible server.

Run with Debian's interpreter (it has python3-kazoo):

    /usr/bin/python3 tests/kazoo/kazoo_test.py --hosts 127.0.0.1:2181

Every check asserts real results: CRUD and their errors, ACLs and digest
auth, transactions, DataWatch/ChildrenWatch and one-shot watches, session
close, and the recipes Lock, Semaphore, Election, Queue, LockingQueue,
Barrier, DoubleBarrier, Counter and Party. Each check gets its own subtree
under a unique root and a time limit. The last line is "N passed, M failed";
the exit status is 1 if anything failed, 2 if the server cannot be reached.
The same script must pass against Apache ZooKeeper 3.8.0 (the Go test
TestKazooScriptAgainstZooKeeper checks that).
"""

import argparse
import signal
import sys
import threading
import time
import traceback
import uuid

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import (BadVersionError, InvalidACLError, NoAuthError, NoChildrenForEphemeralsError,
                                  NodeExistsError, NoNodeError, NotEmptyError, RolledBackError, RuntimeInconsistency)
    from kazoo.protocol.states import EventType, KazooState
    from kazoo.security import ACL, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_digest_acl
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write("kazoo is missing (%s): run `apt-get install python3-kazoo` and use /usr/bin/python3\n" % e)
    sys.exit(2)

CHECKS = []
ARGS = None
ROOT = None


def check(fn):
    CHECKS.append(fn)
    return fn


class CheckTimeout(Exception):
    pass


def wait_for(cond, what, timeout=10.0):
    """Polls cond() until it is true or timeout passes (then fails)."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def raises(exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc:
        return
    except Exception as e:  # noqa: BLE001 - report the wrong exception
        raise AssertionError("%s: raised %r, want %s" % (getattr(fn, "__name__", fn), e, exc.__name__))
    raise AssertionError("%s: no exception, want %s" % (getattr(fn, "__name__", fn), exc.__name__))


_clients = []


def client(auth=None):
    """A started client (closed after the check)."""
    c = KazooClient(hosts=ARGS.hosts, timeout=10.0, connection_retry={"max_tries": 3}, command_retry={"max_tries": 3})
    c.start(timeout=15)
    if auth:
        c.add_auth("digest", auth)
    _clients.append(c)
    return c


def close_clients():
    while _clients:
        c = _clients.pop()
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - best effort
            pass


def path(name):
    return "%s/%s" % (ROOT, name)


# ---------------------------------------------------------------- CRUD

@check
def crud_basic():
    zk = client()
    p = path("crud")
    eq(zk.create(p, b"hello"), p, "create returns the path")
    data, st = zk.get(p)
    eq(data, b"hello", "get data")
    eq((st.version, st.cversion, st.aversion, st.numChildren, st.dataLength), (0, 0, 0, 0, 5), "new stat")
    eq(st.czxid, st.mzxid, "czxid == mzxid on create")
    eq(st.pzxid, st.czxid, "pzxid == czxid on create")
    eq(st.ephemeralOwner, 0, "persistent owner")
    st2 = zk.set(p, b"world")
    eq(st2.version, 1, "version after set")
    eq(zk.set(p, b"world").version, 2, "set with the same data still bumps the version")
    raises(BadVersionError, zk.set, p, b"x", version=0)
    eq(zk.set(p, b"v3", version=2).version, 3, "set with the right version")
    eq(zk.exists(p).version, 3, "exists stat")
    eq(zk.exists(path("nosuch")), None, "exists on a missing node")
    raises(NoNodeError, zk.get, path("nosuch"))
    raises(NodeExistsError, zk.create, p)
    raises(NoNodeError, zk.create, path("missing/child"))
    raises(BadVersionError, zk.delete, p, version=0)
    zk.delete(p, version=3)
    eq(zk.exists(p), None, "deleted")


@check
def crud_tree_and_children():
    zk = client()
    base = path("tree")
    zk.create(base + "/a/b/c", b"deep", makepath=True)
    zk.ensure_path(base + "/x/y")
    eq(sorted(zk.get_children(base)), ["a", "x"], "children")
    kids, st = zk.get_children(base, include_data=True)
    eq((sorted(kids), st.numChildren, st.cversion), (["a", "x"], 2, 2), "getChildren2 stat")
    raises(NotEmptyError, zk.delete, base + "/a")
    zk.create(base + "/a/gone")
    zk.delete(base + "/a/gone")
    st = zk.exists(base + "/a")
    eq((st.numChildren, st.cversion), (1, 3), "cversion counts creates and deletes")
    zk.delete(base, recursive=True)
    eq(zk.exists(base), None, "recursive delete")


@check
def crud_sequential_and_ephemeral():
    zk = client()
    base = path("seq")
    zk.create(base)
    a = zk.create(base + "/n-", b"1", sequence=True)
    b = zk.create(base + "/n-", b"2", sequence=True)
    eq((a, b), (base + "/n-0000000000", base + "/n-0000000001"), "sequence names")
    zk.delete(b)
    c = zk.create(base + "/n-", sequence=True, ephemeral=True)
    eq(c, base + "/n-0000000002", "the counter counts deleted children too")
    st = zk.exists(c)
    eq(st.ephemeralOwner, zk.client_id[0], "ephemeral owner is the session")
    raises(NoChildrenForEphemeralsError, zk.create, c + "/child")
    created, st = zk.create(base + "/with-stat", b"abc", include_data=True)
    eq((created, st.dataLength, st.version), (base + "/with-stat", 3, 0), "create2 returns the stat")
    eq(sorted(zk.get_children(base)), ["n-0000000000", "n-0000000002", "with-stat"], "children after seq")
    eq(zk.sync(base), base, "sync echoes the path")


@check
def crud_large_and_empty_data():
    zk = client()
    p = path("big")
    blob = bytes(range(256)) * 2048  # 512 KiB
    zk.create(p, blob)
    data, st = zk.get(p)
    eq((data == blob, st.dataLength), (True, len(blob)), "512 KiB round trip")
    zk.set(p, b"")
    data, st = zk.get(p)
    eq((data, st.dataLength), (b"", 0), "empty data")


# ---------------------------------------------------------------- ACLs

@check
def acl_digest():
    owner = client(auth="alice:secret")
    other = client()
    p = path("secret")
    acl = make_digest_acl("alice", "secret", all=True)
    owner.create(p, b"s", acl=[acl])
    eq(owner.get(p)[0], b"s", "owner reads")
    raises(NoAuthError, other.get, p)
    raises(NoAuthError, other.set, p, b"x")
    acls, st = owner.get_acls(p)
    eq([(a.perms, a.id.scheme, a.id.id) for a in acls], [(Permissions.ALL, "digest", acl.id.id)], "getACL")
    other.add_auth("digest", "alice:wrong")
    raises(NoAuthError, other.get, p)
    other.add_auth("digest", "alice:secret")
    eq(other.get(p)[0], b"s", "reads after the right auth")
    raises(BadVersionError, owner.set_acls, p, OPEN_ACL_UNSAFE, version=5)
    eq(owner.set_acls(p, OPEN_ACL_UNSAFE, version=0).aversion, 1, "setACL bumps aversion")
    eq(client().get(p)[0], b"s", "open after setACL")


@check
def acl_creator_and_readonly():
    anon = client()
    # Kazoo sends CREATOR_ALL_ACL's id "" as a null string.
    raises(InvalidACLError, anon.create, path("creator"), acl=CREATOR_ALL_ACL)
    bob = client(auth="bob:pw")
    bob.create(path("creator"), b"c", acl=CREATOR_ALL_ACL)
    acls, _ = bob.get_acls(path("creator"))
    eq([(a.id.scheme, a.id.id.split(":")[0]) for a in acls], [("digest", "bob")], "auth ACL becomes the digest id")
    ro = [ACL(Permissions.READ, Id("world", "anyone"))]
    anon.create(path("ro"), b"r", acl=ro)
    eq(anon.get(path("ro"))[0], b"r", "world read")
    raises(NoAuthError, anon.set, path("ro"), b"x")
    raises(NoAuthError, anon.create, path("ro/child"))


# ---------------------------------------------------------------- transactions

@check
def transactions():
    zk = client()
    base = path("txn")
    zk.create(base, b"0")
    t = zk.transaction()
    t.create(base + "/a", b"a")
    t.create(base + "/a/b", b"b")
    t.set_data(base, b"1", version=0)
    t.check(base + "/a", 0)
    res = t.commit()
    eq(res, [base + "/a", base + "/a/b", zk.exists(base), True], "successful commit results")
    t = zk.transaction()
    t.create(base + "/c")
    t.delete(base + "/a/b", version=7)
    t.set_data(base, b"2")
    res = t.commit()
    eq([type(r) for r in res], [RolledBackError, BadVersionError, RuntimeInconsistency], "failed commit results")
    eq(zk.exists(base + "/c"), None, "nothing of a failed transaction applied")
    eq(zk.get(base)[0], b"1", "data unchanged by a failed transaction")
    t = zk.transaction()
    t.delete(base + "/a/b")
    t.delete(base + "/a")
    eq(t.commit(), [True, True], "deletes in a transaction")
    eq(zk.get_children(base), [], "children after transaction")


# ---------------------------------------------------------------- watches

@check
def watch_data_and_children():
    zk = client()
    writer = client()
    base = path("w")
    zk.create(base, b"v0")
    seen = []
    kids = []

    @zk.DataWatch(base)
    def _data(data, stat):
        seen.append(None if stat is None else (data, stat.version))

    @zk.ChildrenWatch(base)
    def _kids(children):
        kids.append(sorted(children))

    wait_for(lambda: seen == [(b"v0", 0)] and kids == [[]], "initial watch calls")
    writer.set(base, b"v1")
    wait_for(lambda: seen[-1:] == [(b"v1", 1)], "DataWatch after set")
    writer.create(base + "/k1")
    wait_for(lambda: kids[-1:] == [["k1"]], "ChildrenWatch after create")
    writer.create(base + "/k2")
    wait_for(lambda: kids[-1:] == [["k1", "k2"]], "ChildrenWatch after 2nd create")
    writer.delete(base + "/k1")
    wait_for(lambda: kids[-1:] == [["k2"]], "ChildrenWatch after delete")
    writer.delete(base, recursive=True)
    wait_for(lambda: seen[-1:] == [None], "DataWatch after delete")
    eq(seen, [(b"v0", 0), (b"v1", 1), None], "DataWatch calls")


@check
def watch_one_shot_events():
    zk = client()
    writer = client()
    p = path("one")
    events = []
    zk.exists(p, watch=events.append)
    writer.create(p, b"x")
    wait_for(lambda: len(events) == 1, "NodeCreated")
    eq((events[0].type, events[0].path), (EventType.CREATED, p), "exists watch event")
    zk.get(p, watch=events.append)
    writer.set(p, b"y")
    wait_for(lambda: len(events) >= 2, "NodeDataChanged")
    zk.get_children(p, watch=events.append)
    writer.create(p + "/c")
    wait_for(lambda: len(events) >= 3, "NodeChildrenChanged")
    writer.set(p, b"z")  # no watch left on the data
    zk.sync(p)
    zk.get(p, watch=events.append)
    writer.delete(p + "/c")
    writer.delete(p)
    wait_for(lambda: len(events) >= 4, "NodeDeleted")
    zk.sync(ROOT)
    got = [(e.type, e.path) for e in events]
    eq(got, [(EventType.CREATED, p), (EventType.CHANGED, p), (EventType.CHILD, p), (EventType.DELETED, p)], "events")


@check
def session_close_removes_ephemerals():
    zk = client()
    other = client()
    p = path("eph")
    other.create(p, b"e", ephemeral=True)
    events = []
    zk.exists(p, watch=events.append)
    eq(zk.exists(p).ephemeralOwner, other.client_id[0], "owner")
    other.stop()
    wait_for(lambda: [(e.type, e.path) for e in events] == [(EventType.DELETED, p)], "NodeDeleted on session close")
    eq(zk.exists(p), None, "ephemeral gone after close")


@check
def server_identity():
    zk = client()
    eq(zk.command(b"ruok"), "imok", "ruok")
    v = zk.server_version()
    if len(v) < 3 or not all(isinstance(x, int) for x in v):
        raise AssertionError("server_version() = %r" % (v,))
    eq(zk.state, KazooState.CONNECTED, "state")
    eq("zookeeper" in zk.get_children("/"), True, "/zookeeper is listed")


# ---------------------------------------------------------------- recipes

@check
def recipe_lock():
    a, b = client(), client()
    la, lb = a.Lock(path("lock"), "a"), b.Lock(path("lock"), "b")
    eq(la.acquire(timeout=5), True, "first acquire")
    eq(lb.acquire(blocking=False), False, "second client blocked")
    # b removed its node before acquire returned; on a cluster, a's server
    # may apply that delete a moment later (reads are sequentially
    # consistent): sync first, as a client that needs the latest must.
    a.sync(path("lock"))
    eq(la.contenders(), ["a"], "contenders while held")
    got = threading.Event()

    def waiter():
        if lb.acquire(timeout=10):
            got.set()

    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: len(la.contenders()) == 2, "b queued")
    eq(la.contenders(), ["a", "b"], "contenders in order")
    la.release()
    t.join(15)
    eq(got.is_set(), True, "b acquires after release")
    lb.release()
    eq(a.get_children(path("lock")), [], "lock nodes cleaned up")


@check
def recipe_lock_mutual_exclusion():
    clients = [client() for _ in range(3)]
    counter = path("locked-counter")
    clients[0].create(counter, b"0")
    errors = []

    def worker(zk, ident):
        try:
            lock = zk.Lock(path("mutex"), ident)
            for _ in range(10):
                with lock:
                    v = int(zk.get(counter)[0])
                    zk.set(counter, str(v + 1).encode())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(c, str(i))) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(errors, [], "worker errors")
    eq(int(clients[0].get(counter)[0]), 30, "no lost update under the lock")


@check
def recipe_semaphore():
    a, b, c = client(), client(), client()
    sa, sb, sc = (z.Semaphore(path("sem"), ident, max_leases=2) for z, ident in ((a, "a"), (b, "b"), (c, "c")))
    eq(sa.acquire(timeout=5), True, "lease 1")
    eq(sb.acquire(timeout=5), True, "lease 2")
    eq(sc.acquire(blocking=False), False, "third lease refused")
    eq(sorted(sa.lease_holders()), ["a", "b"], "lease holders")
    sa.release()
    eq(sc.acquire(timeout=10), True, "lease after release")
    sb.release()
    sc.release()


@check
def recipe_election():
    clients = [client() for _ in range(3)]
    leaders = []
    lock = threading.Lock()
    active = [0]

    def lead(name):
        with lock:
            active[0] += 1
            leaders.append((name, active[0]))
        time.sleep(0.1)  # hold leadership for a while, so that an overlap would show
        with lock:
            active[0] -= 1

    elections = [z.Election(path("election"), "c%d" % i) for i, z in enumerate(clients)]
    threads = [threading.Thread(target=e.run, args=(lead, "c%d" % i)) for i, e in enumerate(elections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    eq(sorted(n for n, _ in leaders), ["c0", "c1", "c2"], "every candidate led once")
    eq(max(k for _, k in leaders), 1, "never two leaders at once")


@check
def recipe_queue():
    producer, consumer = client(), client()
    q = producer.Queue(path("queue"))
    for i in range(5):
        q.put(("item%d" % i).encode())
    q.put(b"urgent", priority=10)
    q.put(b"first", priority=1)
    cq = consumer.Queue(path("queue"))
    eq(len(cq), 7, "queue length")
    got = [cq.get() for _ in range(7)]
    eq(got, [b"first", b"urgent", b"item0", b"item1", b"item2", b"item3", b"item4"], "priority, then FIFO order")
    eq(cq.get(), None, "empty queue")


@check
def recipe_locking_queue():
    producer, c1, c2 = client(), client(), client()
    q = producer.LockingQueue(path("lqueue"))
    q.put_all([b"a", b"b", b"c"])
    q1, q2 = c1.LockingQueue(path("lqueue")), c2.LockingQueue(path("lqueue"))
    x = q1.get(timeout=5)
    eq(x, b"a", "first consumer gets the head")
    eq(q1.holds_lock(), True, "item locked")
    y = q2.get(timeout=5)
    eq(y, b"b", "second consumer skips the locked item")
    eq(q1.consume(), True, "consume a")
    eq(q2.release(), True, "release b back")
    eq(sorted([q1.get(timeout=5), q2.get(timeout=5)]), [b"b", b"c"], "remaining items")
    q1.consume()
    q2.consume()
    eq(len(q), 0, "queue drained")


@check
def recipe_barrier():
    a, b = client(), client()
    barrier = a.Barrier(path("barrier"))
    barrier.create()
    # a and b may be connected to different servers of a cluster: as with
    # ZooKeeper, b sees a's write only once its server has applied it, so
    # b syncs first (ZooKeeper's cross-session ordering).
    b.sync(path("barrier"))
    eq(b.Barrier(path("barrier")).wait(timeout=0.3), False, "wait times out while the barrier is up")
    passed = threading.Event()

    def waiter():
        if b.Barrier(path("barrier")).wait(timeout=15):
            passed.set()

    t = threading.Thread(target=waiter)
    t.start()
    barrier.remove()
    t.join(20)
    eq(passed.is_set(), True, "waiter released by remove")


@check
def recipe_double_barrier():
    clients = [client() for _ in range(3)]
    entered, left = [], []

    def member(zk, name):
        db = zk.DoubleBarrier(path("dbarrier"), 3, identifier=name)
        db.enter()
        entered.append(name)
        db.leave()
        left.append(name)

    threads = [threading.Thread(target=member, args=(z, "m%d" % i)) for i, z in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    eq((sorted(entered), sorted(left)), (["m0", "m1", "m2"], ["m0", "m1", "m2"]), "all entered and left")


@check
def recipe_counter():
    zk = client()
    c = zk.Counter(path("counter"))
    c += 5
    c -= 2
    eq(c.value, 3, "counter value")
    clients = [client() for _ in range(3)]

    def bump(z):
        cc = z.Counter(path("counter"))
        for _ in range(10):
            cc += 1

    threads = [threading.Thread(target=bump, args=(z,)) for z in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(zk.Counter(path("counter")).value, 33, "concurrent increments")
    f = zk.Counter(path("fcounter"), default=0.5)
    f += 1.25
    eq(f.value, 1.75, "float counter")


@check
def recipe_party():
    a, b, c = client(), client(), client()
    pa, pb, pc = a.Party(path("party"), "alice"), b.Party(path("party"), "bob"), c.ShallowParty(path("sparty"), "carol")
    pa.join()
    pb.join()
    pc.join()
    eq(sorted(a.Party(path("party"))), ["alice", "bob"], "party members")
    eq(len(a.Party(path("party"))), 2, "party size")
    eq(list(a.ShallowParty(path("sparty"))), ["carol"], "shallow party")
    pb.leave()
    eq(sorted(a.Party(path("party"))), ["alice"], "after leave")
    c.stop()  # session end removes the member
    wait_for(lambda: list(a.ShallowParty(path("sparty"))) == [], "shallow party member gone with its session")


# ---------------------------------------------------------------- driver

def run_one(fn):
    def on_alarm(signum, frame):
        raise CheckTimeout("check took longer than %ds" % ARGS.check_timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(ARGS.check_timeout)
    try:
        fn()
        return None
    except Exception as e:  # noqa: BLE001 - every failure is reported
        return "%s\n%s" % (e, traceback.format_exc(limit=4))
    finally:
        signal.alarm(0)
        close_clients()


def main():
    global ARGS, ROOT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", required=True, help="host:port[,host:port...]")
    ap.add_argument("--check-timeout", type=int, default=60, help="seconds allowed per check")
    ap.add_argument("-k", dest="only", default="", help="run only checks whose name contains this")
    ARGS = ap.parse_args()
    ROOT = "/kazoo-" + uuid.uuid4().hex[:12]
    try:
        setup = client()
        setup.create(ROOT)
    except Exception as e:  # noqa: BLE001
        print("cannot use the server at %s: %s" % (ARGS.hosts, e), file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    passed, failed = 0, []
    for fn in CHECKS:
        if ARGS.only and ARGS.only not in fn.__name__:
            continue
        start = time.monotonic()
        err = run_one(fn)
        took = time.monotonic() - start
        if err is None:
            passed += 1
            print("PASS %-36s %.2fs" % (fn.__name__, took), flush=True)
        else:
            failed.append(fn.__name__)
            print("FAIL %-36s %.2fs: %s" % (fn.__name__, took, err), flush=True)
    try:
        zk = client(auth="bob:pw")  # bob owns a CREATOR_ALL node
        zk.delete(ROOT, recursive=True)
    except Exception as e:  # noqa: BLE001 - report, do not hide
        print("cleanup of %s failed: %r" % (ROOT, e))
    finally:
        close_clients()
    if failed:
        print("failed: " + ", ".join(failed))
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
