#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--failover-only] [--out FILE] [--keep]
#
# Runs zoogate and Apache ZooKeeper side by side on this machine, over
# loopback, with the same settings, and writes a Markdown report (default
# docs/benchmarks.md). For each system in turn: a standalone server, then 3
# voters on this machine; the same workloads against each (`zoogate bench`);
# failover of the 3 voters (the leader, found with `srvr`, killed with
# SIGKILL), once with writers that move between servers and once with stock
# clients each given one follower; peak RSS; restart time with many znodes. A system that cannot
# run (zoogate's cluster mode before it exists, say) is reported as
# "not available", never estimated.
#
#   --quick   shorter cells and fewer znodes (about two minutes per system)
#   --out F   where to write the report (default docs/benchmarks.md)
#   --keep    keep the work directory (data dirs, logs, raw JSON)
#   --failover-only  only the 3-voter failover stages (a few minutes)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/bench/lib.sh

QUICK=0
OUT=docs/benchmarks.md
KEEP=0
FAILOVER_ONLY=0
ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --out=*) OUT=${1#--out=} ;;
    --keep) KEEP=1 ;;
    --failover-only) FAILOVER_ONLY=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  DURATION=0.5s; WARMUP=0.25s; TRIALS=2; SETTLE=1s; RESTART_ZNODES=20000; FSYNC_TIME=1s
  SYSTEM_WARMUP=2s; VALUE_SIZES="100"
else
  DURATION=2s; WARMUP=1s; TRIALS=10; SETTLE=2s; RESTART_ZNODES=1000000; FSYNC_TIME=3s
  SYSTEM_WARMUP=5s; VALUE_SIZES="100 1024"
fi
REPEATS=3; REPEAT_SESSIONS=64
[ "$QUICK" = 1 ] && REPEATS=1
TICK_MS=2000
OUTSTANDING=4
KEYS=1000

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- prerequisites -------------------------------------------------------
if ! command -v java >/dev/null 2>&1 || [ ! -f "$ZK_JAR" ]; then
  echo "bench.sh: Apache ZooKeeper is not installed (need java and $ZK_JAR)." >&2
  echo "          Install it with: sudo apt-get install zookeeper" >&2
  exit 1
fi
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "bench.sh: go not found" >&2; exit 1; }

mkdir -p "$ROOT/tmp"
# Every data directory lives here, on one disk, for both systems.
WORK=$(mktemp -d "$ROOT/tmp/bench.XXXXXX")
MANIFEST="$WORK/manifest.tsv"
: > "$MANIFEST"
declare -a SYSDIRS=()

cleanup() {
  local d
  for d in "${SYSDIRS[@]}"; do
    for f in "$d"/nodes/*/pid; do
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

# ---- binaries --------------------------------------------------------------
ZOOGATE_BIN="$ROOT/bin/zoogate"
ZOOGATE_NA=""
if [ ! -x "$ZOOGATE_BIN" ] || [ -n "$(find cmd core storage topology bridge wan -name '*.go' -newer "$ZOOGATE_BIN" 2>/dev/null | head -1)" ]; then
  say "building bin/zoogate"
  if ! go build -o "$ZOOGATE_BIN" ./cmd/zoogate 2> "$WORK/build.err"; then
    ZOOGATE_NA="bin/zoogate does not build: $(head -3 "$WORK/build.err" | oneline)"
    say "$ZOOGATE_NA"
  fi
fi
# The load generator: `zoogate bench` when bin/zoogate has it, otherwise
# the same package built on its own (scripts/bench/loadgen).
if [ -z "$ZOOGATE_NA" ] && "$ZOOGATE_BIN" bench --help 2>&1 | grep -q -- '-outstanding'; then
  BENCH=("$ZOOGATE_BIN" bench)
  meta "load generator" "\`bin/zoogate bench\` (mixed-mode cells: its raw-protocol client; failover and setup: go-zookeeper/zk)"
else
  go build -o "$WORK/zoogate-bench" ./scripts/bench/loadgen
  BENCH=("$WORK/zoogate-bench")
  meta "load generator" "\`zoogate bench\` package built alone (scripts/bench/loadgen; bin/zoogate has no bench subcommand yet)"
fi
go build -o "$WORK/render" ./scripts/bench/render

# ---- machine --------------------------------------------------------------
meta command "scripts/bench.sh${ARGS:+ $ARGS}"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta cpu "$(nproc) × $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
meta memory "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta disk "$(df -T "$WORK" | awk 'NR==2 {print $1 ", " $2 ", " $3/1048576 " GiB"}') (all data dirs under one directory on it)"
START_LOAD=$(cut -d' ' -f1 /proc/loadavg)
meta "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg)"
meta "Apache ZooKeeper" "$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo unknown) (Debian package), $(java -version 2>&1 | head -1), -Xmx$ZK_HEAP as zkServer.sh"
ZG_REV="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- cmd core storage topology bridge wan 2>/dev/null || ZG_REV+=" plus uncommitted changes"
meta zoogate "$ZG_REV, built with $(go version | cut -d' ' -f3)"

say "measuring the disk's fsync rate"
"${BENCH[@]}" fsync --dir "$WORK" --duration "$FSYNC_TIME" --json > "$WORK/fsync.json"
record fsync "$WORK/fsync.json"

meta method.settings "Both systems: loopback only, tickTime ${TICK_MS} ms, initLimit 10, syncLimit 5, no per-IP connection limit (maxClientCnxns=0 / max_client_cnxns = 0), all 4lw enabled, warnings-only logging, data dirs on the same disk, fsync on every commit (ZooKeeper's default forceSync=yes). ZooKeeper runs from zoo.cfg, zoogate from a topology file (\`zoogate serve --config F --id N\`)."
meta method.warmup "Before its cells, each deployment gets the same unmeasured warm-up ($SYSTEM_WARMUP of 50/50 reads and writes, 16 sessions), so the JVM's JIT is not measured cold."
meta method.cells "Value sizes: $VALUE_SIZES B. Each cell: \`zoogate bench --mode mixed --sessions S --outstanding $OUTSTANDING --keys $KEYS --value-size V --read-ratio R --warmup $WARMUP --duration $DURATION\` (its built-in raw-protocol client: one goroutine and one socket per session, $OUTSTANDING requests pipelined on each); sessions spread round-robin over all servers; reads are getData, writes setData on random keys.$( [ "$REPEATS" -gt 1 ] && echo " Cells with $REPEAT_SESSIONS sessions run $REPEATS times and show the median run.")"
meta method.failover "Failover: \`zoogate bench failover --trials $TRIALS\`, writers on every server; kill = scripts/bench/kill-leader.sh (srvr, then SIGKILL); restart = scripts/bench/restart-node.sh, then wait until every server serves a write. Writers: go-zookeeper sessions given every server, with a host provider that retries at once (no back-off), so the window is the servers'. With \`--pinned\`: stock go-zookeeper clients (\`zk.Connect\` with its defaults), each given one server, a follower at the start of the trial: what a user who lists one server per client sees, client back-off included."
meta method.restart "Restart: \`zoogate bench populate\` creates $RESTART_ZNODES znodes of 100 B on the standalone server, which is stopped with SIGTERM and started again; time to the first successful read (\`zoogate bench wait\`, polling every 20 ms)."
meta method.client "The client runs on the same 2-core machine as the servers, so it competes with them for CPU; ratios are more meaningful than absolute figures."

# ---- one deployment ---------------------------------------------------------
# deploy SYSTEM TOPO N: lay out and start; prints nothing; returns 1 with
# the reason in $NA_REASON if it does not serve writes.
NA_REASON=""
deploy() {
  local sys=$1 topo=$2 n=$3 dir="$WORK/$1-$2"
  SYSDIR=$dir
  SYSDIRS+=("$dir")
  mkdir -p "$dir"
  if [ "$sys" = zookeeper ]; then
    zk_setup "$dir" "$TICK_MS" "$n"
  else
    if [ -n "$ZOOGATE_NA" ]; then NA_REASON=$ZOOGATE_NA; return 1; fi
    zoogate_setup "$dir" "$TICK_MS" "$n" "$ZOOGATE_BIN"
  fi
  start_all "$dir"
  # Wait until every server serves a write; give up early if they all exit.
  "${BENCH[@]}" wait --servers "$(servers_of "$dir")" --write --timeout 60s > /dev/null 2> "$dir/wait.err" &
  local waiter=$! id alive
  while proc_alive "$waiter"; do
    alive=0
    for id in $(node_ids "$dir"); do node_pid "$dir" "$id" > /dev/null && alive=1; done
    if [ "$alive" = 0 ]; then kill "$waiter" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  if ! wait "$waiter"; then
    NA_REASON="did not serve writes: $( (cat "$dir"/nodes/*/server.log 2>/dev/null | grep -v '^\s*$' | tail -n 2; tail -n 1 "$dir/wait.err") | oneline)"
    stop_all "$dir"
    return 1
  fi
}

# cell_rate FILE prints a report's total ops/s (the last ops_per_sec in it).
cell_rate() { grep '"ops_per_sec"' "$1" | tail -n 1 | tr -dc '0-9.' | cut -d. -f1; }

# run_cell SERVERS READ_RATIO VALUE_SIZE SESSIONS FILE runs one cell into
# FILE. Cells with $REPEAT_SESSIONS sessions (the ones the targets are
# about) run $REPEATS times and keep the median run, so one noisy run on a
# shared 2-core machine does not decide a ratio; CELL_RUNS then lists the
# rates of every run.
run_cell() {
  local servers=$1 r=$2 vs=$3 s=$4 f=$5 n=1 k rates=""
  CELL_RUNS=""
  [ "$s" = "$REPEAT_SESSIONS" ] && n=$REPEATS
  for k in $(seq 1 "$n"); do
    "${BENCH[@]}" --servers "$servers" --mode mixed --read-ratio "$r" --value-size "$vs" \
      --sessions "$s" --outstanding "$OUTSTANDING" --keys "$KEYS" --warmup "$WARMUP" \
      --duration "$DURATION" --json > "$f.$k" 2> "$f.err" || return 1
    rates+="$(cell_rate "$f.$k") $k"$'\n'
  done
  k=$(printf '%s' "$rates" | sort -n | awk -v m=$(( (n + 1) / 2 )) 'NR == m {print $2}')
  cp "$f.$k" "$f"
  [ "$n" -gt 1 ] && CELL_RUNS=$(printf '%s' "$rates" | awk '{printf "%s%s", sep, $1; sep=", "}')
  return 0
}

run_cells() {
  local sys=$1 topo=$2 servers=$3 w r vs s f
  # Warm the system up (JIT, caches) the same way for both, unmeasured.
  if [ -z "$NA_REASON" ]; then
    "${BENCH[@]}" --servers "$servers" --mode mixed --read-ratio 0.5 --sessions 16 --outstanding "$OUTSTANDING" \
      --keys "$KEYS" --warmup 0s --duration "$SYSTEM_WARMUP" > /dev/null 2>&1 || true
  fi
  for w in read100 mixed90 write100; do
    case $w in read100) r=1 ;; mixed90) r=0.9 ;; write100) r=0 ;; esac
    for vs in $VALUE_SIZES; do
      for s in 1 16 64; do
        f="$SYSDIR/cell-$w-$vs-$s.json"
        if [ -n "${NA_REASON}" ]; then
          record cell "$sys" "$topo" "$w" "$vs" "$s" na "$NA_REASON"; continue
        fi
        if run_cell "$servers" "$r" "$vs" "$s" "$f"; then
          record cell "$sys" "$topo" "$w" "$vs" "$s" ok "$f"
          say "$sys $topo $w ${vs}B ${s} sessions: $(cell_rate "$f") ops/s${CELL_RUNS:+ (median of $CELL_RUNS)}"
        else
          record cell "$sys" "$topo" "$w" "$vs" "$s" na "run failed: $(tail -n 2 "$f.err" | oneline)"
        fi
      done
    done
  done
}

# failover_stage SYS VOTERS SERVERS [pinned]: kill the leader TRIALS times;
# with "pinned", the writers are stock clients each given one follower.
failover_stage() {
  local sys=$1 voters=$2 servers=$3 mode=${4:-} key=$2 f=$SYSDIR/failover
  local -a extra=()
  if [ "$mode" = pinned ]; then extra=(--pinned); key="$voters pinned"; f=$SYSDIR/failover-pinned; fi
  # The previous stage's last trial left its leader dead: bring it back
  # (the run waits until every server serves writes).
  if [ -f "$SYSDIR/killed" ]; then "$ROOT/scripts/bench/restart-node.sh" "$SYSDIR" >/dev/null; rm -f "$SYSDIR/killed"; fi
  say "$sys $voters voters: failover${mode:+ ($mode)}, $TRIALS trials"
  if "${BENCH[@]}" failover --servers "$servers" --trials "$TRIALS" --settle "$SETTLE" "${extra[@]}" \
      --kill-cmd "$ROOT/scripts/bench/kill-leader.sh $SYSDIR" \
      --restart-cmd "$ROOT/scripts/bench/restart-node.sh $SYSDIR" \
      --json > "$f.json" 2> "$f.err"; then
    record failover "$sys" ok "$f.json" "$key"
  elif [ -s "$f.json" ]; then
    record failover "$sys" ok "$f.json" "$key" # partial: trials show what failed
  else
    record failover "$sys" na "$(tail -n 1 "$f.err" | oneline)" "$key"
  fi
}

bench_system() {
  local sys=$1 servers
  if [ "$FAILOVER_ONLY" = 1 ]; then
    say "$sys 3 voters: starting"
    NA_REASON=""
    if deploy "$sys" voters3 3; then
      servers=$(servers_of "$SYSDIR")
      failover_stage "$sys" 3 "$servers"
      failover_stage "$sys" 3 "$servers" pinned
      stop_all "$SYSDIR"
    else
      record failover "$sys" na "$NA_REASON" 3
      record failover "$sys" na "$NA_REASON" "3 pinned"
    fi
    return
  fi
  # Standalone: workloads, peak RSS, then restart with many znodes.
  say "$sys standalone: starting"
  NA_REASON=""
  if deploy "$sys" standalone 1; then
    servers=$(servers_of "$SYSDIR")
    run_cells "$sys" standalone "$servers"
    record rss "$sys" "standalone, after the workloads" "$(peak_rss_kb "$SYSDIR")"
    say "$sys standalone: populating $RESTART_ZNODES znodes"
    if "${BENCH[@]}" populate --servers "$servers" --count "$RESTART_ZNODES" --value-size 100 --root /bench-restart \
        --json > "$SYSDIR/populate.json" 2> "$SYSDIR/populate.err"; then
      record rss "$sys" "standalone, with $RESTART_ZNODES znodes" "$(peak_rss_kb "$SYSDIR")"
      stop_all "$SYSDIR"
      local t0
      t0=$(date +%s%N)
      start_all "$SYSDIR"
      if "${BENCH[@]}" wait --servers "$servers" --since-unix-nano "$t0" --timeout 600s --json \
          > "$SYSDIR/restart.json" 2> "$SYSDIR/restart.err"; then
        record restart "$sys" ok "$RESTART_ZNODES" "$SYSDIR/restart.json"
        record rss "$sys" "standalone, after restart with $RESTART_ZNODES znodes" "$(peak_rss_kb "$SYSDIR")"
      else
        record restart "$sys" na "$RESTART_ZNODES" "no read within 600 s: $(tail -n 1 "$SYSDIR/restart.err" | oneline)"
      fi
    else
      record restart "$sys" na "$RESTART_ZNODES" "populate failed: $(tail -n 1 "$SYSDIR/populate.err" | oneline)"
    fi
    stop_all "$SYSDIR"
  else
    say "$sys standalone: not available: $NA_REASON"
    run_cells "$sys" standalone ""
    record restart "$sys" na "$RESTART_ZNODES" "$NA_REASON"
  fi

  # 3 voters: workloads, peak RSS, failover.
  say "$sys 3 voters: starting"
  NA_REASON=""
  if deploy "$sys" voters3 3; then
    servers=$(servers_of "$SYSDIR")
    run_cells "$sys" voters3 "$servers"
    record rss "$sys" "3 voters (largest), after the workloads" "$(peak_rss_kb "$SYSDIR")"
    failover_stage "$sys" 3 "$servers"
    failover_stage "$sys" 3 "$servers" pinned
    stop_all "$SYSDIR"
  else
    say "$sys 3 voters: not available: $NA_REASON"
    run_cells "$sys" voters3 ""
    record failover "$sys" na "$NA_REASON" 3
    record failover "$sys" na "$NA_REASON" "3 pinned"
  fi

  # 7 voters: failover only.
  say "$sys 7 voters: starting"
  NA_REASON=""
  if deploy "$sys" voters7 7; then
    servers=$(servers_of "$SYSDIR")
    failover_stage "$sys" 7 "$servers"
    stop_all "$SYSDIR"
  else
    say "$sys 7 voters: not available: $NA_REASON"
    record failover "$sys" na "$NA_REASON" 7
  fi
}

START=$(date +%s)
bench_system zookeeper
bench_system zoogate
meta "load average at end" "$(cut -d' ' -f1-3 /proc/loadavg)"
meta "run time" "$(( $(date +%s) - START )) s"
CAVEAT=""
if [ "$QUICK" = 1 ]; then
  CAVEAT="This is a --quick run (cells of $DURATION, 100 B values only, $RESTART_ZNODES znodes, $TRIALS failover trials): a smoke test of the harness and a rough comparison, not figures to quote. "
fi
# The benchmark's own servers and clients load the machine by the end, so
# only the load found at the start says whether other work was running.
if [ "$(echo "$START_LOAD" | awk '{print int($1)}')" -ge "$(nproc)" ]; then
  CAVEAT+="The machine was busy with other work when this run started (load average above the core count; see below): figures are depressed and noisy, and with short cells even the ratios can swing from run to run. Re-run the default \`make bench\` on a quiet machine before quoting numbers."
fi
[ -n "$CAVEAT" ] && meta caveat "$CAVEAT"

mkdir -p "$(dirname "$OUT")"
"$WORK/render" "$MANIFEST" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
say "wrote $OUT"
