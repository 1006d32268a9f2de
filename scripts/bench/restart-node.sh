#!/usr/bin/env bash
# restart-node.sh SYSDIR [ID]: start node ID again (default: the node
# kill-leader.sh killed last). It returns at once; `zoogate bench failover`
# then waits until every server serves writes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
sys=$1
id=${2:-$(cat "$sys/killed")}
"$sys/nodes/$id/start"
echo "restarted node $id (pid $(cat "$sys/nodes/$id/pid"))"
