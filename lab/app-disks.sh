#!/usr/bin/env bash
# The tutorials' application on the lab's shared disks (`lab.sh up --disks
# app:32M,data:32M`): the web launcher and its S10/K90/C10 links in
# init.d/ on the `app` disk, the page `It Works !` on the `data` disk,
# written from NODE (mounted there, then unmounted).
# Usage: app-disks.sh LAB_ID NODE
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab.sh
id=$1 node=$2
app=$(bash "$LAB" get "$id" disk_app)
data=$(bash "$LAB" get "$id" disk_data)
bash "$LAB" exec "$id" "$node" bash -c "mkdir -p /mnt/a /mnt/d && mount $app /mnt/a && mount $data /mnt/d &&
    mkdir -p /mnt/a/init.d && install -m 755 $HERE/../demo/weblauncher /mnt/a/init.d/weblauncher &&
    for l in S10 K90 C10; do ln -sf weblauncher /mnt/a/init.d/\${l}weblauncher; done &&
    echo '<html><body>It Works !</body></html>' >/mnt/d/index.html &&
    umount /mnt/a /mnt/d"
