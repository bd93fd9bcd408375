#!/usr/bin/env bash
# The second tutorial's svc1, after `svcmgr -s svc1 create` on node1, made
# the tutorial's failover service through the CLI (`svcmgr -s svc1 set`):
# nodes node1 node2, orchestrate = ha, ip#0 on p27.opensvc.com (192.0.2.27)
# dev eth0, fs#0 /svc1/app and fs#1 /svc1/data on the lab's shared disks
# `app` and `data` with the web launcher and its page (lab/app-disks.sh),
# svc1.d -> /svc1/app/init.d; then the same config on node2.
# node2 gets a frozen svc1 (its own `create`) before node1's config names
# it: however the config reaches node2 (this copy, or the daemons' own
# replication), node2's daemon must not start svc1 before it is thawed.
# The config is copied explicitly, so this works with or without that
# replication. Prints each command as it runs it.
# Usage: svc1.sh LAB_ID
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab.sh
id=$1
app=$(bash "$LAB" get "$id" disk_app)
data=$(bash "$LAB" get "$id" disk_data)
on() {
    local n=$1
    shift
    echo "$n# $*"
    bash "$LAB" exec "$id" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"
}

bash "$HERE/app-disks.sh" "$id" node1
on node2 "[ -e /etc/opensvc/svc1.conf ] || svcmgr -s svc1 create"
set_() { on node1 "svcmgr -s svc1 set --param $1 --value '$2'"; }
set_ DEFAULT.nodes "node1 node2"
set_ DEFAULT.orchestrate ha
set_ ip#0.ipname p27.opensvc.com
set_ ip#0.ipdev eth0
set_ fs#0.type ext4
set_ fs#0.mnt /svc1/app
set_ fs#0.dev "$app"
set_ fs#1.type ext4
set_ fs#1.mnt /svc1/data
set_ fs#1.dev "$data"
on node1 "ln -sfn /svc1/app/init.d /etc/opensvc/svc1.d && svcmgr -s svc1 validate config"
echo "node1# cat /etc/opensvc/svc1.conf | node2# cat >/etc/opensvc/svc1.conf"
bash "$LAB" exec "$id" node1 cat /etc/opensvc/svc1.conf |
    bash "$LAB" exec "$id" node2 bash -c "cat >/etc/opensvc/svc1.conf.new && mv /etc/opensvc/svc1.conf.new /etc/opensvc/svc1.conf"
on node2 "ln -sfn /svc1/app/init.d /etc/opensvc/svc1.d && svcmgr -s svc1 validate config"
