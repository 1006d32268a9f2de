#!/usr/bin/env bash
# scripts/bench-wan.sh [--quick] [--out FILE] [--keep]
#
# The WAN benchmark: a primary site of 3 voters and one remote site, on this
# machine, with the remote site behind `zoogate bench wanproxy` (a
# user-space WAN: 40 ms one-way delay each way, byte counters, cut/heal).
# Apache ZooKeeper 3.8 gets observers whose quorum and election addresses
# for the voters are the proxy's (a TCP proxy); zoogate gets a relay whose
# WAN addresses for the voters are the proxy's (UDP: QUIC) and observers
# that follow the relay over the site's LAN. Both run the same `zoogate
# bench wan` measurements (see cmd/zoogate/bench/wan.go) and the same read
# cell, and the report (default docs/benchmarks-wan.md) gives the ratios.
#
#   --quick   fewer writes and a 10 s cut (a smoke test of the harness)
#   --out F   where to write the report
#   --keep    keep the work directory (data dirs, logs, raw JSON)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/bench/lib.sh

QUICK=0
OUT=docs/benchmarks-wan.md
KEEP=0
ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --out=*) OUT=${1#--out=} ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-wan.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

DELAY=40ms
RATE=200
TICK_MS=2000
if [ "$QUICK" = 1 ]; then
  WRITES=600; CUT=10s; READ_TIME=2s; REMOTE_WRITE_TIME=3s; SESSION_TIME=1s
else
  WRITES=3000; CUT=30s; READ_TIME=5s; REMOTE_WRITE_TIME=10s; SESSION_TIME=3s
fi

say() { printf '[bench-wan %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! command -v java >/dev/null 2>&1 || [ ! -f "$ZK_JAR" ]; then
  echo "bench-wan.sh: Apache ZooKeeper is not installed (need java and $ZK_JAR)." >&2
  echo "              Install it with: sudo apt-get install zookeeper" >&2
  exit 1
fi
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

mkdir -p "$ROOT/tmp"
WORK=$(mktemp -d "$ROOT/tmp/bench-wan.XXXXXX")
MANIFEST="$WORK/manifest.tsv"
: > "$MANIFEST"
declare -a SYSDIRS=()

cleanup() {
  local d f
  for d in "${SYSDIRS[@]}"; do
    for f in "$d"/nodes/*/pid "$d"/proxy/pid; do
      [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
  done
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { local IFS=$'\t'; echo "$*" >> "$MANIFEST"; }
meta() { record meta "$1" "$2"; }
oneline() { tr '\n\t' '  ' | sed "s|$WORK/||g; s/  */ /g; s/^ //; s/ \$//" | cut -c1-400; }

BIN="$ROOT/bin/zoogate"
say "building bin/zoogate"
go build -o "$BIN" ./cmd/zoogate
go build -o "$WORK/render" ./scripts/bench/renderwan
BENCH=("$BIN" bench)

meta command "scripts/bench-wan.sh${ARGS:+ $ARGS}"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta cpu "$(nproc) × $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
meta "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg)"
meta "Apache ZooKeeper" "$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo unknown) (Debian package), $(java -version 2>&1 | head -1), -Xmx$ZK_HEAP"
ZG_REV="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- cmd core storage topology bridge wan 2>/dev/null || ZG_REV+=" plus uncommitted changes"
meta zoogate "$ZG_REV, built with $(go version | cut -d' ' -f3)"
meta settings "tickTime ${TICK_MS} ms, initLimit 10, syncLimit 5 for both; fsync on every commit; WAN: \`zoogate bench wanproxy --delay $DELAY\` (one-way, each direction) between the remote site and the voters; writes of 100 B at $RATE/s by one session on the leader; $WRITES writes per staleness run."

# ---- the proxy ----------------------------------------------------------
# proxy_start SYSDIR ARGS...: starts the wanproxy with a fresh control port.
proxy_start() {
  local sys=$1; shift
  mkdir -p "$sys/proxy"
  echo "127.0.0.1:$(free_port)" > "$sys/proxy/control"
  write_start "$sys/proxy" "$BIN" bench wanproxy --delay "$DELAY" --control "$(cat "$sys/proxy/control")" "$@"
  "$sys/proxy/start"
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$(cut -d: -f2 "$sys/proxy/control")") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-wan.sh: the proxy did not start: $(cat "$sys/proxy/server.log")" >&2
  return 1
}

# ---- Apache ZooKeeper: 3 voters, NOBS observers behind the proxy -----------
zk_wan_setup() {
  local sys=$1 nobs=$2 id dir cport n=$((3 + nobs)) proxyargs=()
  declare -A peer elect ppeer pelect
  for id in $(seq 1 "$n"); do peer[$id]=$(free_port); elect[$id]=$(free_port); done
  for id in 1 2 3; do
    ppeer[$id]=$(free_port); pelect[$id]=$(free_port)
    proxyargs+=(--tcp "127.0.0.1:${ppeer[$id]}=127.0.0.1:${peer[$id]}" --tcp "127.0.0.1:${pelect[$id]}=127.0.0.1:${elect[$id]}")
  done
  for id in $(seq 1 "$n"); do
    dir="$sys/nodes/$id"; mkdir -p "$dir/data"
    cport=$(free_port)
    echo "127.0.0.1:$cport" > "$dir/client"
    echo "$id" > "$dir/data/myid"
    [ "$id" -gt 3 ] && echo remote > "$dir/site" || echo primary > "$dir/site"
    {
      echo "tickTime=$TICK_MS"; echo "initLimit=10"; echo "syncLimit=5"
      echo "dataDir=$dir/data"; echo "clientPort=$cport"; echo "clientPortAddress=127.0.0.1"
      echo "maxClientCnxns=0"; echo "admin.enableServer=false"; echo "4lw.commands.whitelist=*"
      [ "$id" -gt 3 ] && echo "peerType=observer"
      if [ -n "${ZK_READONLY:-}" ]; then # read-only mode needs local sessions in 3.8
        echo "localSessionsEnabled=true"; echo "localSessionsUpgradingEnabled=true"
      fi
      local o
      for o in 1 2 3; do
        if [ "$id" -gt 3 ]; then # an observer reaches the voters across the WAN
          echo "server.$o=127.0.0.1:${ppeer[$o]}:${pelect[$o]}"
        else
          echo "server.$o=127.0.0.1:${peer[$o]}:${elect[$o]}"
        fi
      done
      for o in $(seq 4 "$n"); do echo "server.$o=127.0.0.1:${peer[$o]}:${elect[$o]}:observer"; done
    } > "$dir/zoo.cfg"
    write_start "$dir" java "-Xmx$ZK_HEAP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -Dzookeeper.jmx.log4j.disable=true ${ZK_READONLY:+-Dreadonlymode.enabled=true} -cp "$ZK_CLASSPATH" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg"
  done
  PROXY_ARGS=("${proxyargs[@]}")
}

# zoogate_voter_lines prints a voter's [[node]] keys of the primary site,
# its WAN address behind the proxy (wan_advertise), and adds the proxy's
# mapping to the caller's proxyargs.
zoogate_voter_lines() {
  local wanp pwan
  wanp=$(free_port); pwan=$(free_port)
  proxyargs+=(--udp "127.0.0.1:$pwan=127.0.0.1:$wanp")
  echo 'site = "primary"'; echo 'role = "voter"'
  echo "peer = \"127.0.0.1:$(free_port)\""; echo "election = \"127.0.0.1:$(free_port)\""
  echo "wan = \"127.0.0.1:$wanp\""; echo "wan_advertise = \"127.0.0.1:$pwan\""
}

# ---- zoogate: 3 voters, a relay and NOBS observers of site "remote" ----------
zoogate_wan_setup() {
  local sys=$1 nobs=$2 id dir cport cfg="$1/zoogate.toml" n=$((4 + nobs)) proxyargs=()
  {
    echo '[cluster]'; echo 'name = "benchwan"'; echo "tick = \"${TICK_MS}ms\""
    echo 'init_limit = 10'; echo 'sync_limit = 5'; echo 'max_client_cnxns = 0'
    echo 'four_letter_words = ["*"]'; echo "tls_ca = \"$sys/tls/ca.crt\""
    echo "local_sessions = ${LOCAL_SESSIONS:-true}"
    echo; echo '[[site]]'; echo 'name = "primary"'; echo 'primary = true'
    echo; echo '[[site]]'; echo 'name = "remote"'
  } > "$cfg"
  for id in $(seq 1 "$n"); do
    dir="$sys/nodes/$id"; mkdir -p "$dir/data"
    cport=$(free_port)
    echo "127.0.0.1:$cport" > "$dir/client"
    {
      echo; echo '[[node]]'; echo "id = $id"
      echo "client = \"127.0.0.1:$cport\""
      echo "data_dir = \"$dir/data\""; echo 'log_level = "warn"'
      if [ "$id" -le 3 ]; then
        zoogate_voter_lines
        echo "tls_cert = \"$sys/tls/node-$id.crt\""; echo "tls_key = \"$sys/tls/node-$id.key\""
        echo primary > "$dir/site"
      elif [ "$id" = 4 ]; then
        echo 'site = "remote"'; echo 'role = "relay"'
        echo "peer = \"127.0.0.1:$(free_port)\""; echo "wan = \"127.0.0.1:$(free_port)\""
        echo "tls_cert = \"$sys/tls/node-$id.crt\""; echo "tls_key = \"$sys/tls/node-$id.key\""
        echo relay > "$dir/site"
      else
        echo 'site = "remote"'; echo 'role = "observer"'
        echo remote > "$dir/site"
      fi
    } >> "$cfg"
    write_start "$dir" "$BIN" serve --config "$cfg" --id "$id"
  done
  "$BIN" tls init --config "$cfg" --out "$sys/tls" > "$sys/tls-init.log" 2>&1
  PROXY_ARGS=("${proxyargs[@]}")
}

# ids_of SYSDIR SITE lists the node ids of one site (primary, relay, remote).
ids_of() {
  local id
  for id in $(node_ids "$1"); do [ "$(cat "$1/nodes/$id/site")" = "$2" ] && echo "$id"; done
  return 0
}
addrs() { local sys=$1 out="" id; shift; for id in "$@"; do out+="${out:+,}$(cat "$sys/nodes/$id/client")"; done; echo "$out"; }

leader_addr() {
  local sys=$1 id a
  for id in $(ids_of "$sys" primary); do
    a=$(cat "$sys/nodes/$id/client")
    [ "$(server_mode "$a")" = leader ] && { echo "$a"; return 0; }
  done
  return 1
}

NA=""
# deploy_wan SYSTEM NOBS: lays out, starts the proxy and every node, waits
# until every server serves; sets SYSDIR.
deploy_wan() {
  local sys=$1 nobs=$2
  SYSDIR="$WORK/$sys"
  SYSDIRS+=("$SYSDIR")
  mkdir -p "$SYSDIR"
  case $sys in zookeeper*) zk_wan_setup "$SYSDIR" "$nobs" ;; *) zoogate_wan_setup "$SYSDIR" "$nobs" ;; esac
  proxy_start "$SYSDIR" "${PROXY_ARGS[@]}"
  start_all "$SYSDIR"
  if ! "${BENCH[@]}" wait --servers "$(servers_of "$SYSDIR")" --write --timeout 120s > /dev/null 2> "$SYSDIR/wait.err"; then
    NA="did not serve: $(tail -n 2 "$SYSDIR/wait.err" | oneline)"
    return 1
  fi
}

# measure SYSTEM: every measurement on the deployment in SYSDIR.
measure() {
  local sys=$1 leader obs k keep f
  leader=$(leader_addr "$SYSDIR") || { NA="no leader found"; return 1; }
  # Unmeasured warm-up (JIT, connections).
  "${BENCH[@]}" wan --mode staleness --primary "$leader" --remote "$(addrs "$SYSDIR" $(ids_of "$SYSDIR" remote))" \
    --proxy "$(cat "$SYSDIR/proxy/control")" --writes 400 --rate "$RATE" > /dev/null 2>&1 || true
  # Staleness and WAN bytes with 4, then 2, then 1 observers (the others stopped).
  for k in 4 2 1; do
    obs=$(ids_of "$SYSDIR" remote)
    keep=$(echo "$obs" | head -n "$k")
    for id in $obs; do
      echo "$keep" | grep -qx "$id" && continue
      pid=$(node_pid "$SYSDIR" "$id") && { kill -9 "$pid"; echo stopped > "$SYSDIR/nodes/$id/site"; }
    done
    f="$SYSDIR/staleness-$k.json"
    say "$sys: staleness and WAN bytes, $k observers"
    if "${BENCH[@]}" wan --mode staleness --primary "$leader" --remote "$(addrs "$SYSDIR" $keep)" \
        --proxy "$(cat "$SYSDIR/proxy/control")" --writes "$WRITES" --rate "$RATE" --json > "$f" 2> "$f.err"; then
      record staleness "$sys" "$k" ok "$f"
    else
      record staleness "$sys" "$k" na "$(tail -n 2 "$f.err" | oneline)"
    fi
    if [ "$k" = 2 ]; then
      local two
      two=$(addrs "$SYSDIR" $keep)
      f="$SYSDIR/reads.json"
      say "$sys: reads on the 2 remote observers"
      if "${BENCH[@]}" --servers "$two" --mode mixed --read-ratio 1 --value-size 100 --sessions 64 \
          --outstanding 4 --keys 1000 --warmup 1s --duration "$READ_TIME" --json > "$f" 2> "$f.err"; then
        record reads "$sys" ok "$f"
      else
        record reads "$sys" na "$(tail -n 2 "$f.err" | oneline)"
      fi
      f="$SYSDIR/remote-writes.json"
      say "$sys: writes from clients of the 2 remote observers"
      if "${BENCH[@]}" wan --mode remote-writes --remote "$two" --duration "$REMOTE_WRITE_TIME" --json > "$f" 2> "$f.err"; then
        record remote-writes "$sys" ok "$f"
      else
        record remote-writes "$sys" na "$(tail -n 2 "$f.err" | oneline)"
      fi
      f="$SYSDIR/sessions.json"
      say "$sys: new sessions on the 2 remote observers"
      if "${BENCH[@]}" wan --mode sessions --remote "$two" --duration "$SESSION_TIME" --json > "$f" 2> "$f.err"; then
        record sessions "$sys" ok "$f"
      else
        record sessions "$sys" na "$(tail -n 2 "$f.err" | oneline)"
      fi
      f="$SYSDIR/catchup.json"
      say "$sys: a $CUT cut of the remote site at $RATE writes/s"
      if "${BENCH[@]}" wan --mode catchup --primary "$leader" --remote "$two" --proxy "$(cat "$SYSDIR/proxy/control")" \
          --rate "$RATE" --cut "$CUT" --json > "$f" 2> "$f.err"; then
        record catchup "$sys" ok "$f"
      else
        record catchup "$sys" na "$(tail -n 2 "$f.err" | oneline)"
        [ -s "$f" ] && record catchup-partial "$sys" "$f"
      fi
    fi
  done
}

# ---- leader CPU per remote site: relays follow the leader, or followers ----
# zoogate_sites_setup SYSDIR NSITES MODE: 3 voters and NSITES remote sites
# with one relay each (no observers), relay_upstream = MODE.
zoogate_sites_setup() {
  local sys=$1 nsites=$2 mode=$3 id dir cport cfg="$1/zoogate.toml" proxyargs=() k
  {
    echo '[cluster]'; echo 'name = "benchcpu"'; echo "tick = \"${TICK_MS}ms\""
    echo 'init_limit = 10'; echo 'sync_limit = 5'; echo 'max_client_cnxns = 0'
    echo 'four_letter_words = ["*"]'; echo "tls_ca = \"$sys/tls/ca.crt\""; echo "relay_upstream = \"$mode\""
    echo; echo '[[site]]'; echo 'name = "primary"'; echo 'primary = true'
    for k in $(seq 1 "$nsites"); do echo; echo '[[site]]'; echo "name = \"r$k\""; done
  } > "$cfg"
  for id in $(seq 1 $((3 + nsites))); do
    dir="$sys/nodes/$id"; mkdir -p "$dir/data"
    cport=$(free_port)
    echo "127.0.0.1:$cport" > "$dir/client"
    {
      echo; echo '[[node]]'; echo "id = $id"
      echo "client = \"127.0.0.1:$cport\""
      echo "data_dir = \"$dir/data\""; echo 'log_level = "warn"'
      echo "tls_cert = \"$sys/tls/node-$id.crt\""; echo "tls_key = \"$sys/tls/node-$id.key\""
      if [ "$id" -le 3 ]; then
        zoogate_voter_lines
        echo primary > "$dir/site"
      else
        echo "site = \"r$((id - 3))\""; echo 'role = "relay"'
        echo "peer = \"127.0.0.1:$(free_port)\""; echo "wan = \"127.0.0.1:$(free_port)\""
        echo relay > "$dir/site"
      fi
    } >> "$cfg"
    write_start "$dir" "$BIN" serve --config "$cfg" --id "$id"
  done
  "$BIN" tls init --config "$cfg" --out "$sys/tls" > "$sys/tls-init.log" 2>&1
  PROXY_ARGS=("${proxyargs[@]}")
}

mntr_of() { four_letter "$1" mntr | awk -v k="$2" '$1 == k {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# leader_cpu MODE: deploys 4 sites with relay_upstream = MODE, then for 4,
# 2, 1 and 0 relays running measures the leader's CPU time over CPU_WRITES
# writes at CPU_RATE/s (one writer on the leader, a watcher on each relay).
CPU_WRITES=$([ "$QUICK" = 1 ] && echo 800 || echo 4000); CPU_RATE=400
leader_cpu() {
  local mode=$1 k id pid lid leader relays keep ups served t0 t1 f remote
  SYSDIR="$WORK/cpu-$mode"; SYSDIRS+=("$SYSDIR"); mkdir -p "$SYSDIR"
  zoogate_sites_setup "$SYSDIR" 4 "$mode"
  proxy_start "$SYSDIR" "${PROXY_ARGS[@]}"
  start_all "$SYSDIR"
  if ! "${BENCH[@]}" wait --servers "$(servers_of "$SYSDIR")" --write --timeout 120s > /dev/null 2> "$SYSDIR/wait.err"; then
    record cpu "$mode" na "did not serve: $(tail -n 2 "$SYSDIR/wait.err" | oneline)"; return
  fi
  leader=$(leader_addr "$SYSDIR") || { record cpu "$mode" na "no leader"; return; }
  for id in 1 2 3; do [ "$(cat "$SYSDIR/nodes/$id/client")" = "$leader" ] && lid=$id; done
  pid=$(node_pid "$SYSDIR" "$lid")
  relays=$(ids_of "$SYSDIR" relay)
  # Unmeasured warm-up.
  "${BENCH[@]}" wan --mode staleness --primary "$leader" --remote "$(addrs "$SYSDIR" $relays)" \
    --proxy "$(cat "$SYSDIR/proxy/control")" --writes 400 --rate "$CPU_RATE" > /dev/null 2>&1 || true
  for k in 4 2 1 0; do
    keep=$(echo "$relays" | head -n "$k")
    for id in $relays; do
      echo "$keep" | grep -qx "$id" && continue
      node_pid "$SYSDIR" "$id" > /dev/null && kill -9 "$(node_pid "$SYSDIR" "$id")"
    done
    # Every remaining relay serving again, and what each follows.
    ups=""
    for id in $keep; do
      for _ in $(seq 1 100); do [ "$(server_mode "$(cat "$SYSDIR/nodes/$id/client")")" = relay ] && break; sleep 0.2; done
      ups+="${ups:+ }$id→$(mntr_of "$(cat "$SYSDIR/nodes/$id/client")" zk_upstream)"
    done
    # The leader's count of site streams settles once the killed relays'
    # streams broke (StallTimeout).
    local want=0 u
    for u in $ups; do [ "${u#*→}" = "$lid" ] && want=$((want + 1)); done
    for _ in $(seq 1 100); do
      served=$(mntr_of "$leader" zk_synced_observers)
      [ "$served" = "$want" ] && break
      sleep 0.2
    done
    remote=$(addrs "$SYSDIR" $keep)
    [ "$k" = 0 ] && remote=$(addrs "$SYSDIR" $(ids_of "$SYSDIR" primary | grep -vx "$lid" | head -n 1))
    say "zoogate relay_upstream=$mode: leader CPU with $k relays (leader serves $served; $ups)"
    f="$SYSDIR/cpu-$k.json"
    t0=$(cpu_ticks "$pid")
    if "${BENCH[@]}" wan --mode staleness --primary "$leader" --remote "$remote" --proxy "$(cat "$SYSDIR/proxy/control")" \
        --writes "$CPU_WRITES" --rate "$CPU_RATE" --json > "$f" 2> "$f.err"; then
      t1=$(cpu_ticks "$pid")
      record cpu "$mode" ok "$k" "$served" "$((t1 - t0))" "$(getconf CLK_TCK)" "$f" "$ups"
    else
      record cpu "$mode" na "$k relays: $(tail -n 2 "$f.err" | oneline)"
    fi
  done
  stop_all "$SYSDIR"
  kill "$(cat "$SYSDIR/proxy/pid")" 2>/dev/null || true
}

START=$(date +%s)
for sys in zookeeper zoogate; do
  say "$sys: starting 3 voters and the remote site"
  NA=""
  if deploy_wan "$sys" 4 && measure "$sys"; then :; else
    say "$sys: not available: $NA"
    record na "$sys" "$NA"
  fi
  stop_all "$SYSDIR"
  [ -f "$SYSDIR/proxy/pid" ] && kill "$(cat "$SYSDIR/proxy/pid")" 2>/dev/null || true
done
# Reads by read-only clients (the readOnly flag) on the remote site through
# a cut: ZooKeeper with readonlymode.enabled (and the local sessions its
# read-only mode needs), zoogate as it comes (read_only = true).
for sys in zookeeper zoogate; do
  say "$sys: read-only clients on the 2 remote observers through a $CUT cut"
  SYSDIR=""
  if ZK_READONLY=1 deploy_wan "$sys-ro" 2; then
    f="$SYSDIR/ro-reads.json"
    if "${BENCH[@]}" wan --mode ro-reads --remote "$(addrs "$SYSDIR" $(ids_of "$SYSDIR" remote))" \
        --proxy "$(cat "$SYSDIR/proxy/control")" --cut "$CUT" --json > "$f" 2> "$f.err"; then
      record ro-reads "$sys" ok "$f"
    else
      record ro-reads "$sys" na "$(tail -n 2 "$f.err" | oneline)"
    fi
  else
    record ro-reads "$sys" na "$NA"
  fi
  [ -n "$SYSDIR" ] && { stop_all "$SYSDIR"; [ -f "$SYSDIR/proxy/pid" ] && kill "$(cat "$SYSDIR/proxy/pid")" 2>/dev/null || true; }
done

# zoogate with local_sessions = false: sessions on a remote observer are
# global, made through the leader across the WAN, as ZooKeeper's are.
say "zoogate, local_sessions = false: new sessions on a remote observer"
SYSDIR=""
if LOCAL_SESSIONS=false deploy_wan zoogate-global 1; then
  f="$SYSDIR/sessions.json"
  if "${BENCH[@]}" wan --mode sessions --remote "$(addrs "$SYSDIR" $(ids_of "$SYSDIR" remote))" --duration "$SESSION_TIME" --json > "$f" 2> "$f.err"; then
    record sessions-global zoogate ok "$f"
  else
    record sessions-global zoogate na "$(tail -n 2 "$f.err" | oneline)"
  fi
else
  record sessions-global zoogate na "$NA"
fi
[ -n "$SYSDIR" ] && { stop_all "$SYSDIR"; [ -f "$SYSDIR/proxy/pid" ] && kill "$(cat "$SYSDIR/proxy/pid")" 2>/dev/null || true; }

if [ -z "${SKIP_CPU:-}" ]; then
  for mode in leader follower; do leader_cpu "$mode"; done
fi
meta "load average at end" "$(cut -d' ' -f1-3 /proc/loadavg)"
meta "run time" "$(( $(date +%s) - START )) s"
[ "$QUICK" = 1 ] && meta caveat "A --quick run ($WRITES writes per staleness run, a $CUT cut): a smoke test of the harness, not figures to quote."

mkdir -p "$(dirname "$OUT")"
"$WORK/render" "$MANIFEST" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
say "wrote $OUT"
