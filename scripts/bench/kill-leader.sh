#!/usr/bin/env bash
# kill-leader.sh SYSDIR: find the current leader of the deployment in SYSDIR
# with the `srvr` four-letter word, kill it with SIGKILL, wait until it is
# gone, and record its id in SYSDIR/killed (for restart-node.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
sys=$1
for id in $(node_ids "$sys"); do
  addr=$(cat "$sys/nodes/$id/client")
  if [ "$(server_mode "$addr")" = leader ]; then
    pid=$(node_pid "$sys" "$id") || { echo "leader node $id has no live pid" >&2; exit 1; }
    kill -9 "$pid"
    # The kill moment, for `zoogate bench failover` (it reads this line):
    # taken once the signal is sent, with no process started in between
    # (EPOCHREALTIME is a bash builtin). Taken before the kill, it let
    # writes issued in the few milliseconds until the leader died count as
    # "after the kill" and report failover windows of 2-4 ms.
    t=$EPOCHREALTIME
    echo "killed-at-unix-ns: ${t/[.,]/}000"
    # Wait until it is gone or a zombie (its parent may never reap it).
    for _ in $(seq 1 200); do proc_alive "$pid" || break; sleep 0.01; done
    echo "$id" > "$sys/killed"
    echo "killed leader node $id ($addr, pid $pid)"
    exit 0
  fi
done
echo "no leader found (srvr answered no 'Mode: leader')" >&2
exit 1
