// CuratorRecipes runs Apache Curator's recipes against a ZooKeeper-compatible
// server and checks what each one does, with several clients (each its own
// session) where the recipe is about coordination between them. It prints
// "PASS name" or "FAIL name: why" for each check, then "N passed, M failed",
// and exits 1 if any check failed.
//
// Usage: java -cp CLASSES:CURATOR_JARS CuratorRecipes CONNECT_STRING
//
// tests/curator_test.go compiles and runs it against Apache ZooKeeper (so
// every expectation here is ZooKeeper's real behaviour), a 3-voter zoogate
// cluster and a zoogate observer.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.TransactionOp;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.utils.CloseableUtils;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public final class CuratorRecipes {
    /** How long one check may take before it counts as failed. */
    private static final long CHECK_LIMIT_S = 60;
    /** How long a condition is polled for, or one event waited for. */
    private static final long WAIT_S = 20;

    private static String connect;
    private static final String BASE = "/curator-recipes";
    private static int passed, failed;
    /** Clients opened by the running check; closed when it ends. */
    private static final List<CuratorFramework> clients = Collections.synchronizedList(new ArrayList<>());

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: CuratorRecipes CONNECT_STRING");
            System.exit(2);
        }
        connect = args[0];
        check("mutex", CuratorRecipes::mutex);
        check("leader-latch", CuratorRecipes::leaderLatch);
        check("leader-selector", CuratorRecipes::leaderSelector);
        check("atomic-long", CuratorRecipes::atomicLong);
        check("curator-cache", CuratorRecipes::curatorCache);
        check("path-children-cache", CuratorRecipes::pathChildrenCache);
        check("node-cache", CuratorRecipes::nodeCache);
        check("queue", CuratorRecipes::queue);
        check("shared-count", CuratorRecipes::sharedCount);
        check("persistent-ephemeral", CuratorRecipes::persistentEphemeral);
        check("transaction", CuratorRecipes::transaction);
        System.out.println(passed + " passed, " + failed + " failed");
        System.out.flush();
        // Curator and ZooKeeper leave non-daemon threads behind.
        Runtime.getRuntime().halt(failed == 0 ? 0 : 1);
    }

    interface Check {
        void run() throws Exception;
    }

    /** Runs one check under CHECK_LIMIT_S, prints its outcome, closes its clients. */
    private static void check(String name, Check c) {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "check-" + name);
            t.setDaemon(true);
            return t;
        });
        long start = System.nanoTime();
        Future<?> f = ex.submit(() -> {
            c.run();
            return null;
        });
        String failure = null;
        try {
            f.get(CHECK_LIMIT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            failure = cause instanceof AssertionError ? cause.getMessage() : cause.toString();
            if (!(cause instanceof AssertionError)) {
                cause.printStackTrace();
            }
        } catch (TimeoutException e) {
            f.cancel(true);
            failure = "no result within " + CHECK_LIMIT_S + "s";
        } catch (InterruptedException e) {
            failure = "interrupted";
        } finally {
            ex.shutdownNow();
            synchronized (clients) {
                for (CuratorFramework cf : clients) {
                    CloseableUtils.closeQuietly(cf);
                }
                clients.clear();
            }
        }
        long ms = (System.nanoTime() - start) / 1_000_000;
        if (failure == null) {
            passed++;
            System.out.println("PASS " + name + " (" + ms + " ms)");
        } else {
            failed++;
            System.out.println("FAIL " + name + ": " + failure);
        }
        System.out.flush();
    }

    // ---- helpers ----

    /** A started client, connected; closed at the end of the check. */
    private static CuratorFramework client() throws InterruptedException {
        CuratorFramework cf = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 8))
                .build();
        clients.add(cf);
        cf.start();
        expect(cf.blockUntilConnected((int) WAIT_S, TimeUnit.SECONDS), "a client did not connect to %s within %ds", connect, WAIT_S);
        return cf;
    }

    private static void expect(boolean cond, String format, Object... args) {
        if (!cond) {
            throw new AssertionError(String.format(format, args));
        }
    }

    private static void expectEqual(Object want, Object got, String what) {
        if (want == null ? got != null : !want.equals(got)) {
            throw new AssertionError(what + ": got " + got + ", want " + want);
        }
    }

    /** Polls cond every 10 ms until it holds; fails with what after WAIT_S. */
    private static void waitFor(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + WAIT_S + "s: " + what);
            }
            Thread.sleep(10); // poll interval of cond
        }
    }

    /** The next item of q, or a failure naming what was awaited. */
    private static <T> T next(BlockingQueue<T> q, String what) throws InterruptedException {
        T v = q.poll(WAIT_S, TimeUnit.SECONDS);
        if (v == null) {
            throw new AssertionError("no " + what + " within " + WAIT_S + "s");
        }
        return v;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    /** Stat of path as cf's server sees it after a sync, or null. */
    private static Stat statSynced(CuratorFramework cf, String path) throws Exception {
        sync(cf, path);
        return cf.checkExists().forPath(path);
    }

    /** Brings cf's server up to date with the leader (Curator's sync is asynchronous). */
    private static void sync(CuratorFramework cf, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        cf.sync().inBackground((c, e) -> done.countDown()).forPath(path);
        expect(done.await(WAIT_S, TimeUnit.SECONDS), "sync(%s) not answered within %ds", path, WAIT_S);
    }

    /** Stat, or null when the read itself fails (for polling across a session loss). */
    private static Stat statOrNull(CuratorFramework cf, String path) {
        try {
            return cf.checkExists().forPath(path);
        } catch (Exception e) {
            return null;
        }
    }

    private static Callable<Void> thread(Check c) {
        return () -> {
            c.run();
            return null;
        };
    }

    /** Runs the tasks on their own threads and rethrows the first failure. */
    private static void runAll(List<Callable<Void>> tasks) throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(tasks.size());
        try {
            List<Future<Void>> fs = new ArrayList<>();
            for (Callable<Void> c : tasks) {
                fs.add(ex.submit(c));
            }
            for (Future<Void> f : fs) {
                try {
                    f.get(CHECK_LIMIT_S, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof Exception) {
                        throw (Exception) e.getCause();
                    }
                    throw e;
                }
            }
        } finally {
            ex.shutdownNow();
        }
    }

    // ---- checks ----

    /**
     * InterProcessMutex: while one client holds the lock the other waits
     * in line and gets it when it is released; then both loop over a
     * read-modify-write of a counter znode under the lock: never two
     * holders at once, and no increment is lost.
     */
    private static void mutex() throws Exception {
        CuratorFramework a = client(), b = client();
        String lockPath = BASE + "/mutex/lock", counter = BASE + "/mutex/counter";
        InterProcessMutex la = new InterProcessMutex(a, lockPath), lb = new InterProcessMutex(b, lockPath);

        expect(la.acquire(WAIT_S, TimeUnit.SECONDS), "a could not take the free lock");
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> bGot = ex.submit(() -> {
                boolean got = lb.acquire(WAIT_S, TimeUnit.SECONDS);
                if (got) {
                    lb.release();
                }
                return got;
            });
            waitFor("b queued behind a (two lock nodes)", () -> {
                try {
                    return la.getParticipantNodes().size() == 2;
                } catch (Exception e) {
                    return false;
                }
            });
            expect(!bGot.isDone(), "b got the lock while a held it");
            expect(la.isOwnedByCurrentThread() && la.isAcquiredInThisProcess(), "a does not own the lock it took");
            la.release();
            expect(bGot.get(WAIT_S, TimeUnit.SECONDS), "b did not get the lock after a released it");
        } finally {
            ex.shutdownNow();
        }

        a.create().creatingParentsIfNeeded().forPath(counter, bytes("0"));
        int rounds = 15;
        AtomicInteger inside = new AtomicInteger(), most = new AtomicInteger();
        List<Callable<Void>> workers = new ArrayList<>();
        for (CuratorFramework cf : Arrays.asList(a, b)) {
            InterProcessMutex m = new InterProcessMutex(cf, lockPath);
            workers.add(thread(() -> {
                for (int i = 0; i < rounds; i++) {
                    expect(m.acquire(WAIT_S, TimeUnit.SECONDS), "lock not acquired within %ds", WAIT_S);
                    try {
                        most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                        int n = Integer.parseInt(str(cf.getData().forPath(counter)));
                        cf.setData().forPath(counter, bytes(Integer.toString(n + 1)));
                        inside.decrementAndGet();
                    } finally {
                        m.release();
                    }
                }
            }));
        }
        runAll(workers);
        expectEqual(1, most.get(), "most holders at once");
        expectEqual(Integer.toString(2 * rounds), str(a.getData().forPath(counter)), "counter after 2x" + rounds + " locked increments");
        expectEqual(Collections.emptyList(), a.getChildren().forPath(lockPath), "lock nodes left after every release");
    }

    /**
     * LeaderLatch: of two latches exactly one leads and both agree which;
     * when the leader closes its latch the other takes over.
     */
    private static void leaderLatch() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/latch";
        LeaderLatch la = new LeaderLatch(a, path, "a"), lb = new LeaderLatch(b, path, "b");
        try {
            la.start();
            lb.start();
            waitFor("one latch leading", () -> la.hasLeadership() || lb.hasLeadership());
            expect(!(la.hasLeadership() && lb.hasLeadership()), "both latches lead");
            LeaderLatch leader = la.hasLeadership() ? la : lb, other = leader == la ? lb : la;
            waitFor("both latches seeing two participants", () -> {
                try {
                    return la.getParticipants().size() == 2 && lb.getParticipants().size() == 2;
                } catch (Exception e) {
                    return false;
                }
            });
            expectEqual(leader.getId(), other.getLeader().getId(), "leader as the other latch sees it");
            expect(other.getLeader().isLeader(), "getLeader() is not marked leader");
            leader.close(); // closing twice throws: the finally skips it
            expect(other.await(WAIT_S, TimeUnit.SECONDS), "the other latch did not lead after the leader closed");
            expectEqual(other.getId(), other.getLeader().getId(), "leader after the handover");
            expectEqual(1, other.getParticipants().size(), "participants after the leader closed");
        } finally {
            for (LeaderLatch l : Arrays.asList(la, lb)) {
                if (l.getState() == LeaderLatch.State.STARTED) {
                    l.close();
                }
            }
        }
    }

    /**
     * LeaderSelector: two selectors take leadership in turn (one that gives
     * it up and requeues goes to the back of the line), never both at once;
     * each sees the other as a participant and agrees on the leader; and
     * no node is left once both have given up for good.
     */
    private static void leaderSelector() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/selector";
        AtomicInteger leading = new AtomicInteger(), most = new AtomicInteger();
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        BlockingQueue<Boolean> giveUp = new LinkedBlockingQueue<>();
        Map<String, LeaderSelector> selectors = new LinkedHashMap<>();
        try {
            for (String id : Arrays.asList("a", "b")) {
                LeaderSelector s = new LeaderSelector(id.equals("a") ? a : b, path, new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework cf) throws Exception {
                        most.accumulateAndGet(leading.incrementAndGet(), Math::max);
                        order.add(id);
                        try {
                            giveUp.take();
                        } finally {
                            leading.decrementAndGet();
                        }
                    }
                });
                s.setId(id);
                selectors.put(id, s);
            }
            for (LeaderSelector s : selectors.values()) {
                s.start();
            }
            int terms = 4;
            for (int term = 1; term <= terms; term++) {
                int want = term, participants = term < terms ? 2 : 1;
                waitFor("leadership term " + term, () -> order.size() == want);
                String leaderId = order.get(term - 1);
                waitFor(participants + " participants, " + leaderId + " leading", () -> {
                    try {
                        for (LeaderSelector s : selectors.values()) {
                            if (s.getParticipants().size() != participants || !s.getLeader().getId().equals(leaderId)) {
                                return false;
                            }
                        }
                        return true;
                    } catch (Exception e) {
                        return false;
                    }
                });
                expect(selectors.get(leaderId).hasLeadership(), "%s leads but hasLeadership() is false", leaderId);
                giveUp.put(true);
                if (term + 2 <= terms) { // it leads again two terms on
                    LeaderSelector s = selectors.get(leaderId);
                    // requeue() is refused until the finished term is wound up
                    waitFor(leaderId + " requeued", s::requeue);
                }
            }
            for (int i = 1; i < terms; i++) {
                expect(!order.get(i).equals(order.get(i - 1)), "leadership did not alternate: %s", order);
            }
            waitFor("no selector nodes left after the last term", () -> {
                try {
                    return leading.get() == 0 && a.getChildren().forPath(path).isEmpty();
                } catch (Exception e) {
                    return false;
                }
            });
            expectEqual(terms, order.size(), "terms");
            expectEqual(1, most.get(), "most leaders at once");
        } finally {
            for (LeaderSelector s : selectors.values()) {
                CloseableUtils.closeQuietly(s);
            }
        }
    }

    /**
     * DistributedAtomicLong: 4 threads on 2 clients increment one counter
     * 25 times each; every increment returns a distinct value one above
     * its previous, and the total adds up.
     */
    private static void atomicLong() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/atomic";
        int threads = 4, each = 25;
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        List<Callable<Void>> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            DistributedAtomicLong n = new DistributedAtomicLong(i % 2 == 0 ? a : b, path, new RetryNTimes(1000, 1));
            workers.add(thread(() -> {
                for (int j = 0; j < each; j++) {
                    AtomicValue<Long> v = n.increment();
                    expect(v.succeeded(), "an increment did not succeed within its retries");
                    expectEqual(v.preValue() + 1, v.postValue(), "postValue of an increment");
                    expect(seen.add(v.postValue()), "two increments returned %d", v.postValue());
                }
            }));
        }
        runAll(workers);
        AtomicValue<Long> total = new DistributedAtomicLong(a, path, new RetryNTimes(3, 10)).get();
        expect(total.succeeded(), "get() did not succeed");
        expectEqual((long) threads * each, total.postValue(), "counter after the concurrent increments");
        expectEqual((long) threads * each, Collections.max(seen), "highest value returned");
    }

    /**
     * CuratorCache (persistent recursive watch): sees the creation, update
     * and deletion of a child and a grandchild made by another client,
     * with their data, in order.
     */
    private static void curatorCache() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/cache";
        a.create().creatingParentsIfNeeded().forPath(path, bytes("root"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CuratorCache cache = CuratorCache.build(a, path);
        try {
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forCreates(n -> events.add("create " + n.getPath() + " " + str(n.getData())))
                    .forChanges((o, n) -> events.add("change " + n.getPath() + " " + str(o.getData()) + "->" + str(n.getData())))
                    .forDeletes(o -> events.add("delete " + o.getPath()))
                    .forInitialized(() -> events.add("initialized"))
                    .build());
            cache.start();
            expectEqual("create " + path + " root", next(events, "event for the existing root"), "first event");
            expectEqual("initialized", next(events, "initialized event"), "second event");
            String child = path + "/one", grandchild = child + "/two";
            b.create().forPath(child, bytes("v1"));
            expectEqual("create " + child + " v1", next(events, "create event"), "event");
            b.setData().forPath(child, bytes("v2"));
            expectEqual("change " + child + " v1->v2", next(events, "change event"), "event");
            b.create().forPath(grandchild, bytes("g"));
            expectEqual("create " + grandchild + " g", next(events, "grandchild create event"), "event");
            b.delete().forPath(grandchild);
            expectEqual("delete " + grandchild, next(events, "grandchild delete event"), "event");
            b.delete().forPath(child);
            expectEqual("delete " + child, next(events, "delete event"), "event");
            expectEqual(1, cache.size(), "nodes cached at the end (the root)");
        } finally {
            cache.close();
        }
    }

    /**
     * PathChildrenCache (one-shot child and data watches): sees another
     * client add, update and remove a child, then add another.
     */
    @SuppressWarnings("deprecation")
    private static void pathChildrenCache() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/children";
        a.create().creatingParentsIfNeeded().forPath(path);
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        PathChildrenCache cache = new PathChildrenCache(a, path, true);
        try {
            cache.getListenable().addListener((cf, e) -> {
                ChildData d = e.getData();
                switch (e.getType()) {
                    case CHILD_ADDED:
                    case CHILD_UPDATED:
                    case CHILD_REMOVED:
                        events.add(e.getType() + " " + d.getPath() + " " + str(d.getData()));
                        break;
                    default:
                }
            });
            cache.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
            expectEqual(0, cache.getCurrentData().size(), "children cached at the start");
            String child = path + "/c";
            b.create().forPath(child, bytes("v1"));
            expectEqual("CHILD_ADDED " + child + " v1", next(events, "CHILD_ADDED"), "event");
            b.setData().forPath(child, bytes("v2"));
            expectEqual("CHILD_UPDATED " + child + " v2", next(events, "CHILD_UPDATED"), "event");
            b.delete().forPath(child);
            expectEqual("CHILD_REMOVED " + child + " v2", next(events, "CHILD_REMOVED"), "event");
            // A child added after the removal: its event comes once the
            // cache has also listed the children after the delete, so
            // nothing is in flight when the cache closes.
            b.create().forPath(path + "/d", bytes("v3"));
            expectEqual("CHILD_ADDED " + path + "/d v3", next(events, "CHILD_ADDED after the removal"), "event");
            expectEqual(1, cache.getCurrentData().size(), "children cached at the end");
        } finally {
            cache.close();
        }
    }

    /** NodeCache: follows another client's create, update and delete of a node. */
    @SuppressWarnings("deprecation")
    private static void nodeCache() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/nodecache";
        NodeCache cache = new NodeCache(a, path);
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        try {
            cache.getListenable().addListener(() -> {
                ChildData d = cache.getCurrentData();
                seen.add(d == null ? "<none>" : str(d.getData()));
            });
            cache.start(true);
            expect(cache.getCurrentData() == null, "a node that does not exist is cached");
            b.create().creatingParentsIfNeeded().forPath(path, bytes("v1"));
            expectEqual("v1", next(seen, "node cache change after the create"), "cached data");
            b.setData().forPath(path, bytes("v2"));
            expectEqual("v2", next(seen, "node cache change after the update"), "cached data");
            b.delete().forPath(path);
            expectEqual("<none>", next(seen, "node cache change after the delete"), "cached data");
        } finally {
            cache.close();
        }
    }

    /**
     * DistributedQueue: ten items put by one client are consumed by
     * another, each once, first in first out, and the queue ends empty.
     */
    private static void queue() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/queue";
        QueueSerializer<String> ser = new QueueSerializer<String>() {
            @Override
            public byte[] serialize(String item) {
                return bytes(item);
            }

            @Override
            public String deserialize(byte[] data) {
                return str(data);
            }
        };
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            @Override
            public void consumeMessage(String item) {
                got.add(item);
            }

            @Override
            public void stateChanged(CuratorFramework cf, ConnectionState s) {
            }
        };
        DistributedQueue<String> producer = QueueBuilder.builder(a, null, ser, path).buildQueue();
        DistributedQueue<String> consuming = QueueBuilder.builder(b, consumer, ser, path).buildQueue();
        try {
            producer.start();
            List<String> put = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                put.add("item-" + i);
                producer.put("item-" + i);
            }
            consuming.start();
            List<String> taken = new ArrayList<>();
            for (int i = 0; i < put.size(); i++) {
                taken.add(next(got, "item " + i + " from the queue"));
            }
            expectEqual(put, taken, "items consumed");
            waitFor("the queue node empty", () -> {
                try {
                    return a.getChildren().forPath(path).isEmpty();
                } catch (Exception e) {
                    return false;
                }
            });
            expect(got.isEmpty(), "an item was consumed twice: %s", got);
        } finally {
            CloseableUtils.closeQuietly(consuming);
            CloseableUtils.closeQuietly(producer);
        }
    }

    /**
     * SharedCount: a count set by one client reaches the other's listener;
     * trySetCount succeeds with the current version and fails, changing
     * nothing, with a stale one.
     */
    private static void sharedCount() throws Exception {
        CuratorFramework a = client(), b = client();
        String path = BASE + "/count";
        SharedCount ca = new SharedCount(a, path, 0), cb = new SharedCount(b, path, 0);
        BlockingQueue<Integer> bSaw = new LinkedBlockingQueue<>();
        try {
            cb.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader r, int n) {
                    bSaw.add(n);
                }

                @Override
                public void stateChanged(CuratorFramework cf, ConnectionState s) {
                }
            });
            ca.start();
            cb.start();
            ca.setCount(5);
            expectEqual(5, next(bSaw, "count change at the other client"), "count b's listener saw");
            waitFor("a's own count 5", () -> ca.getCount() == 5);
            VersionedValue<Integer> stale = ca.getVersionedValue();
            expect(cb.trySetCount(cb.getVersionedValue(), 6), "trySetCount with the current version failed");
            expect(!ca.trySetCount(stale, 7), "trySetCount with a stale version succeeded");
            waitFor("a's count 6", () -> ca.getCount() == 6);
            expectEqual(6, cb.getCount(), "b's count");
            expectEqual(6, next(bSaw, "b's own change"), "count b's listener saw");
        } finally {
            CloseableUtils.closeQuietly(ca);
            CloseableUtils.closeQuietly(cb);
        }
    }

    /**
     * PersistentNode (ephemeral): the node exists, owned by the client's
     * session, while the client lives; when that session is closed from
     * outside (another connection with its id and password) the node goes
     * and the recipe creates it again under the client's new session; it
     * is gone once the recipe is closed.
     */
    private static void persistentEphemeral() throws Exception {
        CuratorFramework owner = client(), other = client();
        String path = BASE + "/ephemeral/member";
        other.create().creatingParentsIfNeeded().forPath(BASE + "/ephemeral");
        PersistentNode node = new PersistentNode(owner, CreateMode.EPHEMERAL, false, path, bytes("alive"));
        try {
            node.start();
            expect(node.waitForInitialCreate(WAIT_S, TimeUnit.SECONDS), "the node was not created within %ds", WAIT_S);
            long session = owner.getZookeeperClient().getZooKeeper().getSessionId();
            Stat st = statSynced(other, path);
            expect(st != null, "another client does not see the node");
            expectEqual(session, st.getEphemeralOwner(), "ephemeralOwner");
            expectEqual("alive", str(other.getData().forPath(path)), "data");

            closeSessionFromOutside(owner);
            waitFor("the node back under a new session", () -> {
                Stat s = statOrNull(other, path);
                return s != null && s.getEphemeralOwner() != session;
            });
            long newOwner = statOrNull(other, path).getEphemeralOwner();
            expectEqual(owner.getZookeeperClient().getZooKeeper().getSessionId(), newOwner, "ephemeralOwner after the recreate");
            expect(newOwner != session, "the session was not replaced");
        } finally {
            node.close();
        }
        waitFor("the node gone after close", () -> {
            try {
                sync(other, path);
                return other.checkExists().forPath(path) == null;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /**
     * Closes cf's session through a second connection that attaches to it
     * with its id and password: the server moves the session there, and
     * closing that connection ends the session and its ephemerals.
     */
    private static void closeSessionFromOutside(CuratorFramework cf) throws Exception {
        ZooKeeper zk = cf.getZookeeperClient().getZooKeeper();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper killer = new ZooKeeper(connect, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, zk.getSessionId(), zk.getSessionPasswd());
        try {
            expect(connected.await(WAIT_S, TimeUnit.SECONDS), "could not attach to session 0x%x", zk.getSessionId());
        } finally {
            killer.close();
        }
    }

    /**
     * Transactions (client.transaction().forOperations): a create, a
     * setData and a version check commit together with a result each; a
     * transaction whose last op fails (setData at a wrong version) changes
     * nothing, and its results say which op failed.
     */
    private static void transaction() throws Exception {
        CuratorFramework a = client();
        String path = BASE + "/txn";
        a.create().creatingParentsIfNeeded().forPath(path);
        TransactionOp op = a.transactionOp();
        List<CuratorTransactionResult> res = a.transaction().forOperations(
                op.create().forPath(path + "/x", bytes("1")),
                op.create().forPath(path + "/y", bytes("2")),
                op.setData().forPath(path + "/x", bytes("3")),
                op.check().withVersion(0).forPath(path + "/y"));
        expectEqual(4, res.size(), "results of the committed transaction");
        List<String> kinds = new ArrayList<>();
        for (CuratorTransactionResult r : res) {
            kinds.add(r.getType() + " " + r.getForPath() + " " + r.getError());
        }
        expectEqual(Arrays.asList("CREATE " + path + "/x 0", "CREATE " + path + "/y 0", "SET_DATA " + path + "/x 0", "CHECK " + path + "/y 0"),
                kinds, "transaction results");
        expectEqual(path + "/x", res.get(0).getResultPath(), "created path");
        expectEqual(1, res.get(2).getResultStat().getVersion(), "version after the setData");
        Stat x = new Stat();
        expectEqual("3", str(a.getData().storingStatIn(x).forPath(path + "/x")), "x after the transaction");
        expectEqual(res.get(2).getResultStat().getMzxid(), x.getMzxid(), "x's mzxid");
        expectEqual(x.getMzxid(), x.getCzxid(), "x's czxid (created and updated by one transaction)");

        Stat before = a.checkExists().forPath(path);
        List<CuratorOp> bad = Arrays.asList(
                op.create().forPath(path + "/z", bytes("new")),
                op.delete().forPath(path + "/x"),
                op.setData().withVersion(7).forPath(path + "/y", bytes("never")));
        try {
            a.transaction().forOperations(bad);
            throw new AssertionError("a transaction with a wrong version committed");
        } catch (KeeperException e) {
            expectEqual(KeeperException.Code.BADVERSION, e.code(), "error of the failed transaction");
            List<Integer> codes = new ArrayList<>();
            for (OpResult r : e.getResults()) {
                codes.add(r instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) r).getErr() : null);
            }
            expectEqual(Arrays.asList(0, 0, KeeperException.Code.BADVERSION.intValue()), codes, "per-op results of the failed transaction");
        }
        expect(a.checkExists().forPath(path + "/z") == null, "the failed transaction created /z");
        expectEqual("3", str(a.getData().forPath(path + "/x")), "x after the failed transaction");
        expectEqual("2", str(a.getData().forPath(path + "/y")), "y after the failed transaction");
        Stat after = a.checkExists().forPath(path);
        expectEqual(before.getCversion(), after.getCversion(), "cversion of the parent after the failed transaction");
        expectEqual(before.getNumChildren(), after.getNumChildren(), "children of the parent after the failed transaction");
    }
}
