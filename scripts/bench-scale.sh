#!/usr/bin/env bash
# Cost growth with nodes and services, in the namespace lab: for each cell
# (N nodes, S services per node) a lab cluster of N nodes built by
# lab/scale-cluster.sh (the daemon on every node, unicast and disk
# heartbeats at the shipped defaults, S one-node services per node whose
# tools are instant fakes, the failover service fo on node1 and node2,
# cfgprobe on every node), measured, then removed. One Markdown row per
# cell:
#   RSS       the daemon's VmRSS at the end of the idle window, MB (median
#             over nodes);
#   CPU       the daemon's utime+stime over the idle window, % of one core
#             (median over nodes); in brackets with its children's
#             cutime+cstime added (the fake tools the probes run);
#   hb B/s    bytes the node sent on its eth0 over the idle window, per
#             second (median over nodes): tx_bytes of
#             /sys/class/net/eth0/statistics in the node's netns, frames
#             and headers included; nothing else talks in that window, so
#             this is the unicast heartbeats to every peer plus the TCP
#             ACKs of the ones received (the disk heartbeat's I/O is not
#             counted);
#   svcmon    median wall time of svcmon (text) on node1 (hyperfine);
#   status    median of `svcmgr -s n1s1 print status` on node1, answered
#             from memory / with --refresh (probing); `n/a` for memory when
#             the binary has no --refresh (it then always probes);
#   failover  from just before `lab.sh kill ID node1` (power loss) to fo's
#             start launcher running on node2 (the time it writes);
#   config    from just before `svcmgr -s cfgprobe set --param DEFAULT.app`
#             on node1 to the new value in the last other node's file (each
#             node polls its own file every 20 ms).
# A cell that does not finish within its budget is removed, and what it
# did not measure reads `skipped (budget)`. Numbers are printed, never
# asserted.
# Usage, as root:
#   bash scripts/bench-scale.sh [--nodes 2,4,8,16] [--services 10,100,1000]
#                               [--budget SECONDS] [--quick]
# --quick (CI): 4 nodes x 100 services, a 10 s window, 20 runs per latency.
# Defaults: every cell of 2,4,8,16 x 10,100,1000, a 25 s idle window, 50
# runs per latency, a 600 s budget per cell (--budget changes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=("$@")
usage() { sed -n '/^# Usage/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
NODES=2,4,8,16 SERVICES=10,100,1000 BUDGET=600 WINDOW=25 RUNS=50 SETTLE=5 QUICK=0 BUDGET_SET=0
while (($#)); do
    case $1 in
    --nodes) NODES=${2:-}; shift 2 || usage ;;
    --services) SERVICES=${2:-}; shift 2 || usage ;;
    --budget) BUDGET=${2:-}; BUDGET_SET=1; shift 2 || usage ;;
    --quick) QUICK=1; shift ;;
    *) echo "bench-scale: unknown option $1" >&2; usage ;;
    esac
done
if ((QUICK)); then
    NODES=4 SERVICES=100 WINDOW=10 RUNS=20 SETTLE=3
    ((BUDGET_SET)) || BUDGET=200
fi
[[ $NODES =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench-scale: --nodes $NODES: a comma-separated list of numbers, like 2,4,8" >&2; exit 2; }
[[ $SERVICES =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench-scale: --services $SERVICES: a comma-separated list of numbers, like 10,100" >&2; exit 2; }
[[ $BUDGET =~ ^[0-9]+$ ]] || { echo "bench-scale: --budget $BUDGET: seconds, a number" >&2; exit 2; }
IFS=, read -ra NODE_LIST <<<"$NODES"
IFS=, read -ra SVC_LIST <<<"$SERVICES"
for n in "${NODE_LIST[@]}"; do
    ((n >= 2 && n <= 24)) || { echo "bench-scale: --nodes: $n nodes; the failover needs 2 and the lab holds 24" >&2; exit 2; }
done
for s in "${SVC_LIST[@]}"; do
    ((s >= 1)) || { echo "bench-scale: --services: at least 1 service per node" >&2; exit 2; }
done
[[ $EUID -eq 0 ]] || { echo "bench-scale: run as root (lab namespaces)" >&2; exit 1; }

bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh
W=$(mktemp -d /tmp/svcmgr-bench-scale.XXXXXX)
ID=""
WAITERS=()
cleanup() {
    local p
    for p in "${WAITERS[@]}"; do kill "$p" 2>/dev/null || true; done
    WAITERS=()
    [[ -z $ID ]] || bash "$LAB" down "$ID"
    ID=""
}
trap 'cleanup; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

# Node commands get the fakes and the fake mount table (lab/scale-cluster.sh).
NODE_ENV=(PATH=/opt/svcmgr-bench/fakes:/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin OSVC_MOUNTINFO=/opt/svcmgr-bench/mountinfo)
on() { local n=$1; shift; bash "$LAB" exec "$ID" "$n" env "${NODE_ENV[@]}" bash -c "$*"; }
now() { date +%s.%N; }
CELL_START=0
# Seconds left of this cell's budget.
left() { echo $((BUDGET - (SECONDS - CELL_START))); }
# Runs a command within what is left of the budget: 124 when it ran out.
within() {
    local l
    l=$(left)
    ((l > 0)) || return 124
    timeout -k 5 "$l" "$@"
}
# `on`, within the budget.
on_within() { local n=$1; shift; within bash "$LAB" exec "$ID" "$n" env "${NODE_ENV[@]}" bash -c "$*"; }

# One line per node: host time, the daemon's utime stime cutime cstime (in
# clock ticks), its VmRSS (kB), and eth0's tx_bytes in the node's netns.
sample() { # file
    local n line
    for n in "${NODES_OF_CELL[@]}"; do
        line=$(on "$n" 'pid=$(cat /var/lib/opensvc/osvcd.pid) &&
            awk "{sub(/.*\\) /, \"\"); printf \"%s %s %s %s \", \$12, \$13, \$14, \$15}" /proc/$pid/stat &&
            awk "/^VmRSS/ {print \$2}" /proc/$pid/status') || return 1
        echo "$n $(now) $line $(ip netns exec "$ID-$n" cat /sys/class/net/eth0/statistics/tx_bytes)"
    done >"$1"
}

# hyperfine's median, in ms, of each command, inside node1.
latency() { # runs command...
    local runs=$1
    shift
    local cmds=() c
    for c in "$@"; do cmds+=("'$c'"); done
    on_within node1 "cd /tmp && hyperfine -N --warmup 3 --runs $runs --export-json /tmp/bench-scale.json ${cmds[*]} >/dev/null 2>&1 &&
        python3 -c 'import json,statistics; print(\" \".join(\"%.2f\" % (statistics.median(r[\"times\"]) * 1000) for r in json.load(open(\"/tmp/bench-scale.json\"))[\"results\"]))'"
}

SKIP="skipped (budget)"
# The nodes that are no longer powered on: under too much load a daemon
# that misses its watchdog resets its node, and what follows is not a
# measurement of the cluster that was asked for.
dead() {
    local n out=()
    for n in "${NODES_OF_CELL[@]}"; do bash "$LAB" alive "$ID" "$n" || out+=("$n"); done
    echo "${out[*]}"
}
ROWS=()
cell() { # nodes services
    local nn=$1 ss=$2 rc
    CELL_START=$SECONDS
    local rss="" cpu="" hb="" svcmon="" status="" gap="" cfg="" killed=0
    # What was not measured: out of budget, or a node reset under load.
    row() {
        local why=$SKIP d="" v
        [[ -z $ID ]] || ((killed)) || d=$(dead)
        [[ -z $d ]] || why="not measured: $d reset"
        for v in rss cpu hb svcmon status gap cfg; do [[ -n ${!v} ]] || printf -v "$v" '%s' "$why"; done
        ROWS+=("| $nn | $ss | $rss | $cpu | $hb | $svcmon | $status | $gap | $cfg |")
        echo "bench-scale: ${ROWS[-1]}" >&2
    }
    echo "bench-scale: cell $nn nodes x $ss services: building the lab" >&2
    ID=$(bash "$LAB" up --nodes "$nn" --disks rawhb:32M)
    NODES_OF_CELL=()
    for i in $(seq "$nn"); do NODES_OF_CELL+=("node$i"); done
    rc=0
    within bash lab/scale-cluster.sh "$ID" "$BIN" "$ss" "$(left)" || rc=$?
    # 3: not ready within the time given (the budget); 124: timed out.
    if ((rc == 3 || rc == 124)); then row; cleanup; return; fi
    ((rc == 0)) || { echo "bench-scale: lab/scale-cluster.sh failed ($rc) for $nn x $ss" >&2; exit 1; }
    echo "bench-scale: cluster ready after $((SECONDS - CELL_START))s; idle window ${WINDOW}s" >&2

    # The idle window.
    sleep "$SETTLE"
    if ((SETTLE + WINDOW + 10 < $(left))) && sample "$W/a" && sleep "$WINDOW" && sample "$W/b"; then
        IFS=';' read -r rss cpu hb < <(python3 - "$W/a" "$W/b" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
a = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1])}
b = {l.split()[0]: l.split()[1:] for l in open(sys.argv[2])}
tck = float(sys.argv[3])
rss, own, total, tx = [], [], [], []
for n in a:
    t0, u0, s0, cu0, cs0, _, x0 = map(float, a[n])
    t1, u1, s1, cu1, cs1, r1, x1 = map(float, b[n])
    dt = t1 - t0
    rss.append(r1 / 1024)
    own.append((u1 + s1 - u0 - s0) / tck / dt * 100)
    total.append((u1 + s1 + cu1 + cs1 - u0 - s0 - cu0 - cs0) / tck / dt * 100)
    tx.append((x1 - x0) / dt)
m = statistics.median
print(f"{m(rss):.1f};{m(own):.1f} ({m(total):.1f});{m(tx):.0f}")
PY
)
    else
        row; cleanup; return
    fi

    local out
    out=$(latency "$RUNS" svcmon) || { row; cleanup; return; }
    svcmon=$out
    if on node1 "svcmgr -s n1s1 print status --refresh" >/dev/null 2>&1; then
        out=$(latency "$RUNS" 'svcmgr -s n1s1 print status' 'svcmgr -s n1s1 print status --refresh') || { row; cleanup; return; }
        status="${out% *} / ${out#* }"
    else
        out=$(latency "$RUNS" 'svcmgr -s n1s1 print status') || { row; cleanup; return; }
        status="n/a / $out"
    fi

    # The config change: every other node polls its own copy.
    local token=cfg$RANDOM$SECONDS limit n t0
    limit=$(($(left) < 60 ? $(left) : 60))
    ((limit > 5)) || { row; cleanup; return; }
    rm -f "$W"/cfg.*
    for n in "${NODES_OF_CELL[@]:1}"; do
        on "$n" "mkfifo /run/bench-tick.\$\$ && exec {t}<>/run/bench-tick.\$\$ && rm /run/bench-tick.\$\$
            end=\$((SECONDS + $limit))
            while ((SECONDS < end)); do
                c=''; read -r -d '' c </etc/opensvc/cfgprobe.conf || true
                [[ \$c == *'= $token'* ]] && { date +%s.%N; exit 0; }
                read -r -t 0.02 -u \$t _ || true
            done
            exit 1" >"$W/cfg.$n" 2>&1 &
        WAITERS+=($!)
    done
    sleep 1
    t0=$(now)
    on node1 "svcmgr -s cfgprobe set --param DEFAULT.app --value $token"
    local ok=1 p
    for p in "${WAITERS[@]}"; do wait "$p" || ok=0; done
    WAITERS=()
    if ((ok)); then
        cfg=$(cat "$W"/cfg.node* | python3 -c "import sys; print('%.2f' % (max(float(x) for x in sys.stdin.read().split()) - $t0))")
    else
        cfg="> ${limit} s (not everywhere)"
    fi

    # The failover: power loss of node1, fo started on node2.
    if on node1 "test -e /run/fo.up"; then
        t0=$(now)
        killed=1
        bash "$LAB" kill "$ID" node1
        local up="" end
        end=$((SECONDS + ($(left) < 60 ? $(left) : 60)))
        while ((SECONDS < end)); do
            # Not empty too: a start time is never an empty file.
            up=$(on node2 "cat /run/fo.up 2>/dev/null") && [[ -n $up ]] && break
            sleep 0.1
        done
        if [[ -n $up ]]; then
            gap=$(python3 -c "print('%.2f' % ($up - $t0))")
        elif (($(left) > 0)); then
            gap="no takeover in 60 s"
            # What node2 saw, before the lab goes: a takeover that did not
            # happen must be explainable from this output alone.
            echo "bench-scale: no takeover of fo on node2; its svcmon and log:" >&2
            on node2 "svcmon; tail -n 60 /var/log/opensvc/node.log" >&2 || true
        fi
    else
        gap="fo not up on node1"
    fi
    row
    cleanup
}

T_ALL=$SECONDS
for s in "${SVC_LIST[@]}"; do
    for n in "${NODE_LIST[@]}"; do
        cell "$n" "$s"
    done
done

echo
echo "svcmgr $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $((SECONDS - T_ALL)) s"
echo "command: bash scripts/bench-scale.sh ${ARGS[*]}"
echo "idle window ${WINDOW}s after ${SETTLE}s of settling, $RUNS runs per latency, budget ${BUDGET}s per cell"
echo
echo "| nodes | services/node | daemon RSS (MB) | daemon CPU % of a core (with tools) | hb bytes/s sent per node | svcmon (ms) | print status (ms): memory / --refresh | failover gap (s) | config change on every node (s) |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
