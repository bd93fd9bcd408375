#!/usr/bin/env bash
# The parallel takeover's cluster (tests/integration/tier4/system_takeover.rs,
# scripts/bench-takeover.sh), in a lab made with
# `lab.sh up --nodes 2 --disks rawhb:8M`:
# - svcmgr, nodemgr and svcmon in node1's and node2's own /usr/bin;
# - COUNT services tk1..tkCOUNT, orchestrate = ha, nodes = node1 node2, each
#   with its own address 198.51.100.<i>/24 on eth0 (the lab's bridge; the
#   /27 of the nodes has no room for 50 more) and an app whose launchers
#   are one-liners: S10 writes the node-private /run/tk<i>.up, C10 checks
#   it, K10 removes it;
# - the client gets 198.51.100.254/24 too, so that it reaches them all;
# - node.conf: both nodes in cluster.nodes, one random secret, a unicast
#   heartbeat (hb#1) and a disk heartbeat on rawhb (hb#2) at the shipped
#   defaults (with unicast alone nothing proves a dead node down), and each
#   --param SECTION.KEY=VALUE (e.g. node.max_parallel=1);
# then starts both daemons and waits until node1 runs every service and
# node2 sees them all up there; exits 3 (with node1's svcmon and log) when
# that does not happen within WAIT_SECONDS.
# Usage: takeover-cluster.sh LAB_ID SVCMGR_BINARY COUNT [--param SECTION.KEY=VALUE]... [--wait SECONDS]  (default 180)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab.sh
usage() { echo "usage: takeover-cluster.sh LAB_ID SVCMGR_BINARY COUNT [--param SECTION.KEY=VALUE]... [--wait SECONDS]" >&2; exit 2; }
(($# >= 3)) || usage
id=$1 bin=$2 count=$3
shift 3
wait=180 params=()
while (($#)); do
    case $1 in
    --param) (($# >= 2)) || usage; params+=("$2"); shift 2 ;;
    --wait) (($# >= 2)) || usage; wait=$2; shift 2 ;;
    *) echo "takeover-cluster: unknown option $1" >&2; usage ;;
    esac
done
[[ -x $bin ]] || { echo "takeover-cluster: $bin is not an executable" >&2; exit 2; }
[[ $count =~ ^[0-9]+$ ]] && ((count >= 1 && count <= 250)) ||
    { echo "takeover-cluster: COUNT must be a number from 1 to 250, not $count" >&2; exit 2; }
rawhb=$(bash "$LAB" get "$id" disk_rawhb) || { echo "takeover-cluster: lab $id has no rawhb disk (lab.sh up --disks rawhb:8M)" >&2; exit 2; }
NODE_PATH=PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin
on() { local n=$1; shift; bash "$LAB" exec "$id" "$n" env "$NODE_PATH" bash -c "$*"; }

bash "$LAB" client "$id" ip addr replace 198.51.100.254/24 dev eth0
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in node1 node2; do
    # Runs inside node n: every file is the node's own (its overlay).
    bash "$LAB" exec "$id" "$n" env "$NODE_PATH" bash -s -- "$count" "$bin" "$secret" "$rawhb" "${params[@]}" <<'NODE'
set -euo pipefail
count=$1 bin=$2 secret=$3 rawhb=$4
shift 4
ln -sf "$bin" /usr/bin/svcmgr
ln -sf svcmgr /usr/bin/nodemgr
ln -sf svcmgr /usr/bin/svcmon
for i in $(seq "$count"); do
    d=/etc/opensvc/tk$i.d
    mkdir -p "$d"
    printf '#!/bin/sh\ntouch /run/tk%d.up\n' "$i" >"$d/S10tk"
    printf '#!/bin/sh\nrm -f /run/tk%d.up\n' "$i" >"$d/K10tk"
    printf '#!/bin/sh\ntest -e /run/tk%d.up\n' "$i" >"$d/C10tk"
    chmod 755 "$d"/*
    printf '[DEFAULT]\nservice_type = TST\nnodes = node1 node2\norchestrate = ha\n[ip#0]\nipname = 198.51.100.%d\nipdev = eth0\nnetmask = 24\n[app]\ndir = %s\n' \
        "$i" "$d" >"/etc/opensvc/tk$i.conf"
    ln -sf /usr/bin/svcmgr "/etc/opensvc/tk$i"
done
nodemgr set --param cluster.nodes --value "node1 node2"
nodemgr set --param cluster.secret --value "$secret"
nodemgr set --param hb#1.type --value unicast
nodemgr set --param hb#2.type --value disk
nodemgr set --param hb#2.dev --value "$rawhb"
for kv in "$@"; do
    nodemgr set --param "${kv%%=*}" --value "${kv#*=}"
done
NODE
done
for n in node1 node2; do
    on "$n" "nodemgr daemon start"
done

# Every tk service up on node1, as node1 and node2 see it.
ready() { # node
    on "$1" "svcmon --format json" 2>/dev/null | python3 -c '
import json, sys
count = int(sys.argv[1])
svcs = json.load(sys.stdin)["nodes"]["node1"]["services"]
sys.exit(0 if all(svcs.get(f"tk{i}", {}).get("avail") == "up" for i in range(1, count + 1)) else 1)
' "$count" 2>/dev/null
}
end=$((SECONDS + wait))
until ready node1 && ready node2; do
    if ((SECONDS >= end)); then
        echo "takeover-cluster: after ${wait}s node1 does not run every service, as both nodes see it; its svcmon and log:" >&2
        on node1 "svcmon | head -60; tail -40 /var/log/opensvc/node.log" >&2 || true
        exit 3
    fi
    sleep 1
done
