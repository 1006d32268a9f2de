package server

import (
	"errors"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zoogate/zoogate/core/acl"
	"github.com/zoogate/zoogate/core/jute"
	"github.com/zoogate/zoogate/core/proto"
)

func TestDigestACLAndAuth(t *testing.T) {
	s := startServer(t, func(c *Config) { c.SuperDigest = acl.DigestOf("super:admin") })
	owner, _ := connect(t, s)
	if err := owner.AddAuth("digest", []byte("user:password")); err != nil {
		t.Fatal(err)
	}
	// The auth scheme expands to the caller's digest identity.
	if _, err := owner.Create("/secret", []byte("s"), 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	list, _, err := owner.GetACL("/secret")
	if err != nil || len(list) != 1 || list[0].Scheme != "digest" || list[0].ID != "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=" {
		t.Fatalf("ACL after auth expansion: %+v %v", list, err)
	}
	stranger, _ := connect(t, s)
	if _, _, err := stranger.Get("/secret"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("stranger read: %v", err)
	}
	if _, err := stranger.Set("/secret", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("stranger write: %v", err)
	}
	// auth with no authenticated identity is an invalid ACL.
	if _, err := stranger.Create("/x", nil, 0, zk.AuthACL(zk.PermAll)); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("auth ACL without auth: %v", err)
	}
	if _, err := stranger.Create("/x", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "bogus", ID: "x"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("unknown scheme: %v", err)
	}
	if _, err := stranger.Create("/x", nil, 0, nil); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("empty ACL: %v", err)
	}
	// The super digest bypasses every check.
	admin, _ := connect(t, s)
	if err := admin.AddAuth("digest", []byte("super:admin")); err != nil {
		t.Fatal(err)
	}
	if data, _, err := admin.Get("/secret"); err != nil || string(data) != "s" {
		t.Fatalf("super read: %q %v", data, err)
	}
	if _, err := admin.SetACL("/secret", zk.WorldACL(zk.PermRead|zk.PermAdmin), 0); err != nil {
		t.Fatalf("super setACL: %v", err)
	}
	if _, err := admin.SetACL("/secret", zk.WorldACL(zk.PermAll), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("setACL checks aversion: %v", err)
	}
	if data, _, err := stranger.Get("/secret"); err != nil || string(data) != "s" {
		t.Fatalf("read after opening the ACL: %q %v", data, err)
	}
	_, st, _ := stranger.Get("/secret")
	if st.Aversion != 1 {
		t.Fatalf("aversion %d", st.Aversion)
	}
}

func TestGetACLMasksDigestsWithoutAdmin(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	acls := append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, "user", "password")...)
	if _, err := c.Create("/masked", nil, 0, acls); err != nil {
		t.Fatal(err)
	}
	list, _, err := c.GetACL("/masked")
	if err != nil || len(list) != 2 || list[1].ID != "user:x" {
		t.Fatalf("masked ACL: %+v %v", list, err)
	}
}

func TestIPACL(t *testing.T) {
	s := startServer(t, nil)
	c, _ := connect(t, s)
	if _, err := c.Create("/lo", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/lo/ok", nil, 0, open); err != nil {
		t.Fatalf("loopback client within 127.0.0.0/8: %v", err)
	}
	if _, err := c.Create("/far", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.1.2.3"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/far"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("non-matching ip: %v", err)
	}
	if _, err := c.Create("/bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/33"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("bad CIDR: %v", err)
	}
}

func TestFailedAuthClosesConnection(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	h, _ := r.call(proto.OpAuth, func(e *jute.Encoder) { e.Int(0); e.String("kerberos"); e.Buffer([]byte("x")) })
	if h.Err != proto.CodeAuthFailed || h.Zxid != 0 {
		t.Fatalf("auth with unknown scheme: %+v", h)
	}
	r.expectClosed()
	// Everyone else is still served.
	c, _ := connect(t, s)
	if _, err := c.Create("/still", nil, 0, open); err != nil {
		t.Fatal(err)
	}
}

func TestWhoAmI(t *testing.T) {
	s := startServer(t, nil)
	r := dialRaw(t, s)
	r.handshake(0, nil, true)
	r.call(proto.OpAuth, func(e *jute.Encoder) { e.Int(0); e.String("digest"); e.Buffer([]byte("user:password")) })
	h, d := r.call(proto.OpWhoAmI, nil)
	if h.Err != 0 {
		t.Fatal(h.Err)
	}
	n := d.VectorLen("n", 8)
	got := map[string]string{}
	for i := 0; i < n; i++ {
		scheme := d.String("scheme")
		got[scheme] = d.String("id")
	}
	if got["ip"] != "127.0.0.1" || got["digest"] != "user" {
		t.Fatalf("whoAmI: %+v", got)
	}
}

func TestWatchEventsFilteredByReadACL(t *testing.T) {
	s := startServer(t, nil)
	owner, _ := connect(t, s)
	owner.AddAuth("digest", []byte("user:password"))
	watcher, _ := connect(t, s)
	if _, err := owner.Create("/f", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := watcher.GetW("/f")
	if err != nil {
		t.Fatal(err)
	}
	// The ACL changes so the watcher may no longer read: the event is withheld.
	if _, err := owner.SetACL("/f", zk.DigestACL(zk.PermAll, "user", "password"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Set("/f", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	// A later event on a readable node proves the connection is alive and
	// ordered after the withheld one.
	if _, err := owner.Create("/g", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	_, _, ch2, _ := watcher.GetW("/g")
	owner.Set("/g", nil, -1)
	if ev := recvEvent(t, ch2); ev.Path != "/g" {
		t.Fatalf("unexpected event %+v", ev)
	}
	// go-zk dispatches events in arrival order, so a /f event would be queued by now.
	select {
	case ev := <-ch:
		t.Fatalf("event delivered to a session without READ: %+v", ev)
	default:
	}
}
