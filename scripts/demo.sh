#!/usr/bin/env bash
# The first tutorial on real kernel objects, on this one machine, in the lab
# (lab/lab.sh): nodes node1 and node2 (own network, mount, UTS and PID
# namespaces, eth0 on one bridge, an sshd each, root keys trusted as in the
# tutorial), a client namespace, two ext4 "LUNs" on loop devices and an LVM
# volume group. With the tutorial's paths:
#   1. on node1: the service's config, print status, start, print status, the
#      client fetches "It Works !" from the service address;
#   2. "Service Failover": syncnodes (skipped: outside the allowed period),
#      syncnodes --force (config replicated to node2 over ssh/rsync), both
#      trees, stop on node1, start on node2, the client now reaches node2,
#      a start on node1 refused for the address conflict, stop.
# Every object is removed on exit, also on failure. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "demo: run as root (it creates namespaces, loop devices and a VG)" >&2; exit 1; }

bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
on() { # on NODE 'shell line': runs in the node, with /etc/opensvc on PATH as the tutorial's profile does
    local node=$1
    shift
    bash "$LAB" exec "$ID" "$node" env PATH="/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin" bash -c "$*"
}

fetch() {
    local page=""
    for _ in $(seq 50); do
        page=$(bash "$LAB" client "$ID" curl -sf --max-time 1 http://192.0.2.26:8080/) && break
        sleep 0.1
    done
    echo "$page"
    [[ $page == *"It Works !"* ]] || { echo "demo: the client did not get the page" >&2; exit 1; }
}

step "lab up: 2 nodes, a client, 2 shared disks, a volume group"
ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M --vg --ssh)
trap 'step "lab down $ID"; bash "$LAB" down "$ID"' EXIT
echo "lab $ID: disks $(bash "$LAB" get "$ID" disk_app) $(bash "$LAB" get "$ID" disk_data), vg $(bash "$LAB" get "$ID" vg)"

step "node1: install svcmgr and the tutorial's service (lab/tutorial.sh); node2: svcmgr only"
bash lab/tutorial.sh "$ID" "$BIN" node1
on node2 "ln -s $BIN /usr/bin/svcmgr && ln -s svcmgr /usr/bin/nodemgr"
step "node1: cat /etc/opensvc/p26.opensvc.com.conf"
on node1 "cat /etc/opensvc/p26.opensvc.com.conf; ls -l /etc/opensvc"

step "node1: p26.opensvc.com print status"
on node1 "p26.opensvc.com print status"
step "node1: p26.opensvc.com start"
on node1 "p26.opensvc.com start"
step "node1: p26.opensvc.com print status"
on node1 "p26.opensvc.com print status"
step "client: wget -qO - http://p26.opensvc.com:8080/"
fetch

step "Service Failover"
step "node1: ssh node2 ls /etc/opensvc/ | grep p26.opensvc.com"
on node1 "ssh -o StrictHostKeyChecking=accept-new node2 ls /etc/opensvc/ | grep p26.opensvc.com" || echo "(nothing yet)"
step "node1: svcmgr -s p26.opensvc.com syncnodes"
on node1 "svcmgr -s p26.opensvc.com syncnodes"
step "node1: svcmgr -s p26.opensvc.com syncnodes --force"
on node1 "svcmgr -s p26.opensvc.com syncnodes --force"
step "node1: ssh node2 ls -l /etc/opensvc | grep p26.opensvc.com"
on node1 "ssh node2 ls -l /etc/opensvc | grep p26.opensvc.com"
step "node1: svcmgr -s p26.opensvc.com print status"
on node1 "svcmgr -s p26.opensvc.com print status"
step "node1: svcmgr -s p26.opensvc.com stop"
on node1 "svcmgr -s p26.opensvc.com stop"
step "node2: p26.opensvc.com start"
on node2 "p26.opensvc.com start"
step "node2: p26.opensvc.com print status"
on node2 "p26.opensvc.com print status"
step "client: wget -qO - http://p26.opensvc.com:8080/ (now served by node2)"
fetch
step "node1: p26.opensvc.com start (refused: the address is up on node2)"
if on node1 "p26.opensvc.com start"; then
    echo "demo: node1 started a service already running on node2" >&2
    exit 1
fi
echo "exit code 1, as expected"
step "node2: p26.opensvc.com stop"
on node2 "p26.opensvc.com stop"
step "client: the service address no longer answers"
if bash "$LAB" client "$ID" curl -sf --max-time 1 http://192.0.2.26:8080/ >/dev/null; then
    echo "demo: the page is still served after stop" >&2
    exit 1
fi
echo "no answer, as expected"
