#!/usr/bin/env bash
# A lab of cluster "nodes" on this one machine, for tests and for people.
#
#   lab.sh up [--nodes N] [--disks app:32M,data:32M] [--vg] [--ssh]   prints the lab id
#   lab.sh exec ID NODE CMD...      run CMD inside node NODE (node1, node2...)
#   lab.sh client ID CMD...         run CMD in the client namespace
#   lab.sh get ID KEY               a value of the lab's state (disk_app, vg, pid_node1...)
#   lab.sh kill ID NODE             power loss: the node's link goes down and a SIGKILL of its
#                                   PID 1 ends every process of the node at once
#   lab.sh down ID                  remove everything the lab made
#   lab.sh list                     ids of the labs that exist
#
# A node = network + mount + UTS + PID namespaces: its own host name, its own
# writable view of the filesystem (overlay over /: /etc/opensvc, /etc/hosts,
# /var/lib/opensvc... are the node's own), eth0 on a bridge in a switch
# namespace, 192.0.2.0/27 (node1 .21, node2 .22, ..., the client .10; .26 and
# .27 are free for service addresses, named p26.opensvc.com and p27.opensvc.com
# in every node's /etc/hosts). Shared disks are loop devices on sparse files,
# visible to every node like SAN LUNs, with ext4 except those named raw*;
# --vg adds an LVM VG on its own loop PV.
# --ssh starts an sshd inside every node (its own host keys) and gives each
# node's root one key pair made for this lab, trusted by every node, as the
# tutorial's "SSH Keys Setup" does.
# Every object is named after the lab id and removed by `down`, which also
# works on a half-built lab.
set -euo pipefail

RUN_BASE=/run/svcmgr-lab     # overlay upper dirs: tmpfs, outside the overlay's lower /
DISK_BASE=/var/tmp/svcmgr-lab
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUBNET=192.0.2

die() { echo "lab: $*" >&2; exit 1; }
need_root() { [[ $EUID -eq 0 ]] || die "run as root (namespaces, loop devices, LVM)"; }
state_file() { echo "$RUN_BASE/$1/state"; }
put() { echo "$2=$3" >>"$(state_file "$1")"; }
get() {
    local f
    f=$(state_file "$1")
    [[ -f $f ]] || die "no lab $1"
    awk -F= -v k="$2" '$1 == k { v = substr($0, length(k) + 2) } END { if (v == "") exit 1; print v }' "$f"
}

node_addr() { echo "$SUBNET.$((20 + ${1#node}))"; }

cmd_up() {
    need_root
    local nodes=2 disks="" vg=0 ssh=0
    while (($#)); do
        case $1 in
        --nodes) nodes=$2; shift 2 ;;
        --disks) disks=$2; shift 2 ;;
        --vg) vg=1; shift ;;
        --ssh) ssh=1; shift ;;
        *) die "up: unknown option $1" ;;
        esac
    done
    local id
    for _ in $(seq 20); do
        id=sl$(printf '%04x' $((RANDOM % 65536)))
        mkdir "$RUN_BASE/$id" 2>/dev/null && break
        mkdir -p "$RUN_BASE"
        id=""
    done
    [[ -n $id ]] || die "cannot allocate a lab id in $RUN_BASE"
    : >"$(state_file "$id")"
    # From here on, a failure tears down what was made.
    trap 'echo "lab: up failed, removing lab $id" >&2; cmd_down "$id" >/dev/null 2>&1 || true' ERR
    local work=$DISK_BASE/$id
    mkdir -p "$work"
    put "$id" work "$work"

    local hosts=$RUN_BASE/$id/hosts
    {
        echo "127.0.0.1 localhost"
        for i in $(seq "$nodes"); do echo "$(node_addr "node$i") node$i"; done
        echo "$SUBNET.10 client"
        echo "$SUBNET.26 p26.opensvc.com"
        echo "$SUBNET.27 p27.opensvc.com"
    } >"$hosts"

    ip netns add "$id-sw"
    put "$id" netns "$id-sw"
    ip -n "$id-sw" link add br0 type bridge
    ip -n "$id-sw" link set br0 up
    ip -n "$id-sw" link set lo up

    attach() { # netns, short name, address
        ip link add "$id$2e" type veth peer name "$id$2s"
        ip link set "$id$2e" netns "$1"
        ip link set "$id$2s" netns "$id-sw"
        ip -n "$1" link set "$id$2e" name eth0
        ip -n "$1" addr add "$3/27" dev eth0
        ip -n "$1" link set lo up
        ip -n "$1" link set eth0 up
        ip -n "$id-sw" link set "$id$2s" master br0
        ip -n "$id-sw" link set "$id$2s" up
    }

    ip netns add "$id-cl"
    put "$id" netns "$id-cl"
    attach "$id-cl" cl "$SUBNET.10"

    local names=()
    for i in $(seq "$nodes"); do
        local n=node$i
        names+=("$n")
        ip netns add "$id-$n"
        put "$id" netns "$id-$n"
        attach "$id-$n" "n$i" "$(node_addr "$n")"
        # --kill-child: if unshare dies, so does the node.
        ip netns exec "$id-$n" unshare --mount --uts --pid --kill-child --mount-proc \
            bash "$HERE/node-init.sh" "$n" "$RUN_BASE/$id" "$hosts" </dev/null >"$RUN_BASE/$id/$n.log" 2>&1 &
        local outer=$!
        put "$id" "outer_$n" "$outer"
        local pid=""
        for _ in $(seq 100); do
            [[ -f $RUN_BASE/$id/$n/ready ]] && pid=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | awk '{print $1}')
            [[ -n $pid ]] && break
            kill -0 "$outer" 2>/dev/null || break
            sleep 0.05
        done
        [[ -n $pid ]] || { cat "$RUN_BASE/$id/$n.log" >&2; false; }
        put "$id" "pid_$n" "$pid"
    done
    put "$id" nodes "${names[*]}"

    if [[ -n $disks ]]; then
        local spec
        IFS=, read -ra spec <<<"$disks"
        for d in "${spec[@]}"; do
            local name=${d%%:*} size=${d#*:}
            truncate -s "$size" "$work/$name.img"
            local dev
            dev=$(losetup -f --show "$work/$name.img")
            put "$id" "disk_$name" "$dev"
            put "$id" loops "$dev"
            # Disks named raw* stay raw (zeroed): a disk heartbeat's slots.
            [[ $name == raw* ]] || mkfs.ext4 -q -m 0 "$dev"
        done
    fi
    if ((vg)); then
        truncate -s 16M "$work/pv.img"
        local pv
        pv=$(losetup -f --show "$work/pv.img")
        put "$id" loops "$pv"
        put "$id" pv "$pv"
        pvcreate -q -y "$pv" >/dev/null 2>&1
        vgcreate -q "${id}vg" "$pv" >/dev/null 2>&1
        put "$id" vg "${id}vg"
    fi
    if ((ssh)); then
        local key=$RUN_BASE/$id/id_ed25519
        ssh-keygen -q -t ed25519 -N '' -C "svcmgr-lab-$id" -f "$key"
        for n in "${names[@]}"; do
            # Host keys and /root/.ssh are written in the node's own overlay;
            # the node has its own /run, so the key travels in the environment.
            LAB_KEY=$(cat "$key") LAB_PUB=$(cat "$key.pub") \
                nsenter -t "$(get "$id" "pid_$n")" -n -m -u -p -r -w -- bash -c "
                set -e
                rm -f /etc/ssh/ssh_host_*
                ssh-keygen -q -A
                mkdir -p -m 700 /root/.ssh /run/sshd
                umask 077
                printf '%s\\n' \"\$LAB_KEY\" >/root/.ssh/id_ed25519
                printf '%s\\n' \"\$LAB_PUB\" >/root/.ssh/id_ed25519.pub
                printf '%s\\n' \"\$LAB_PUB\" >>/root/.ssh/authorized_keys
                /usr/sbin/sshd -o ListenAddress=$(node_addr "$n") -o PidFile=/run/sshd.pid" >&2
        done
    fi
    trap - ERR
    echo "$id"
}

cmd_exec() {
    local id=$1 node=$2
    shift 2
    local pid
    pid=$(get "$id" "pid_$node") || die "no node $node in lab $id"
    exec nsenter -t "$pid" -n -m -u -p -r -w -- "$@"
}

cmd_client() {
    local id=$1
    shift
    exec ip netns exec "$id-cl" "$@"
}

cmd_kill() {
    local id=$1 node=$2 pid
    pid=$(get "$id" "pid_$node") || die "no node $node in lab $id"
    # A power loss: the NIC goes dark too. The node's network namespace
    # outlives its processes (ip netns pins it), so without this its
    # addresses would keep answering on the bridge.
    ip -n "$id-sw" link set "$id${node/node/n}s" down 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
    local id=$1 f
    f=$(state_file "$id")
    [[ -f $f ]] || die "no lab $id"
    local key val
    # Nodes first: their mounts hold the loop devices.
    while IFS='=' read -r key val; do
        case $key in
        pid_*) kill -KILL "$val" 2>/dev/null || true ;;
        esac
    done <"$f"
    while IFS='=' read -r key val; do
        case $key in
        outer_*)
            for _ in $(seq 100); do kill -0 "$val" 2>/dev/null || break; sleep 0.05; done
            kill -KILL "$val" 2>/dev/null || true
            ;;
        esac
    done <"$f"
    while IFS='=' read -r key val; do
        case $key in
        netns) ip netns del "$val" 2>/dev/null || true ;;
        vg) vgremove -q -f -y "$val" >/dev/null 2>&1 || true ;;
        esac
    done <"$f"
    while IFS='=' read -r key val; do
        case $key in
        pv) pvremove -q -f -y "$val" >/dev/null 2>&1 || true ;;
        esac
    done <"$f"
    while IFS='=' read -r key val; do
        case $key in
        loops)
            for _ in $(seq 20); do losetup -d "$val" 2>/dev/null && break; sleep 0.1; done
            ;;
        work) rm -rf "$val" ;;
        esac
    done <"$f"
    # Overlay upper dirs live on tmpfs; nothing is mounted there any more.
    rm -rf "${RUN_BASE:?}/$id"
}

cmd_list() {
    [[ -d $RUN_BASE ]] || return 0
    local d
    for d in "$RUN_BASE"/*/state; do
        [[ -f $d ]] && basename "$(dirname "$d")"
    done
    return 0
}

case ${1:-} in
up) shift; cmd_up "$@" ;;
exec) shift; cmd_exec "$@" ;;
client) shift; cmd_client "$@" ;;
get) shift; get "$@" ;;
kill) shift; cmd_kill "$@" ;;
down) shift; need_root; cmd_down "$@" ;;
list) cmd_list ;;
*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
