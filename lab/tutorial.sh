#!/usr/bin/env bash
# Installs the first tutorial's service p26.opensvc.com in a lab made with
# `lab.sh up --disks app:32M,data:32M --vg`: the web launcher and its page on
# the shared disks, and on each given node svcmgr (in the node's own
# /usr/bin), /etc/opensvc/p26.opensvc.com.conf, the .d and service links.
# Usage: tutorial.sh LAB_ID SVCMGR_BINARY NODE...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab.sh
id=$1 bin=$2
shift 2
app=$(bash "$LAB" get "$id" disk_app)
data=$(bash "$LAB" get "$id" disk_data)
vg=$(bash "$LAB" get "$id" vg)
on() { local n=$1; shift; bash "$LAB" exec "$id" "$n" bash -c "$*"; }

bash "$HERE/app-disks.sh" "$id" "$1"

for node in "$@"; do
    on "$node" "ln -sf $bin /usr/bin/svcmgr && ln -sf svcmgr /usr/bin/nodemgr && ln -sf svcmgr /usr/bin/svcmon && cat >/etc/opensvc/p26.opensvc.com.conf <<CONF
[DEFAULT]
app = MyApp
service_type = TST
autostart_node = node1
nodes = node1 node2

[ip#0]
ipname = p26.opensvc.com
ipdev = eth0

[vg#0]
vgname = $vg

[fs#0]
type = ext4
mnt = /svc1/app
dev = $app

[fs#1]
type = ext4
mnt = /svc1/data
dev = $data
CONF
cd /etc/opensvc && ln -sfn /svc1/app/init.d p26.opensvc.com.d && ln -sf /usr/bin/svcmgr p26.opensvc.com &&
/etc/opensvc/p26.opensvc.com print status >/dev/null"
done
