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
# Then the second tutorial, automatic failover, on a fresh lab: the agent
# daemons started (svcmon), a unicast heartbeat (svcmon), a disk heartbeat
# (the proof a silent node is down), `svcmgr -s svc1 create`, svc1 made a
# failover service with `orchestrate = ha` (lab/svc1.sh), thawed: the daemon
# starts it on node1 (svcmon), the client fetches the page from
# p27.opensvc.com; node1 loses power, node2 takes svc1 over (svcmon), the
# client fetches the page again, node2's takeover log line.
# Each step checks what it shows; any miss fails the demo (non-zero).
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

fetch() { # [IP]: the page from the service address
    local page="" ip=${1:-192.0.2.26}
    for _ in $(seq 50); do
        page=$(bash "$LAB" client "$ID" curl -sf --max-time 1 "http://$ip:8080/") && break
        sleep 0.1
    done
    echo "$page"
    [[ $page == *"It Works !"* ]] || { echo "demo: the client did not get the page" >&2; exit 1; }
}

step "lab up: 2 nodes, a client, 2 shared disks, a volume group"
ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M --vg --ssh)
down() { [[ -z ${ID:-} ]] || { step "lab down $ID"; bash "$LAB" down "$ID"; ID=""; }; }
trap down EXIT
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

svcmon_shows() { # NODE ERE: svcmon on NODE until a line matches (10 s), shown
    local out=""
    for _ in $(seq 50); do
        out=$(on "$1" svcmon) && grep -Eq "$2" <<<"$out" && break
        out=""
        sleep 0.2
    done
    on "$1" svcmon
    [[ -n $out ]] || { echo "demo: svcmon on $1 never showed /$2/" >&2; exit 1; }
}

step "Part 2: automatic failover (the second tutorial), on a fresh lab"
down
ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M,rawhb:8M --ssh)
echo "lab $ID: disks $(bash "$LAB" get "$ID" disk_app) $(bash "$LAB" get "$ID" disk_data) $(bash "$LAB" get "$ID" disk_rawhb)"
step "node1, node2: install svcmgr; nodemgr daemon start; nodemgr daemon running"
for n in node1 node2; do
    on $n "ln -s $BIN /usr/bin/svcmgr && ln -s svcmgr /usr/bin/nodemgr && ln -s svcmgr /usr/bin/svcmon &&
        nodemgr daemon start && nodemgr daemon running && echo $n: running"
done
step "node1: svcmon"
svcmon_shows node1 '^ scheduler running$'

step "node1, node2: [cluster] nodes and secret; nodemgr set --param hb#1.type --value unicast"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in node1 node2; do
    on $n "nodemgr set --param cluster.nodes --value 'node1 node2' && nodemgr set --param cluster.secret --value $secret &&
        nodemgr set --param hb#1.type --value unicast"
done
step "node1: svcmon (node2 beating: O)"
svcmon_shows node1 '^ hb#1.rx   running 0.0.0.0:10000 +\| /     O$'

step "node1, node2: a disk heartbeat on a shared raw disk: a node is taken over only when proven down"
for n in node1 node2; do
    on $n "nodemgr set --param hb#2.type --value disk && nodemgr set --param hb#2.dev --value $(bash "$LAB" get "$ID" disk_rawhb)"
done
svcmon_shows node1 '^ hb#2.rx   running .*\| /     O$'

step "node1: svcmgr -s svc1 create (frozen: *)"
on node1 "svcmgr -s svc1 create && cd /etc/opensvc && ls -l | grep svc1"
svcmon_shows node1 '^ svc1 .*\| /\*'

step "node1: svc1 made the tutorial's failover service (svcmgr set), its config on node2 (lab/svc1.sh)"
bash lab/svc1.sh "$ID"
on node1 "cat /etc/opensvc/svc1.conf"

step "node1: svcmgr -s svc1 thaw: an order to the cluster: both instances thawed, the daemon starts svc1 on node1"
on node1 "svcmgr -s svc1 thaw"
svcmon_shows node1 '^ svc1 .*\| O!?\^'
step "node2: svcmon (svc1 seen up on node1; node2's instance thawed too: no *)"
svcmon_shows node2 '^ svc1 .*\| O!?\^ +X$'
step "node1: svcmgr -s svc1 syncnodes --force (the config copied by hand is recorded as synced)"
on node1 "svcmgr -s svc1 syncnodes --force"
step "node1: svcmon (svc1 up on node1, the placement leader: O^)"
svcmon_shows node1 '^ svc1 .*\| O\^    X$'
step "client: wget -qO - http://p27.opensvc.com:8080/"
fetch 192.0.2.27

step "node1 loses power (link down, every process killed)"
bash "$LAB" kill "$ID" node1
step "node2: svcmon (node1 lost: ?; svc1 taken over: O^)"
svcmon_shows node2 '^ svc1 .*\| \?     O\^$'
step "client: wget -qO - http://p27.opensvc.com:8080/ (now served by node2)"
fetch 192.0.2.27
step "node2: grep 'started here' /var/log/opensvc/node.log"
on node2 "grep 'svc1: started here' /var/log/opensvc/node.log"
on node2 "nodemgr daemon stop"
