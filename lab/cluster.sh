#!/usr/bin/env bash
# Makes the tutorial's service (installed by lab/tutorial.sh on node1 and
# node2) an orchestrated one and starts the agent daemons: orchestrate = ha,
# [cluster] nodes and one secret on both nodes, a unicast heartbeat and,
# with --disk DEV, a disk heartbeat on that shared raw device; each
# --param SECTION.KEY=VALUE is set in both nodes' node.conf before the
# daemons start (e.g. hb#1.interval=0.2, node.ready_period=0.2); each
# --svc-param SECTION.KEY=VALUE in both nodes' service config (e.g.
# app.restart=2).
# Usage: cluster.sh LAB_ID [--disk DEV] [--param SECTION.KEY=VALUE]... [--svc-param SECTION.KEY=VALUE]...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
id=$1
shift
disk="" params=""
while (($#)); do
    case $1 in
    --disk) disk="nodemgr set --param hb#2.type --value disk && nodemgr set --param hb#2.dev --value $2 &&"; shift 2 ;;
    --param) params+="nodemgr set --param '${2%%=*}' --value '${2#*=}' && "; shift 2 ;;
    --svc-param) params+="svcmgr -s p26.opensvc.com set --param '${2%%=*}' --value '${2#*=}' && "; shift 2 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in node1 node2; do
    bash "$HERE/lab.sh" exec "$id" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "
        sed -i 's/^\[DEFAULT\]$/[DEFAULT]\norchestrate = ha/' /etc/opensvc/p26.opensvc.com.conf &&
        nodemgr set --param cluster.nodes --value 'node1 node2' &&
        nodemgr set --param cluster.secret --value $secret &&
        nodemgr set --param hb#1.type --value unicast && $disk $params
        nodemgr daemon start"
done
