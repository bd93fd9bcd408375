#!/usr/bin/env bash
# The first tutorial on real kernel objects, on this one machine:
#   - node1: a network namespace with eth0 (veth) on 192.0.2.0/27, its own
#     mount namespace (the one `ip netns exec` makes for the inner script);
#   - client: a second namespace on the same link, to reach the service ip;
#   - two ext4 filesystems on loop devices (the tutorial's LUNs) and an LVM
#     volume group on a third loop device;
#   - the service p26.opensvc.com (ip, vg, 2 fs, the web launcher) started,
#     shown, fetched from the client, stopped.
# Every object gets a unique name and is removed on exit, also on failure.
# Run as root: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "demo: run as root (it creates namespaces, loop devices and a VG)" >&2; exit 1; }

bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr

ID=svd$$
NODE=$ID-node1
CLIENT=$ID-client
VG=${ID}vg
WORK=$(mktemp -d /tmp/svcmgr-demo.XXXXXX)
LOOPS=()

cleanup() {
    set +e
    # The web server is ours: stop it by the pid it recorded, if still there.
    if [[ -s $WORK/webserver.pid ]]; then
        pid=$(cat "$WORK/webserver.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ip netns del "$NODE" 2>/dev/null
    ip netns del "$CLIENT" 2>/dev/null
    vgremove -f -y "$VG" >/dev/null 2>&1
    for l in "${LOOPS[@]}"; do
        pvremove -f -y "$l" >/dev/null 2>&1
        losetup -d "$l" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab: namespaces $NODE and $CLIENT, veth link, loop disks, VG $VG"
ip netns add "$NODE"
ip netns add "$CLIENT"
ip link add "$ID-n" type veth peer name "$ID-c"
ip link set "$ID-n" netns "$NODE"
ip link set "$ID-c" netns "$CLIENT"
ip -n "$NODE" link set "$ID-n" name eth0
ip -n "$CLIENT" link set "$ID-c" name eth0
ip -n "$NODE" addr add 192.0.2.22/27 dev eth0
ip -n "$CLIENT" addr add 192.0.2.10/27 dev eth0
for ns in "$NODE" "$CLIENT"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
done

mkdisk() {
    truncate -s "$2" "$WORK/$1.img"
    local dev
    dev=$(losetup -f --show "$WORK/$1.img")
    LOOPS+=("$dev")
    echo "$dev"
}
APPDEV=$(mkdisk app 32M)
DATADEV=$(mkdisk data 32M)
PVDEV=$(mkdisk pv 16M)
mkfs.ext4 -q -m 0 "$APPDEV"
mkfs.ext4 -q -m 0 "$DATADEV"
LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -q -y "$PVDEV" >/dev/null
LVM_SUPPRESS_FD_WARNINGS=1 vgcreate -q "$VG" "$PVDEV" >/dev/null

# The application lives on the shared disks, as in the tutorial.
mkdir -p "$WORK/seed"
mount "$APPDEV" "$WORK/seed"
mkdir -p "$WORK/seed/init.d"
install -m 755 demo/weblauncher "$WORK/seed/init.d/weblauncher"
for l in S10 K90 C10; do ln -s weblauncher "$WORK/seed/init.d/${l}weblauncher"; done
umount "$WORK/seed"
mount "$DATADEV" "$WORK/seed"
echo '<html><body>It Works !</body></html>' >"$WORK/seed/index.html"
umount "$WORK/seed"

R=$WORK/osvc
mkdir -p "$R/etc"
cat >"$R/etc/p26.opensvc.com.conf" <<CONF
[DEFAULT]
app = MyApp
service_type = TST
autostart_node = node1
nodes = node1 node2

[ip#0]
ipname = p26.opensvc.com
ipdev = eth0

[vg#0]
vgname = $VG

[fs#0]
type = ext4
mnt = $WORK/svc1/app
dev = $APPDEV

[fs#1]
type = ext4
mnt = $WORK/svc1/data
dev = $DATADEV
CONF
ln -s "$WORK/svc1/app/init.d" "$R/etc/p26.opensvc.com.d"
ln -s "$BIN" "$R/etc/p26.opensvc.com"
printf '127.0.0.1 localhost\n192.0.2.22 node1\n192.0.2.26 p26.opensvc.com\n' >"$WORK/hosts"

# Everything the node does runs in one shell inside its namespace, so the
# mounts svcmgr makes live in the node's own mount namespace.
cat >"$WORK/node1.sh" <<INNER
set -euo pipefail
mount --bind "$WORK/hosts" /etc/hosts
export OSVC_ROOT_PATH="$R" OSVC_NODENAME=node1 SVCROOT="$WORK/svc1" PIDFILE="$WORK/webserver.pid" PATH="$R/etc:\$PATH"
step() { printf '\n\033[1m== %s\033[0m\n' "\$*"; }
step "node1: p26.opensvc.com print status"
p26.opensvc.com print status
step "node1: p26.opensvc.com start"
p26.opensvc.com start
step "node1: p26.opensvc.com print status"
p26.opensvc.com print status
step "client: wget -qO - http://p26.opensvc.com:8080/"
for i in \$(seq 50); do
    ip netns exec "$CLIENT" curl -sf --max-time 1 http://192.0.2.26:8080/ && break
    sleep 0.1
done
page=\$(ip netns exec "$CLIENT" curl -sf --max-time 2 http://192.0.2.26:8080/)
[[ \$page == *"It Works !"* ]] || { echo "demo: the client did not get the page" >&2; exit 1; }
step "node1: p26.opensvc.com stop"
p26.opensvc.com stop
step "node1: p26.opensvc.com print status"
p26.opensvc.com print status || true
INNER
ip netns exec "$NODE" bash "$WORK/node1.sh"
step "demo done: cleaning up the lab"
