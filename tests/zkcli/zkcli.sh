#!/usr/bin/env bash
# zkcli.sh HOST:PORT — drives Apache ZooKeeper's zkCli.sh against a server
# through scripted sessions ("scenes") and compares the normalised output
# with expected.txt, which is ZooKeeper 3.8.0's own answer to the same script
# (regenerate it with `go test ./tests -run TestZkCliTranscript -update`).
#
# Normalisation removes log noise, connection banners and session events
# (blank lines that remain are shown as <empty>),
# replaces ctime/mtime with <time> and non-zero ephemeralOwner values with
# <session>, and shows zxids relative to the first cZxid printed (the czxid
# of /zkcli), so only behaviour is compared.
#
# Environment:
#   ZKCLI          zkCli.sh to run (default /usr/share/zookeeper/bin/zkCli.sh)
#   ZKCLI_EXPECTED transcript to compare with (default: expected.txt here)
#   ZKCLI_UPDATE=1 write the transcript to ZKCLI_EXPECTED instead of comparing
#   ZKCLI_TIMEOUT  seconds allowed per zkCli session (default 60)
#   ZKCLI_RAW      also copy the raw, unnormalised output to this file
#
# Exit status: 0 when the transcript matches, 1 on a difference (a unified
# diff is printed), 2 on a usage or environment problem.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:-}"
if [[ -z "$server" || "$server" != *:* ]]; then
	echo "usage: $0 HOST:PORT" >&2
	exit 2
fi
zkcli="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
expected="${ZKCLI_EXPECTED:-$here/expected.txt}"
per_session="${ZKCLI_TIMEOUT:-60}"
if [[ ! -x "$zkcli" ]]; then
	echo "zkcli.sh: $zkcli not found: run \`apt-get install zookeeper\`" >&2
	exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# digest of bob:pw-bob, as zkCli's digest ACL syntax wants it.
bob_digest='bob:BTRNYL8KcNNgC4a+msxZF+R1b34='

# scene NAME: reads zkCli commands on stdin, runs them in one session and
# appends a header plus the raw output to $work/raw.
scene() {
	local name="$1"
	{
		echo "### scene: $name"
		# zkCli prints replies on stdout and errors on stderr from the same
		# thread, with autoflush, so merging them keeps their order.
		timeout --kill-after=5 "$per_session" "$zkcli" -server "$server" 2>&1 ||
			echo "!!! zkCli exited with status $?"
	} >>"$work/raw"
}

scene "create, read and update" <<'EOF'
create /zkcli
stat /zkcli
create /zkcli/a hello
create /zkcli/a again
create /zkcli/missing/x y
ls /zkcli
ls -s /zkcli
get /zkcli/a
get -s /zkcli/a
set /zkcli/a world
set -s /zkcli/a world2
set -v 0 /zkcli/a stale
set -v 2 /zkcli/a fresh
get -s /zkcli/a
stat /zkcli/a
stat /zkcli/nosuch
get /zkcli/nosuch
ls /zkcli/nosuch
set /zkcli/nosuch x
quit
EOF

scene "node kinds" <<'EOF'
create -s /zkcli/seq- one
create -s /zkcli/seq- two
create -e /zkcli/eph temp
create -e /zkcli/eph/child x
create -s -e /zkcli/eseq- x
create -c /zkcli/cont
create /zkcli/cont/kid k
create -t 1000 /zkcli/ttl x
getEphemerals /zkcli
getAllChildrenNumber /zkcli
ls -R /zkcli
stat /zkcli/eph
sync /zkcli
whoami
get /zookeeper/config
get /zookeeper
get /zkcli
get /
ls /zookeeper
quit
EOF

scene "delete and deleteall" <<'EOF'
ls /zkcli
delete -v 0 /zkcli/a
delete /zkcli/cont
delete /zkcli/nosuch
deleteall /zkcli/cont
create /zkcli/tree
create /zkcli/tree/x
create /zkcli/tree/x/y
create /zkcli/tree/z
getAllChildrenNumber /zkcli/tree
deleteall /zkcli/tree
stat /zkcli/tree
delete -v 3 /zkcli/a
ls -s /zkcli
delete /zookeeper
delete /
quit
EOF

scene "ACLs and auth" <<EOF
create /zkcli/open o
getAcl /zkcli/open
setAcl /zkcli/open world:anyone:r
getAcl -s /zkcli/open
set /zkcli/open x
setAcl /zkcli/open world:anyone:cdrwa
create /zkcli/noauth n auth::cdrwa
addauth digest alice:secret
create /zkcli/secret s auth::cdrwa
getAcl /zkcli/secret
get /zkcli/secret
create /zkcli/bob b digest:${bob_digest}:cdrwa
get /zkcli/bob
getAcl /zkcli/bob
create /zkcli/mixed m digest:${bob_digest}:r,world:anyone:r
getAcl /zkcli/mixed
setAcl -v 7 /zkcli/mixed world:anyone:cdrwa
create /zkcli/rec r
create /zkcli/rec/a a
create /zkcli/rec/a/b b
setAcl -R /zkcli/rec world:anyone:rwa
getAcl /zkcli/rec/a/b
create /zkcli/rec/c c
create /zkcli/bad b world:someone:r
create /zkcli/bad b digest:nocolon:r
create /zkcli/bad b ip:127.0.0.1:cdrwa
getAcl /zkcli/bad
whoami
quit
EOF

scene "ACLs seen by other sessions" <<'EOF'
get /zkcli/secret
getAcl /zkcli/secret
ls /zkcli/secret
set /zkcli/secret x
addauth digest alice:wrong
get /zkcli/secret
addauth digest bob:pw-bob
get /zkcli/bob
getAcl /zkcli/bob
getAcl /zkcli/mixed
addauth digest alice:secret
get /zkcli/secret
set -s /zkcli/secret changed
setAcl /zkcli/secret world:anyone:cdrwa
getAcl -s /zkcli/secret
delete /zkcli/secret
whoami
quit
EOF

scene "clean up" <<'EOF'
addauth digest bob:pw-bob
setAcl -R /zkcli/rec world:anyone:cdrwa
deleteall /zkcli
stat /zkcli
ls /
quit
EOF

# Normalise: drop noise, mask times and sessions, relativise zxids, and
# sort what ZooKeeper prints in Java hash order (ls and getEphemerals lists,
# whoami identities), which is no contract.
/usr/bin/python3 - "$work/raw" "$work/actual" <<'PY'
import re, sys

noise = [re.compile(p) for p in (
    r"^SLF4J:", r"^Connecting to ", r"^Welcome to ZooKeeper!", r"^JLine support is ",
    r"^WATCHER::", r"^WatchedEvent state:\w+ type:None path:null",
    r"^\d{4}-\d\d-\d\d[ T][\d:,.]+ ", r"^\[[^]]+\] (TRACE|DEBUG|INFO|WARN|ERROR) ")]
raw = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
# A watcher block is "", "WATCHER::", "", "WatchedEvent ...": drop its two
# blank lines. Other blank lines are real output (e.g. get of empty data).
drop = set()
for i, line in enumerate(raw):
    if line == "WATCHER::":
        for j in (i - 1, i + 1):
            if 0 <= j < len(raw) and raw[j].strip() == "":
                drop.add(j)
out, base, ident = [], None, None
for i, line in enumerate(raw):
    if i in drop or any(p.search(line) for p in noise):
        continue
    if line.strip() == "":
        line = "<empty>"
    m = re.match(r"^(cZxid|mZxid|pZxid) = 0x([0-9a-fA-F]+)$", line)
    if m:
        z = int(m.group(2), 16)
        if base is None and m.group(1) == "cZxid" and z:
            base = z
        line = "%s = %s" % (m.group(1), "0x0" if z == 0 or base is None else "B%+d" % (z - base))
    line = re.sub(r"^(ctime|mtime) = .*", r"\1 = <time>", line)
    line = re.sub(r"^ephemeralOwner = 0x(?!0$)[0-9a-fA-F]+$", "ephemeralOwner = <session>", line)
    m = re.match(r"^\[(.*)\]$", line)
    if m and m.group(1):
        line = "[" + ", ".join(sorted(m.group(1).split(", "))) + "]"
    # whoami: "Auth scheme: User" then one "scheme: user" line per identity.
    if ident is not None and re.match(r"^[\w.-]+: \S", line) and not line.startswith("Auth scheme"):
        ident.append(line)
        continue
    if ident is not None:
        out.extend(sorted(ident))
        ident = None
    out.append(line)
    if line == "Auth scheme: User":
        ident = []
if ident is not None:
    out.extend(sorted(ident))
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n")
PY

if [[ -n "${ZKCLI_RAW:-}" ]]; then
	cp "$work/raw" "$ZKCLI_RAW"
fi
if [[ "${ZKCLI_UPDATE:-}" == 1 ]]; then
	cp "$work/actual" "$expected"
	echo "zkcli.sh: wrote $(wc -l <"$expected") lines to $expected"
	exit 0
fi
if [[ ! -f "$expected" ]]; then
	echo "zkcli.sh: no expected transcript at $expected" >&2
	exit 2
fi
if diff -u --label "expected (ZooKeeper 3.8.0)" --label "actual ($server)" "$expected" "$work/actual"; then
	echo "zkcli.sh: transcript matches ($(grep -c '^### scene' "$expected") scenes, $(wc -l <"$expected") lines)"
	exit 0
fi
echo "zkcli.sh: transcript differs from ZooKeeper's (see diff above)" >&2
exit 1
