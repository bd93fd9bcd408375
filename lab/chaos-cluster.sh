#!/usr/bin/env bash
# The chaos suite's cluster (tests/chaos/), on every node of a lab made with
#   lab.sh up --nodes N --disks app:32M,data:32M,fsdata:32M,rawhb:8M --vg
# so that a person can build the same cluster by hand and replay a fault:
# - svcmgr, nodemgr and svcmon in each node's own /usr/bin;
# - the shared disks: the web launcher and its page on app and data
#   (lab/app-disks.sh), fsdata as lab.sh made it (ext4), rawhb raw;
# - four orchestrated services (orchestrate = ha, nodes = every node,
#   service_type = TST, which validate requires), the same config on every
#   node, every resource with restart = 1:
#     p26.opensvc.com  the first tutorial's service (ip p26, the lab's VG,
#                      /svc1/app and /svc1/data, the web launcher on 8080)
#     ipsvc            an address only (p27.opensvc.com)
#     fssvc            a filesystem only (/fssvc on the fsdata disk)
#     appsvc           an address (p28.opensvc.com) and a web server on 8081
#                      from a local launcher dir, monitor = true with
#                      monitor_action = freezestop;
# - node.conf: every node in cluster.nodes, one random secret, a unicast
#   heartbeat (hb#1) and a disk heartbeat on rawhb (hb#2);
# - the agent enabled on every node (/etc/svcmgr-lab/agent: the node's PID 1,
#   lab/node-services.sh, starts it and restarts it when it dies);
# then waits until every node's daemon hears every other node.
# Usage: chaos-cluster.sh LAB_ID SVCMGR_BINARY
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LAB=$HERE/lab.sh
[[ $# -eq 2 ]] || { echo "usage: chaos-cluster.sh LAB_ID SVCMGR_BINARY" >&2; exit 2; }
id=$1 bin=$2
[[ -x $bin ]] || { echo "chaos-cluster: $bin is not an executable" >&2; exit 2; }
get() { bash "$LAB" get "$id" "$1" || { echo "chaos-cluster: lab $id has no $1 (see the lab.sh up line above)" >&2; exit 2; }; }
read -ra nodes <<<"$(get nodes)"
app=$(get disk_app)
data=$(get disk_data)
fsdata=$(get disk_fsdata)
rawhb=$(get disk_rawhb)
vg=$(get vg)
# Node commands see /etc/opensvc on PATH, as the tutorial's profile does.
on() { local n=$1; shift; bash "$LAB" exec "$id" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"; }
# Writes stdin to FILE inside node N (atomically: a daemon may read it).
put() { bash "$LAB" exec "$id" "$1" bash -c "cat >'$2.new' && mv '$2.new' '$2'"; }

bash "$HERE/app-disks.sh" "$id" "${nodes[0]}"

p26_conf() {
    cat <<CONF
[DEFAULT]
app = MyApp
service_type = TST
autostart_node = ${nodes[0]}
nodes = ${nodes[*]}
orchestrate = ha

[ip#0]
ipname = p26.opensvc.com
ipdev = eth0
restart = 1

[vg#0]
vgname = $vg
restart = 1

[fs#0]
type = ext4
mnt = /svc1/app
dev = $app
restart = 1

[fs#1]
type = ext4
mnt = /svc1/data
dev = $data
restart = 1

[app]
restart = 1
CONF
}

ipsvc_conf() {
    cat <<CONF
[DEFAULT]
service_type = TST
nodes = ${nodes[*]}
orchestrate = ha

[ip#0]
ipname = p27.opensvc.com
ipdev = eth0
restart = 1
CONF
}

fssvc_conf() {
    cat <<CONF
[DEFAULT]
service_type = TST
nodes = ${nodes[*]}
orchestrate = ha

[fs#0]
type = ext4
mnt = /fssvc
dev = $fsdata
restart = 1
CONF
}

# A real directory as launcher dir is refused unless [app] dir names it
# (src/driver/app/mod.rs): appsvc.d is local to each node, not on a shared disk.
appsvc_conf() {
    cat <<CONF
[DEFAULT]
service_type = TST
nodes = ${nodes[*]}
orchestrate = ha
monitor_action = freezestop

[ip#0]
ipname = p28.opensvc.com
ipdev = eth0

[app]
dir = /etc/opensvc/appsvc.d
restart = 1
monitor = true
CONF
}

# appsvc's launcher: the demo's web launcher with its own root, pid file
# (node-private /run: gone with the node's memory) and port.
appsvc_web() {
    cat <<SCRIPT
#!/bin/bash
SVCROOT=/srv/appsvc PIDFILE=/run/appsvc-web.pid PORT=8081 exec $REPO/demo/weblauncher "\$@"
SCRIPT
}

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in "${nodes[@]}"; do
    on "$n" "ln -sf $bin /usr/bin/svcmgr && ln -sf svcmgr /usr/bin/nodemgr && ln -sf svcmgr /usr/bin/svcmon &&
        mkdir -p /etc/opensvc/appsvc.d /srv/appsvc/data &&
        echo '<html><body>appsvc works</body></html>' >/srv/appsvc/data/index.html"
    p26_conf | put "$n" /etc/opensvc/p26.opensvc.com.conf
    ipsvc_conf | put "$n" /etc/opensvc/ipsvc.conf
    fssvc_conf | put "$n" /etc/opensvc/fssvc.conf
    appsvc_conf | put "$n" /etc/opensvc/appsvc.conf
    appsvc_web | put "$n" /etc/opensvc/appsvc.d/web
    on "$n" "cd /etc/opensvc && chmod 755 appsvc.d/web &&
        for l in S10web K10web C10web; do ln -sfn web appsvc.d/\$l; done &&
        ln -sfn /svc1/app/init.d p26.opensvc.com.d &&
        for s in p26.opensvc.com ipsvc fssvc appsvc; do ln -sf /usr/bin/svcmgr \$s; done"
    for s in p26.opensvc.com ipsvc fssvc appsvc; do
        if ! out=$(on "$n" "svcmgr -s $s validate config" 2>&1); then
            echo "chaos-cluster: $n: the config of $s does not validate:" >&2
            echo "$out" >&2
            exit 1
        fi
    done
    on "$n" "nodemgr set --param cluster.nodes --value '${nodes[*]}' &&
        nodemgr set --param cluster.secret --value $secret &&
        nodemgr set --param hb#1.type --value unicast &&
        nodemgr set --param hb#2.type --value disk &&
        nodemgr set --param hb#2.dev --value $rawhb"
done

# systemctl enable --now opensvc-agent, on every node.
for n in "${nodes[@]}"; do
    on "$n" "mkdir -p /etc/svcmgr-lab && touch /etc/svcmgr-lab/agent"
done

# Every daemon hears every other node (svcmon's .nodes.<peer> is an object).
hears_all() { # node
    on "$1" "svcmon --format json" 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)
sys.exit(0 if all(isinstance(st.get("nodes", {}).get(p), dict) for p in sys.argv[1:]) else 1)
' "${nodes[@]}" 2>/dev/null
}
for n in "${nodes[@]}"; do
    for _ in $(seq 120); do
        hears_all "$n" && continue 2
        sleep 0.5
    done
    echo "chaos-cluster: $n does not hear every node after 60 s; its svcmon and agent log:" >&2
    on "$n" "svcmon; tail -20 /var/log/svcmgr-lab/agent.log; tail -20 /var/log/opensvc/node.log" >&2 || true
    exit 1
done
