#!/usr/bin/env bash
# The cost-growth benchmark's cluster (scripts/bench-scale.sh), on every
# node of a lab made with `lab.sh up --nodes N --disks rawhb:32M` (N >= 2):
# - svcmgr, nodemgr and svcmon in each node's own /usr/bin;
# - instant fake ip, vgs, mount and ps in the node's /opt/svcmgr-bench/fakes
#   (one exec each, a fixed answer), first on the PATH of the node's daemon
#   and of the benchmark's commands, and a fake mount table
#   (OSVC_MOUNTINFO=/opt/svcmgr-bench/mountinfo), so that probing touches
#   nothing real: bench-scale.sh runs node commands with that environment;
# - SERVICES one-node services per node, n<K>s<I> on nodeK (nodes = nodeK,
#   not orchestrated), each with an ip, a vg and an fs on those fakes, all
#   up: what the daemon probes, advertises and serves grows with their number;
# - fo: orchestrate = ha, nodes = node1 node2, autostart on node1, one app
#   resource whose launchers are fakes too: S10fo writes the time of its
#   start (date +%s.%N) to the node-private /run/fo.up (by a rename),
#   C10fo checks that file, K10fo removes it (a dead node's /run is gone
#   with it);
# - cfgprobe: not orchestrated, nodes = every node, an app resource with no
#   launchers (nothing to probe), the same file and mtime on every node: a
#   change made on one node must reach all the others by the daemons'
#   config replication;
# - node.conf: every node in cluster.nodes, one random secret, a unicast
#   heartbeat (hb#1) and a disk heartbeat on rawhb (hb#2), at the shipped
#   defaults: with unicast alone nothing proves a silent node down, and
#   fo would never be taken over (docs/orchestration.md);
# then starts every daemon and waits until node1's svcmon shows every node
# with all its services, and fo up on node1; exits 3 (with node1's svcmon
# and log) when that does not happen within WAIT_SECONDS.
# Usage: scale-cluster.sh LAB_ID SVCMGR_BINARY SERVICES [WAIT_SECONDS]  (default 600)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab.sh
[[ $# -eq 3 || $# -eq 4 ]] || { echo "usage: scale-cluster.sh LAB_ID SVCMGR_BINARY SERVICES [WAIT_SECONDS]" >&2; exit 2; }
id=$1 bin=$2 count=$3 wait=${4:-600}
[[ -x $bin ]] || { echo "scale-cluster: $bin is not an executable" >&2; exit 2; }
[[ $count =~ ^[0-9]+$ ]] || { echo "scale-cluster: SERVICES must be a number, not $count" >&2; exit 2; }
read -ra nodes <<<"$(bash "$LAB" get "$id" nodes)"
((${#nodes[@]} >= 2)) || { echo "scale-cluster: lab $id has ${#nodes[@]} node(s), fo needs 2" >&2; exit 2; }
rawhb=$(bash "$LAB" get "$id" disk_rawhb) || { echo "scale-cluster: lab $id has no rawhb disk (lab.sh up --disks rawhb:32M)" >&2; exit 2; }
FAKES=/opt/svcmgr-bench/fakes
NODE_ENV=(PATH=$FAKES:/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin OSVC_MOUNTINFO=/opt/svcmgr-bench/mountinfo)
on() { local n=$1; shift; bash "$LAB" exec "$id" "$n" env "${NODE_ENV[@]}" bash -c "$*"; }

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
# One mtime for cfgprobe on every node: the same stamp everywhere, so that
# replication has nothing to do until the benchmark changes it.
stamp=$(date +%s)
for n in "${nodes[@]}"; do
    # Runs inside node n: every file is the node's own (its overlay).
    bash "$LAB" exec "$id" "$n" env "${NODE_ENV[@]}" bash -s -- "$n" "$count" "$bin" "$FAKES" "${nodes[*]}" "$secret" "$stamp" "$rawhb" <<'NODE'
set -euo pipefail
node=$1 count=$2 bin=$3 fakes=$4 all=$5 secret=$6 stamp=$7 rawhb=$8
k=${node#node}
ln -sf "$bin" /usr/bin/svcmgr
ln -sf svcmgr /usr/bin/nodemgr
ln -sf svcmgr /usr/bin/svcmon
mkdir -p "$fakes" /etc/opensvc/fo.d
# As scripts/bench-daemon.sh: the answer is a shell literal printed by a builtin.
fake() {
    local quoted=${2//\'/\'\\\'\'}
    printf '#!/bin/sh\nprintf %%s\\\\n %s\n' "'$quoted'" >"$fakes/$1"
    chmod 755 "$fakes/$1"
}
# Every service up, as on a node that runs them all: ip shows every
# service's address, vgs the node's tag on any VG, and the mount table the
# fs driver reads (OSVC_MOUNTINFO, instead of /proc/self/mountinfo) every
# service's mount.
fake ip "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 192.0.2.22/27 brd 192.0.2.31 scope global eth0
$(for a in $(seq 100 199); do printf '    inet 192.0.2.%d/27 scope global secondary eth0\n' "$a"; done)"
# vgs: the daemon's monitor lists every VG at once (-o vg_name,...);
# a command-line status asks about its own VG.
cat >"$fakes/vgs" <<EOF
#!/bin/sh
case "\$*" in
*vg_name*) seq -f '  vg%g|$node|0' $count ;;
*) echo '  $node|0' ;;
esac
EOF
chmod 755 "$fakes/vgs"
fake mount "/dev/x on /nonexistent type ext4 (rw)"
fake ps "UID PID PPID C STIME TTY TIME CMD"
for i in $(seq "$count"); do
    printf '%d 1 253:1 / /srv/svcmgr-bench/m%d rw - ext4 /dev/x%d rw\n' $((100 + i)) "$i" "$i"
done >"$fakes/../mountinfo"
# The fs driver checks that a mounted fs is writable.
mkdir -p $(seq -f /srv/svcmgr-bench/m%g "$count")
for i in $(seq "$count"); do
    printf '[DEFAULT]\nservice_type = TST\nnodes = %s\n[ip#0]\nipname = 192.0.2.%d\nipdev = eth0\n[vg#0]\nvgname = vg%d\n[fs#0]\ntype = ext4\ndev = /dev/x%d\nmnt = /srv/svcmgr-bench/m%d\n' \
        "$node" $((100 + i % 100)) "$i" "$i" "$i" >"/etc/opensvc/n${k}s$i.conf"
done
# Written aside and renamed: a reader polling /run/fo.up (bench-scale.sh)
# must never find it created but still empty.
printf '#!/bin/sh\ndate +%%s.%%N >/run/fo.up.new && mv /run/fo.up.new /run/fo.up\n' >/etc/opensvc/fo.d/S10fo
printf '#!/bin/sh\nrm -f /run/fo.up\n' >/etc/opensvc/fo.d/K10fo
printf '#!/bin/sh\ntest -e /run/fo.up\n' >/etc/opensvc/fo.d/C10fo
chmod 755 /etc/opensvc/fo.d/*
if [[ $node == node1 || $node == node2 ]]; then
    printf '[DEFAULT]\nservice_type = TST\nnodes = node1 node2\nautostart_node = node1\norchestrate = ha\n[app]\ndir = /etc/opensvc/fo.d\n' >/etc/opensvc/fo.conf
    touch -d "@$stamp" /etc/opensvc/fo.conf
fi
mkdir -p /etc/opensvc/cfgprobe.d
printf '[DEFAULT]\nservice_type = TST\napp = cfg0\nnodes = %s\n[app]\ndir = /etc/opensvc/cfgprobe.d\n' "$all" >/etc/opensvc/cfgprobe.conf
touch -d "@$stamp" /etc/opensvc/cfgprobe.conf
nodemgr set --param cluster.nodes --value "$all"
nodemgr set --param cluster.secret --value "$secret"
nodemgr set --param hb#1.type --value unicast
nodemgr set --param hb#2.type --value disk
nodemgr set --param hb#2.dev --value "$rawhb"
NODE
done
# The daemons, started as lab/cluster.sh does, with the fakes on their PATH.
for n in "${nodes[@]}"; do
    on "$n" "nodemgr daemon start"
done

# node1 sees every node with all its services (its own, fo where it runs,
# cfgprobe), and fo up on node1.
ready() {
    on node1 "svcmon --format json" 2>/dev/null | python3 -c '
import json, sys
count, nodes = int(sys.argv[1]), sys.argv[2:]
st = json.load(sys.stdin).get("nodes", {})
for i, n in enumerate(nodes):
    svcs = (st.get(n) or {}).get("services") or {}
    if len(svcs) < count + (2 if i < 2 else 1):
        sys.exit(1)
sys.exit(0 if st["node1"]["services"]["fo"].get("avail") == "up" else 1)
' "$count" "${nodes[@]}" 2>/dev/null
}
end=$((SECONDS + wait))
until ready; do
    if ((SECONDS >= end)); then
        echo "scale-cluster: after ${wait}s node1 does not show every node's services with fo up; its svcmon and logs:" >&2
        on node1 "svcmon | head -40; tail -20 /var/log/opensvc/node.log" >&2 || true
        exit 3
    fi
    sleep 1
done
