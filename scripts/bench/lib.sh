# shellcheck shell=bash
# Helpers for scripts/bench.sh and the failover kill/restart scripts.
#
# A "system directory" describes one running deployment (one system, one
# topology). Each server in it has a node directory:
#   SYSDIR/nodes/<id>/client   client address, host:port
#   SYSDIR/nodes/<id>/start    script that starts the server in the background
#   SYSDIR/nodes/<id>/pid      pid of the running server (written by start)
#   SYSDIR/nodes/<id>/data     its data directory
#   SYSDIR/nodes/<id>/server.log
# Everything is on 127.0.0.1.

ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
# zookeeper.jar's manifest names its dependencies; slf4j-simple prints
# warnings and errors only (to server.log).
ZK_CLASSPATH="$ZK_JAR:/usr/share/java/slf4j-simple.jar"
# The heap zkServer.sh gives ZooKeeper by default (ZK_SERVER_HEAP=1000).
ZK_HEAP=${ZK_HEAP:-1000m}

declare -a BENCH_PORTS_USED=()

# free_port prints a loopback TCP port that nothing listens on and that
# this run has not handed out yet.
free_port() {
  local p used
  while :; do
    # Below Linux's ephemeral range (32768-60999 by default): a port that
    # is some connection's local end is not seen listening, but cannot be
    # bound (ZooKeeper exited with "Address already in use" that way).
    p=$((20000 + RANDOM % 12000))
    used=0
    for u in "${BENCH_PORTS_USED[@]}"; do [ "$u" = "$p" ] && used=1; done
    [ "$used" = 1 ] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      BENCH_PORTS_USED+=("$p")
      echo "$p"
      return
    fi
  done
}

# four_letter HOST:PORT CMD prints the reply to a ZooKeeper 4lw command.
four_letter() {
  local host=${1%:*} port=${1##*:}
  timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port && printf '%s' '$2' >&3 && cat <&3" 2>/dev/null || true
}

# server_mode HOST:PORT prints leader|follower|standalone|observer|... or nothing.
server_mode() {
  four_letter "$1" srvr | sed -n 's/^Mode: *//p' | tr -d '\r'
}

# node_ids SYSDIR lists the node ids, sorted.
node_ids() {
  local d
  for d in "$1"/nodes/*/; do basename "$d"; done | sort -n
}

# node_pid SYSDIR ID prints the node's pid if it is alive.
node_pid() {
  local f="$1/nodes/$2/pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  proc_alive "$pid" || return 1
  echo "$pid"
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# servers_of SYSDIR prints the comma-separated client addresses.
servers_of() {
  local id out=""
  for id in $(node_ids "$1"); do out+="${out:+,}$(cat "$1/nodes/$id/client")"; done
  echo "$out"
}

# write_start NODEDIR COMMAND... writes NODEDIR/start, which launches
# COMMAND in the background (output to NODEDIR/server.log) and records pid.
write_start() {
  local dir=$1; shift
  {
    echo '#!/usr/bin/env bash'
    printf 'cd %q || exit 1\n' "$dir"
    printf '%q ' "$@"
    printf '>>%q 2>&1 </dev/null &\n' "$dir/server.log"
    printf 'echo $! > %q\n' "$dir/pid"
  } > "$dir/start"
  chmod +x "$dir/start"
}

# zk_setup SYSDIR TICK_MS COUNT: lays out COUNT Apache ZooKeeper nodes
# (COUNT=1: standalone) with fresh ports and data dirs.
zk_setup() {
  local sys=$1 tick=$2 n=$3 id dir servers="" cport
  declare -A peer elect
  for id in $(seq 1 "$n"); do
    peer[$id]=$(free_port); elect[$id]=$(free_port)
    servers+="server.$id=127.0.0.1:${peer[$id]}:${elect[$id]}"$'\n'
  done
  for id in $(seq 1 "$n"); do
    dir="$sys/nodes/$id"
    mkdir -p "$dir/data"
    cport=$(free_port)
    echo "127.0.0.1:$cport" > "$dir/client"
    {
      echo "tickTime=$tick"
      echo "initLimit=10"
      echo "syncLimit=5"
      echo "dataDir=$dir/data"
      echo "clientPort=$cport"
      echo "clientPortAddress=127.0.0.1"
      echo "maxClientCnxns=0"
      echo "admin.enableServer=false"
      echo "4lw.commands.whitelist=*"
      [ "$n" -gt 1 ] && printf '%s' "$servers"
    } > "$dir/zoo.cfg"
    [ "$n" -gt 1 ] && echo "$id" > "$dir/data/myid"
    write_start "$dir" java "-Xmx$ZK_HEAP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
      -Dzookeeper.jmx.log4j.disable=true -cp "$ZK_CLASSPATH" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg"
  done
}

# zoogate_setup SYSDIR TICK_MS COUNT ZOOGATE_BIN: the same for zoogate, with
# a topology file (topology/CONFIG.md) carrying the settings given to
# ZooKeeper above: tick and limits, no per-IP connection limit, every 4lw,
# warnings-only logging.
zoogate_setup() {
  local sys=$1 tick=$2 n=$3 bin=$4 id dir cport cfg="$1/zoogate.toml"
  {
    echo '[cluster]'
    echo 'name = "bench"'
    echo "tick = \"${tick}ms\""
    echo 'init_limit = 10'
    echo 'sync_limit = 5'
    echo 'max_client_cnxns = 0'
    echo 'four_letter_words = ["*"]'
  } > "$cfg"
  for id in $(seq 1 "$n"); do
    dir="$sys/nodes/$id"; mkdir -p "$dir/data"
    cport=$(free_port)
    echo "127.0.0.1:$cport" > "$dir/client"
    {
      echo
      echo '[[node]]'
      echo "id = $id"
      echo "client = \"127.0.0.1:$cport\""
      if [ "$n" -gt 1 ]; then
        echo "peer = \"127.0.0.1:$(free_port)\""
        echo "election = \"127.0.0.1:$(free_port)\""
      fi
      echo "data_dir = \"$dir/data\""
      echo 'log_level = "warn"'
    } >> "$cfg"
    write_start "$dir" "$bin" serve --config "$cfg" --id "$id"
  done
}

# start_all SYSDIR starts every node.
start_all() {
  local id
  for id in $(node_ids "$1"); do "$1/nodes/$id/start"; done
}

# stop_all SYSDIR kills every node (SIGTERM, then SIGKILL after 10 s).
stop_all() {
  local id pid i
  for id in $(node_ids "$1"); do
    pid=$(node_pid "$1" "$id") || continue
    kill "$pid" 2>/dev/null || true
  done
  for id in $(node_ids "$1"); do
    pid=$(node_pid "$1" "$id") || continue
    for i in $(seq 1 100); do proc_alive "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# peak_rss_kb SYSDIR prints the largest VmHWM (kB) among the live nodes.
peak_rss_kb() {
  local id pid v best=0
  for id in $(node_ids "$1"); do
    pid=$(node_pid "$1" "$id") || continue
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$best" ] && best=$v
  done
  echo "$best"
}
