#!/usr/bin/env bash
# A lab of cluster "nodes" on this one machine, for tests and for people.
#
#   lab.sh up [--nodes N] [--disks app:32M,data:32M] [--vg] [--ssh]   prints the lab id
#   lab.sh exec ID NODE CMD...      run CMD inside node NODE (node1, node2...)
#   lab.sh client ID CMD...         run CMD in the client namespace
#   lab.sh get ID KEY               a value of the lab's state (disk_app, vg, pid_node1...)
#   lab.sh kill ID NODE             power loss: the node's link goes down and a SIGKILL of its
#                                   PID 1 ends every process of the node at once
#   lab.sh boot ID NODE             power on again a node that died (killed, or reset by its
#                                   own reboot(2)): same disk, fresh memory, its agent started
#                                   at boot when enabled (lab/node-services.sh)
#   lab.sh alive ID NODE            exit 0 when the node is powered on
#   lab.sh cut ID NODE | heal ID NODE   unplug / plug back the node's cable (its switch port)
#   lab.sh down ID                  remove everything the lab made
#   lab.sh list                     ids of the labs that exist
#
# A node = network + mount + UTS + PID namespaces: its own host name, its own
# writable view of the filesystem (overlay over /: /etc/opensvc, /etc/hosts,
# /var/lib/opensvc... are the node's own), eth0 on a bridge in a switch
# namespace, 192.0.2.0/27 (node1 .21, node2 .22, ..., node5 .25, node6 .11
# and on, up to 24 nodes; the client .10; .26 to .29 are free for service
# addresses, named p26.opensvc.com to p29.opensvc.com in every node's
# /etc/hosts). Shared disks are loop devices on sparse files, visible to
# every node like SAN LUNs, with ext4 except those named raw*; --vg adds an
# LVM VG on its own loop PV.
# --ssh starts an sshd inside every node (its own host keys) and gives each
# node's root one key pair made for this lab, trusted by every node, as the
# tutorial's "SSH Keys Setup" does.
# Whatever ends a node's PID 1 (kill, or a reboot(2) inside the node: the
# split action, the watchdog), a watcher outside the node darkens its NIC
# at once, as a power cut or a reset does on a real machine: its switch port
# goes down and its addresses are gone (the network namespace outlives the
# node's processes, and would otherwise keep answering for it).
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

# node1..node5 are .21 to .25 (as ever); more nodes take the free
# addresses of the /27 that are not the client's (.10) nor a service's
# (.26 to .29): node6..node15 are .11 to .20, node16..node24 .1 to .9.
node_addr() {
    local i=${1#node}
    if ((i <= 5)); then echo "$SUBNET.$((20 + i))"
    elif ((i <= 15)); then echo "$SUBNET.$((5 + i))"
    else echo "$SUBNET.$((i - 15))"
    fi
}
port() { echo "$1${2/node/n}s"; } # id node: the node's port on the switch

# "pid:start time" of a live process, the start time from /proc/PID/stat:
# a pid recorded earlier is signalled only while it is still that process,
# never a process that later got the same number.
stamp() { echo "$1:$(awk '{print $22}' "/proc/$1/stat" 2>/dev/null)"; }
ours() { # pid:start -> the pid if that process still runs
    local pid=${1%%:*} start=${1#*:}
    [[ -n $pid && -n $start ]] || return 1
    [[ $(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) == "$start" ]] && echo "$pid"
}
kill_ours() { # signal pid:start
    local pid
    pid=$(ours "$2") && kill "-$1" "$pid" 2>/dev/null
    return 0
}

# The node's NIC goes dark: switch port down, addresses gone.
power_off() { # id node
    ip -n "$1-sw" link set "$(port "$1" "$2")" down 2>/dev/null || true
    ip -n "$1-$2" addr flush dev eth0 2>/dev/null || true
    ip -n "$1-$2" link set eth0 down 2>/dev/null || true
}

# Powers a node on: its NIC as after a reset (only its own address, link
# up), then its PID 1 (node-init.sh) in fresh PID, mount and UTS
# namespaces over the node's overlay upper dir, which is its disk and
# survives. A watcher outside the node powers it off when that PID 1 ends.
start_node() { # id node
    local id=$1 n=$2 dir=$RUN_BASE/$1
    ip -n "$id-$n" addr flush dev eth0
    ip -n "$id-$n" addr add "$(node_addr "$n")/27" dev eth0
    ip -n "$id-$n" link set eth0 up
    ip -n "$id-sw" link set "$(port "$id" "$n")" up
    rm -f "$dir/$n/ready"
    (
        # However the node ends (its init killed, or by a signal: reboot(2)
        # in a PID namespace kills init with SIGHUP), its NIC goes dark.
        set +e
        # --kill-child: if unshare dies, so does the node.
        ip netns exec "$id-$n" unshare --mount --uts --pid --kill-child --mount-proc \
            bash "$HERE/node-init.sh" "$n" "$dir" "$dir/hosts" "$HERE"
        echo "$(date '+%F %T.%N') $n powered off (exit $?)"
        power_off "$id" "$n"
    ) </dev/null >>"$dir/$n.log" 2>&1 &
    local watcher=$!
    put "$id" "watch_$n" "$(stamp "$watcher")"
    local outer="" pid=""
    for _ in $(seq 200); do
        [[ -n $outer ]] || outer=$(cat "/proc/$watcher/task/$watcher/children" 2>/dev/null | awk '{print $1}')
        [[ -n $outer && -f $dir/$n/ready ]] && pid=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | awk '{print $1}')
        [[ -n $pid ]] && break
        kill -0 "$watcher" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n $pid ]] || { cat "$dir/$n.log" >&2; false; }
    put "$id" "outer_$n" "$(stamp "$outer")"
    put "$id" "pid_$n" "$pid"
    put "$id" "init_$n" "$(stamp "$pid")"
}

# The node's PID 1, if it is powered on.
node_init() { # id node
    local v
    v=$(get "$1" "init_$2") || return 1
    ours "$v"
}

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
    ((nodes >= 1 && nodes <= 24)) || die "up: --nodes $nodes: the lab's /27 holds 1 to 24 nodes"
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
        echo "$SUBNET.28 p28.opensvc.com"
        echo "$SUBNET.29 p29.opensvc.com"
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
        start_node "$id" "$n"
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
    local id=$1 node=$2 init
    get "$id" "pid_$node" >/dev/null || die "no node $node in lab $id"
    # A power loss: the NIC goes dark first, then every process at once.
    power_off "$id" "$node"
    init=$(get "$id" "init_$node") || return 0
    kill_ours KILL "$init"
}

cmd_boot() {
    local id=$1 node=$2
    need_root
    get "$id" "pid_$node" >/dev/null || die "no node $node in lab $id"
    ! node_init "$id" "$node" >/dev/null || die "$node is powered on"
    # The last watcher has darkened the NIC and exits: wait for it so that
    # it cannot darken the new boot's.
    local w
    w=$(get "$id" "watch_$node") || true
    for _ in $(seq 100); do ours "$w" >/dev/null || break; sleep 0.05; done
    start_node "$id" "$node"
}

cmd_alive() {
    node_init "$1" "$2" >/dev/null
}

cmd_cut() {
    ip -n "$1-sw" link set "$(port "$1" "$2")" down
}

cmd_heal() {
    # A powered-off node stays dark whatever its cable does.
    node_init "$1" "$2" >/dev/null || return 0
    ip -n "$1-sw" link set "$(port "$1" "$2")" up
}

# The last value of every key of the lab's state, "key=value" a line:
# values are appended, so a rebooted node's older pids are never used.
latest() { # id
    awk -F= '{ k = $1; v = substr($0, length(k) + 2) }
        k ~ /^(netns|loops)$/ { print; next }
        { last[k] = v; if (!(k in order)) { order[k] = n++; keys[order[k]] = k } }
        END { for (i = 0; i < n; i++) print keys[i] "=" last[keys[i]] }' "$(state_file "$1")"
}

cmd_down() {
    local id=$1 f
    f=$(state_file "$id")
    [[ -f $f ]] || die "no lab $id"
    local state key val
    state=$(latest "$id")
    # Nodes first: their mounts hold the loop devices.
    while IFS='=' read -r key val; do
        case $key in
        init_*) kill_ours KILL "$val" ;;
        esac
    done <<<"$state"
    while IFS='=' read -r key val; do
        case $key in
        outer_* | watch_*)
            for _ in $(seq 100); do ours "$val" >/dev/null || break; sleep 0.05; done
            kill_ours KILL "$val"
            ;;
        esac
    done <<<"$state"
    while IFS='=' read -r key val; do
        case $key in
        netns) ip netns del "$val" 2>/dev/null || true ;;
        vg) vgremove -q -f -y "$val" >/dev/null 2>&1 || true ;;
        esac
    done <<<"$state"
    while IFS='=' read -r key val; do
        case $key in
        pv) pvremove -q -f -y "$val" >/dev/null 2>&1 || true ;;
        esac
    done <<<"$state"
    while IFS='=' read -r key val; do
        case $key in
        loops)
            for _ in $(seq 20); do losetup -d "$val" 2>/dev/null && break; sleep 0.1; done
            ;;
        work) rm -rf "$val" ;;
        esac
    done <<<"$state"
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
boot) shift; cmd_boot "$@" ;;
alive) shift; cmd_alive "$@" ;;
cut) shift; need_root; cmd_cut "$@" ;;
heal) shift; need_root; cmd_heal "$@" ;;
down) shift; need_root; cmd_down "$@" ;;
list) cmd_list ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
