/*
 * zkcheck drives Apache ZooKeeper's C client (libzookeeper_mt) against a
 * ZooKeeper-compatible server: create, get, watches that fire for another
 * session's changes, multi (one that commits, one that fails and changes
 * nothing), an ephemeral node that goes with zookeeper_close, and digest
 * ACLs (an unauthenticated client gets ZNOAUTH). It prints "PASS name" or
 * "FAIL name: why" for each check, then "N passed, M failed", and exits 1
 * if any check failed.
 *
 * Usage: zkcheck HOSTS   (a connect string: host:port[,host:port...])
 *
 * tests/cclient_test.go builds it with `cc zkcheck.c -lzookeeper_mt` and
 * runs it against Apache ZooKeeper (so every expectation here is
 * ZooKeeper's real behaviour), a 3-voter zoogate cluster and an observer.
 */
/* The synchronous API (zoo_get, zoo_multi, ...) of libzookeeper_mt. */
#define THREADED

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#define WAIT_SECONDS 10 /* how long one answer or one event is waited for */
#define ROOT "/cclient"

static const char *hosts;
static int passed, failed;
static char why[1024]; /* the failure of the running check */

/* EXPECT fails the running check with a message when cond is false. */
#define EXPECT(cond, ...)                                                    \
	do {                                                                     \
		if (!(cond)) {                                                       \
			snprintf(why, sizeof why, __VA_ARGS__);                          \
			return 0;                                                        \
		}                                                                    \
	} while (0)

/* EXPECT_RC fails the running check unless the call returned want. */
#define EXPECT_RC(want, call, what)                                          \
	do {                                                                     \
		int rc_ = (call);                                                    \
		EXPECT(rc_ == (want), "%s: %s (%d), want %s (%d)", (what),           \
		       zerror(rc_), rc_, zerror(want), (want));                      \
	} while (0)

static void check(const char *name, int (*fn)(void)) {
	why[0] = 0;
	if (fn()) {
		passed++;
		printf("PASS %s\n", name);
	} else {
		failed++;
		printf("FAIL %s: %s\n", name, why);
	}
	fflush(stdout);
}

static struct timespec deadline(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_SECONDS;
	return ts;
}

/* ---- events: a watcher appends, a check waits for the next one ---- */

#define MAX_EVENTS 64

struct event {
	int type, state;
	char path[256];
};

struct inbox {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct event ev[MAX_EVENTS];
	int head, tail;
};

static void inbox_init(struct inbox *in) {
	memset(in, 0, sizeof *in);
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cond, NULL);
}

/* to_inbox is a watcher_fn whose context is a struct inbox. */
static void to_inbox(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
	(void)zh;
	struct inbox *in = ctx;
	pthread_mutex_lock(&in->mu);
	if (in->tail - in->head < MAX_EVENTS) {
		struct event *e = &in->ev[in->tail % MAX_EVENTS];
		e->type = type;
		e->state = state;
		snprintf(e->path, sizeof e->path, "%s", path ? path : "");
		in->tail++;
	}
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->mu);
}

/* next_event takes the next event of in, waiting up to WAIT_SECONDS;
 * 0 if none came. */
static int next_event(struct inbox *in, struct event *out) {
	struct timespec until = deadline();
	int ok = 0;
	pthread_mutex_lock(&in->mu);
	while (in->head == in->tail) {
		if (pthread_cond_timedwait(&in->cond, &in->mu, &until) == ETIMEDOUT)
			break;
	}
	if (in->head != in->tail) {
		*out = in->ev[in->head % MAX_EVENTS];
		in->head++;
		ok = 1;
	}
	pthread_mutex_unlock(&in->mu);
	return ok;
}

static const char *event_name(int type) {
	if (type == ZOO_CREATED_EVENT) return "created";
	if (type == ZOO_DELETED_EVENT) return "deleted";
	if (type == ZOO_CHANGED_EVENT) return "changed";
	if (type == ZOO_CHILD_EVENT) return "child";
	if (type == ZOO_SESSION_EVENT) return "session";
	return "other";
}

/* ---- completions: one answer of an asynchronous call ---- */

struct answer {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int done, rc;
};

static void answer_init(struct answer *a) {
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, NULL);
}

static void answered(struct answer *a, int rc) {
	pthread_mutex_lock(&a->mu);
	a->done = 1;
	a->rc = rc;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

static void void_done(int rc, const void *data) { answered((struct answer *)data, rc); }

static void string_done(int rc, const char *value, const void *data) {
	(void)value;
	answered((struct answer *)data, rc);
}

/* await returns the answer's rc, or ZOPERATIONTIMEOUT after WAIT_SECONDS. */
static int await(struct answer *a) {
	struct timespec until = deadline();
	pthread_mutex_lock(&a->mu);
	while (!a->done) {
		if (pthread_cond_timedwait(&a->cond, &a->mu, &until) == ETIMEDOUT)
			break;
	}
	int rc = a->done ? a->rc : ZOPERATIONTIMEOUT;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* sync_path brings zh's server up to date with the leader for path
 * (zoo_async is the C client's sync). */
static int sync_path(zhandle_t *zh, const char *path) {
	struct answer a;
	answer_init(&a);
	int rc = zoo_async(zh, path, string_done, &a);
	return rc == ZOK ? await(&a) : rc;
}

/* add_auth adds a digest identity to zh and waits for the server's answer. */
static int add_auth(zhandle_t *zh, const char *user_pass) {
	struct answer a;
	answer_init(&a);
	int rc = zoo_add_auth(zh, "digest", user_pass, (int)strlen(user_pass), void_done, &a);
	return rc == ZOK ? await(&a) : rc;
}

/* ---- sessions ---- */

struct session {
	zhandle_t *zh;
	struct inbox events; /* session events of the global watcher */
};

static struct session sa, sb, sc; /* a and b: both sides of a change; c: never authenticated */

/* connect_session opens a session and waits until it is connected. */
static int connect_session(struct session *s) {
	inbox_init(&s->events);
	s->zh = zookeeper_init(hosts, to_inbox, 10000, NULL, &s->events, 0);
	EXPECT(s->zh != NULL, "zookeeper_init(%s): %s", hosts, strerror(errno));
	struct event e;
	while (zoo_state(s->zh) != ZOO_CONNECTED_STATE) {
		EXPECT(next_event(&s->events, &e), "no session to %s within %ds (state %d)", hosts,
		       WAIT_SECONDS, zoo_state(s->zh));
	}
	return 1;
}

static long long session_id(zhandle_t *zh) { return (long long)zoo_client_id(zh)->client_id; }

/* ---- checks ---- */

static int check_connect(void) {
	if (!connect_session(&sa) || !connect_session(&sb) || !connect_session(&sc))
		return 0;
	EXPECT(session_id(sa.zh) != session_id(sb.zh) && session_id(sb.zh) != session_id(sc.zh),
	       "two handles share session 0x%llx", session_id(sb.zh));
	return 1;
}

/* create: a node with data, the path given back, NODEEXISTS the second
 * time, and a sequential node numbered by its parent's cversion. */
static int check_create(void) {
	char buf[256];
	EXPECT_RC(ZOK, zoo_create(sa.zh, ROOT, "root", 4, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf),
	          "create " ROOT);
	EXPECT(strcmp(buf, ROOT) == 0, "create returned path %s", buf);
	EXPECT_RC(ZOK, zoo_create(sa.zh, ROOT "/node", "hello", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf),
	          "create " ROOT "/node");
	EXPECT_RC(ZNODEEXISTS, zoo_create(sa.zh, ROOT "/node", "again", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf),
	          "create " ROOT "/node again");
	EXPECT_RC(ZNONODE, zoo_create(sa.zh, ROOT "/missing/child", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf),
	          "create under a missing parent");
	struct Stat parent;
	EXPECT_RC(ZOK, zoo_exists(sa.zh, ROOT, 0, &parent), "exists " ROOT);
	char want[256];
	snprintf(want, sizeof want, ROOT "/seq-%010d", parent.cversion);
	EXPECT_RC(ZOK, zoo_create(sa.zh, ROOT "/seq-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, buf, sizeof buf),
	          "create sequential");
	EXPECT(strcmp(buf, want) == 0, "sequential node %s, want %s", buf, want);
	return 1;
}

/* get: data and stat as written, from another session; NONODE for a
 * missing node. */
static int check_get(void) {
	char buf[64];
	int len = sizeof buf;
	struct Stat st;
	EXPECT_RC(ZOK, sync_path(sb.zh, ROOT "/node"), "sync");
	EXPECT_RC(ZOK, zoo_get(sb.zh, ROOT "/node", 0, buf, &len, &st), "get " ROOT "/node");
	EXPECT(len == 5 && memcmp(buf, "hello", 5) == 0, "data %.*s, want hello", len, buf);
	EXPECT(st.version == 0 && st.dataLength == 5 && st.numChildren == 0 && st.ephemeralOwner == 0,
	       "stat version %d dataLength %d numChildren %d ephemeralOwner 0x%llx", st.version, st.dataLength,
	       st.numChildren, (long long)st.ephemeralOwner);
	EXPECT(st.czxid == st.mzxid && st.czxid == st.pzxid && st.czxid > 0, "czxid %lld mzxid %lld pzxid %lld",
	       (long long)st.czxid, (long long)st.mzxid, (long long)st.pzxid);
	len = sizeof buf;
	EXPECT_RC(ZNONODE, zoo_get(sb.zh, ROOT "/nothing", 0, buf, &len, &st), "get a missing node");
	return 1;
}

/* expect_event waits for one event of type on path in in. */
static int expect_event(struct inbox *in, int type, const char *path) {
	struct event e;
	EXPECT(next_event(in, &e), "no %s event for %s within %ds", event_name(type), path, WAIT_SECONDS);
	EXPECT(e.type == type && strcmp(e.path, path) == 0, "event %s on %s, want %s on %s", event_name(e.type),
	       e.path, event_name(type), path);
	return 1;
}

/* watch: a's data, child and exists watches fire for b's setData, create
 * and create, each once and with its path. */
static int check_watch(void) {
	struct inbox in;
	inbox_init(&in);
	char buf[64];
	int len = sizeof buf;
	struct Stat st;
	struct String_vector kids;
	EXPECT_RC(ZOK, zoo_wget(sa.zh, ROOT "/node", to_inbox, &in, buf, &len, &st), "wget");
	EXPECT_RC(ZOK, zoo_set(sb.zh, ROOT "/node", "world", 5, 0), "set from the other session");
	if (!expect_event(&in, ZOO_CHANGED_EVENT, ROOT "/node"))
		return 0;
	EXPECT_RC(ZOK, zoo_wget_children(sa.zh, ROOT, to_inbox, &in, &kids), "wget_children");
	deallocate_String_vector(&kids);
	EXPECT_RC(ZNONODE, zoo_wexists(sa.zh, ROOT "/later", to_inbox, &in, &st), "wexists on a missing node");
	EXPECT_RC(ZOK, zoo_create(sb.zh, ROOT "/later", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
	          "create from the other session");
	/* The exists watch (on the node) fires before the child watch (on
	 * its parent), as ZooKeeper sends them. */
	if (!expect_event(&in, ZOO_CREATED_EVENT, ROOT "/later") || !expect_event(&in, ZOO_CHILD_EVENT, ROOT))
		return 0;
	/* One-shot: after a second change and a round trip behind it, no
	 * more events came. */
	EXPECT_RC(ZOK, zoo_set(sb.zh, ROOT "/node", "again", 5, 1), "second set");
	EXPECT_RC(ZOK, sync_path(sa.zh, ROOT "/node"), "sync");
	EXPECT_RC(ZOK, zoo_exists(sa.zh, ROOT "/node", 0, &st), "exists");
	EXPECT(st.version == 2, "version %d after two sets, want 2", st.version);
	pthread_mutex_lock(&in.mu);
	int extra = in.tail - in.head;
	pthread_mutex_unlock(&in.mu);
	EXPECT(extra == 0, "%d more events after the watches fired once", extra);
	return 1;
}

/* multi: create, create, set and check commit together; a multi whose
 * last op fails (set at a wrong version) returns that op's error, ZOK for
 * the ops before it, and changes nothing. */
static int check_multi(void) {
	zoo_op_t ops[4];
	zoo_op_result_t res[4];
	char p1[64], p2[64];
	struct Stat setStat;
	zoo_create_op_init(&ops[0], ROOT "/m1", "1", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1, sizeof p1);
	zoo_create_op_init(&ops[1], ROOT "/m2", "2", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2, sizeof p2);
	zoo_set_op_init(&ops[2], ROOT "/m1", "x", 1, 0, &setStat);
	zoo_check_op_init(&ops[3], ROOT "/node", 2);
	EXPECT_RC(ZOK, zoo_multi(sa.zh, 4, ops, res), "multi");
	for (int i = 0; i < 4; i++)
		EXPECT(res[i].err == ZOK, "op %d of the committed multi: %s", i, zerror(res[i].err));
	EXPECT(strcmp(p1, ROOT "/m1") == 0 && strcmp(p2, ROOT "/m2") == 0, "created %s and %s", p1, p2);
	EXPECT(setStat.version == 1 && setStat.czxid == setStat.mzxid, "set stat: version %d czxid %lld mzxid %lld",
	       setStat.version, (long long)setStat.czxid, (long long)setStat.mzxid);

	struct Stat before, after;
	EXPECT_RC(ZOK, zoo_exists(sa.zh, ROOT, 0, &before), "exists " ROOT);
	char p3[64];
	zoo_create_op_init(&ops[0], ROOT "/m3", "3", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p3, sizeof p3);
	zoo_delete_op_init(&ops[1], ROOT "/m2", -1);
	zoo_set_op_init(&ops[2], ROOT "/m1", "never", 5, 7, NULL);
	EXPECT_RC(ZBADVERSION, zoo_multi(sa.zh, 3, ops, res), "multi with a wrong version");
	EXPECT(res[0].err == ZOK && res[1].err == ZOK && res[2].err == ZBADVERSION,
	       "per-op results %s, %s, %s; want ZOK, ZOK, ZBADVERSION", zerror(res[0].err), zerror(res[1].err),
	       zerror(res[2].err));
	EXPECT_RC(ZNONODE, zoo_exists(sa.zh, ROOT "/m3", 0, NULL), "exists m3 after the failed multi");
	EXPECT_RC(ZOK, zoo_exists(sa.zh, ROOT "/m2", 0, NULL), "exists m2 after the failed multi");
	char buf[16];
	int len = sizeof buf;
	struct Stat st;
	EXPECT_RC(ZOK, zoo_get(sa.zh, ROOT "/m1", 0, buf, &len, &st), "get m1");
	EXPECT(len == 1 && buf[0] == 'x' && st.version == 1, "m1 is %.*s version %d, want x version 1", len, buf,
	       st.version);
	EXPECT_RC(ZOK, zoo_exists(sa.zh, ROOT, 0, &after), "exists " ROOT);
	EXPECT(before.cversion == after.cversion && before.numChildren == after.numChildren &&
	           before.pzxid == after.pzxid,
	       "parent changed by the failed multi: cversion %d->%d children %d->%d", before.cversion,
	       after.cversion, before.numChildren, after.numChildren);
	return 1;
}

/* ephemeral: a node of a new session d, owned by it, seen by a; after
 * zookeeper_close(d) it is gone and a's exists watch fired. */
static int check_ephemeral(void) {
	struct session sd;
	if (!connect_session(&sd))
		return 0;
	long long owner = session_id(sd.zh);
	int rc = zoo_create(sd.zh, ROOT "/eph", "mine", 4, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
	if (rc != ZOK)
		zookeeper_close(sd.zh);
	EXPECT(rc == ZOK, "create ephemeral: %s", zerror(rc));
	struct inbox in;
	inbox_init(&in);
	struct Stat st;
	if ((rc = sync_path(sa.zh, ROOT "/eph")) == ZOK)
		rc = zoo_wexists(sa.zh, ROOT "/eph", to_inbox, &in, &st);
	if (rc != ZOK)
		zookeeper_close(sd.zh);
	EXPECT(rc == ZOK, "the other session does not see the ephemeral: %s", zerror(rc));
	if (st.ephemeralOwner != owner)
		zookeeper_close(sd.zh);
	EXPECT(st.ephemeralOwner == owner, "ephemeralOwner 0x%llx, want 0x%llx", (long long)st.ephemeralOwner, owner);
	EXPECT_RC(ZOK, zookeeper_close(sd.zh), "zookeeper_close");
	if (!expect_event(&in, ZOO_DELETED_EVENT, ROOT "/eph"))
		return 0;
	EXPECT_RC(ZOK, sync_path(sa.zh, ROOT "/eph"), "sync");
	EXPECT_RC(ZNONODE, zoo_exists(sa.zh, ROOT "/eph", 0, NULL), "exists after zookeeper_close");
	return 1;
}

/* acl: a node created by a digest identity with the creator's ACL is
 * readable and writable by it, ZNOAUTH for get and set to an
 * unauthenticated session or one with a wrong password, readable once that
 * session adds the right identity; an unauthenticated session cannot use
 * the creator's ACL at all (ZINVALIDACL). */
static int check_acl(void) {
	EXPECT_RC(ZOK, add_auth(sa.zh, "cuser:cpass"), "add_auth");
	EXPECT_RC(ZOK, zoo_create(sa.zh, ROOT "/secret", "s3cret", 6, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0),
	          "create with the creator's ACL");
	struct ACL_vector acl;
	struct Stat st;
	EXPECT_RC(ZOK, zoo_get_acl(sa.zh, ROOT "/secret", &acl, &st), "get_acl");
	int ok = acl.count == 1 && strcmp(acl.data[0].id.scheme, "digest") == 0 &&
	         strncmp(acl.data[0].id.id, "cuser:", 6) == 0 && acl.data[0].perms == ZOO_PERM_ALL;
	deallocate_ACL_vector(&acl);
	EXPECT(ok, "the node's ACL is not one digest cuser entry with every permission");
	char buf[64];
	int len = sizeof buf;
	EXPECT_RC(ZOK, zoo_get(sa.zh, ROOT "/secret", 0, buf, &len, &st), "get by the creator");
	EXPECT(len == 6 && memcmp(buf, "s3cret", 6) == 0, "creator read %.*s", len, buf);

	EXPECT_RC(ZOK, sync_path(sc.zh, ROOT "/secret"), "sync");
	len = sizeof buf;
	EXPECT_RC(ZNOAUTH, zoo_get(sc.zh, ROOT "/secret", 0, buf, &len, &st), "get unauthenticated");
	EXPECT_RC(ZNOAUTH, zoo_set(sc.zh, ROOT "/secret", "x", 1, -1), "set unauthenticated");
	/* No exists here: it needs READ since ZooKeeper 3.8.4/3.9.2
	 * (ZOOKEEPER-2590), as on zoogate, but not on the 3.8.0 reference. */
	EXPECT_RC(ZINVALIDACL, zoo_create(sc.zh, ROOT "/mine", "", 0, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0),
	          "create with the creator's ACL unauthenticated");

	EXPECT_RC(ZOK, add_auth(sc.zh, "cuser:wrong"), "add_auth with a wrong password");
	len = sizeof buf;
	EXPECT_RC(ZNOAUTH, zoo_get(sc.zh, ROOT "/secret", 0, buf, &len, &st), "get with a wrong password");
	EXPECT_RC(ZOK, add_auth(sc.zh, "cuser:cpass"), "add_auth with the right password");
	len = sizeof buf;
	EXPECT_RC(ZOK, zoo_get(sc.zh, ROOT "/secret", 0, buf, &len, &st), "get with the right password");
	return 1;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: zkcheck HOSTS\n");
		return 2;
	}
	hosts = argv[1];
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	check("connect", check_connect);
	if (failed == 0) {
		check("create", check_create);
		check("get", check_get);
		check("watch", check_watch);
		check("multi", check_multi);
		check("ephemeral", check_ephemeral);
		check("acl", check_acl);
	}
	struct session *all[] = {&sa, &sb, &sc};
	for (int i = 0; i < 3; i++)
		if (all[i]->zh != NULL)
			zookeeper_close(all[i]->zh);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
