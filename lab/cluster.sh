#!/usr/bin/env bash
# Makes the tutorial's service (installed by lab/tutorial.sh on node1 and
# node2) an orchestrated one and starts the agent daemons: orchestrate = ha,
# [cluster] nodes and one secret on both nodes, a unicast heartbeat and,
# with --disk DEV, a disk heartbeat on that shared raw device.
# Usage: cluster.sh LAB_ID [--disk DEV]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
id=$1
shift
disk=""
[[ ${1:-} == --disk ]] && disk="nodemgr set --param hb#2.type --value disk && nodemgr set --param hb#2.dev --value $2 &&"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in node1 node2; do
    bash "$HERE/lab.sh" exec "$id" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "
        sed -i 's/^\[DEFAULT\]$/[DEFAULT]\norchestrate = ha/' /etc/opensvc/p26.opensvc.com.conf &&
        nodemgr set --param cluster.nodes --value 'node1 node2' &&
        nodemgr set --param cluster.secret --value $secret &&
        nodemgr set --param hb#1.type --value unicast && $disk
        nodemgr daemon start"
done
