#!/usr/bin/env bash
# PID 1 of a lab node. Runs in the node's own network, mount, UTS and PID
# namespaces (made by lab.sh): gives the node its host name and a private,
# writable view of the whole filesystem (an overlay over the host's /), so
# that /etc/opensvc, /var/lib/opensvc, /etc/hosts and mount points such as
# /svc1/app are the node's own and nothing reaches the host's files.
# Started again by `lab.sh boot` after the node died: the upper dir (the
# node's disk) is kept, everything in memory (/run, mounts, processes) is new.
# Args: NODE STATE_DIR HOSTS_FILE LAB_DIR
set -euo pipefail
node=$1 state=$2 hosts=$3 lab=$4
root=$state/$node/root
mkdir -p "$state/$node/upper" "$state/$node/work" "$root"

hostname "$node"
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$state/$node/upper,workdir=$state/$node/work" "$root"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t proc proc "$root/proc"
# A node-private /run: LVM caches and locks, pid files.
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir -p "$root/run/lock" "$root/run/lvm"
cp "$hosts" "$root/etc/hosts"
# LVM tears down an AIO context after every command, which waits for a
# kernel RCU grace period: ~40 ms of each vgs/vgchange on this VM. The
# node's own lvm.conf turns AIO off (BENCHMARKS.md gives both figures).
if [[ -f $root/etc/lvm/lvm.conf ]]; then
    sed -i 's/^\(\s*\)# use_aio = 1$/\1use_aio = 0/' "$root/etc/lvm/lvm.conf"
fi
echo "$node" >"$root/etc/hostname"
mkdir -p "$root/etc/opensvc" "$root/var/lib/opensvc" "$root/var/log/opensvc" "$root/var/tmp/opensvc"
touch "$state/$node/ready"
# Stay as PID 1 inside the node's root, as its service manager (it reaps
# orphans too). SIGKILL of this process is the node's power loss.
exec chroot "$root" /bin/bash "$lab/node-services.sh"
