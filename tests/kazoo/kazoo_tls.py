#!/usr/bin/python3
"""Kazoo over TLS: the client port of ZooKeeper's secureClientPort kind.

    /usr/bin/python3 tests/kazoo/kazoo_tls.py --hosts 127.0.0.1:2281 \
        --ca ca.crt --certfile client.crt --keyfile client.key \
        --x509-id CN=client,O=zoogate --no-cert served|refused

Checks, each asserting real results:
  1. a client with a certificate (use_ssl=True) creates and reads a node;
  2. it creates a node whose only ACL is x509:<its subject DN> and reads it;
  3. a client without a certificate: with --no-cert served (zoogate) it is
     connected and gets NoAuth on that node; with --no-cert refused (Apache
     ZooKeeper's ssl.clientAuth=need) it cannot connect at all.
The last line is "N passed, M failed"; exit status 1 if anything failed,
2 if kazoo is missing.
"""

import argparse
import sys
import uuid

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoAuthError
    from kazoo.security import ACL, Id, Permissions
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write("kazoo is missing (%s): run `apt-get install python3-kazoo` and use /usr/bin/python3\n" % e)
    sys.exit(2)


def client(args, with_cert):
    kw = dict(hosts=args.hosts, timeout=10.0, use_ssl=True, ca=args.ca, verify_certs=True,
              connection_retry=dict(max_tries=2, delay=0.2, max_delay=0.5))
    if with_cert:
        kw.update(certfile=args.certfile, keyfile=args.keyfile)
    return KazooClient(**kw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--certfile", required=True)
    p.add_argument("--keyfile", required=True)
    p.add_argument("--x509-id", required=True)
    p.add_argument("--no-cert", choices=["served", "refused"], required=True)
    args = p.parse_args()
    root = "/kazoo-tls-" + uuid.uuid4().hex[:8]
    passed = failed = 0

    def report(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   " + name)
        else:
            failed += 1
            print("FAIL " + name + ": " + detail)

    zk = client(args, True)
    zk.start(timeout=15)
    try:
        zk.create(root, b"over tls")
        data, _ = zk.get(root)
        report("create and get over TLS", data == b"over tls", repr(data))

        mine = ACL(Permissions.ALL, Id("x509", args.x509_id))
        zk.create(root + "/x509", b"secret", acl=[mine])
        data, _ = zk.get(root + "/x509")
        acl, _ = zk.get_acls(root + "/x509")
        report("x509 ACL admits the certificate's subject",
               data == b"secret" and len(acl) == 1 and acl[0].id.scheme == "x509" and acl[0].id.id == args.x509_id,
               "data %r acl %r" % (data, acl))

        anon = client(args, False)
        try:
            anon.start(timeout=8)
            connected = True
        except Exception as e:  # KazooTimeoutError, or an SSL error
            connected = False
            err = e
        if args.no_cert == "served":
            if not connected:
                report("client without a certificate is served", False, repr(err))
            else:
                try:
                    anon.get(root + "/x509")
                    report("client without a certificate gets NoAuth", False, "read succeeded")
                except NoAuthError:
                    report("client without a certificate gets NoAuth", True)
                data, _ = anon.get(root)
                report("client without a certificate reads open nodes", data == b"over tls", repr(data))
        else:
            report("client without a certificate is refused", not connected, "it connected")
        try:
            anon.stop()
            anon.close()
        except Exception:
            pass
        zk.delete(root, recursive=True)
    finally:
        zk.stop()
        zk.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
