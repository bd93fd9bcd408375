#!/usr/bin/env bash
# Client-visible takeover gap with K services on the node that dies, in the
# lab, at the shipped defaults (heartbeats every 1 s, timeout 3 s,
# ready_period 1 s; unicast + disk): lab/takeover-cluster.sh puts K
# services on node1 (orchestrate = ha, nodes node1 node2), each with its
# own address on the lab's bridge and a one-line app; the client pings
# every address every 50 ms, all at once; node1 loses power (lab.sh kill);
# node2 takes them over. A run's gap is the longest silence between two
# answered pings of any address: the time until EVERY address answers
# again. Each run builds and removes its own lab, also on failure.
# Usage, as root:
#   bash scripts/bench-takeover.sh [--param SECTION.KEY=VALUE]... [RUNS]   (default 3)
# KS="1 10 50" (the default) says which service counts to measure; each
# --param goes to both nodes' node.conf before the daemons start (e.g.
# node.max_parallel=1 for the sequential baseline). Prints each run, the
# median per K and the ratio gap(largest K) / gap(1).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "bench-takeover: run as root" >&2; exit 1; }
PARAMS=()
while [[ ${1:-} == --param ]]; do
    [[ -n ${2:-} ]] || { echo "bench-takeover: --param needs SECTION.KEY=VALUE" >&2; exit 2; }
    PARAMS+=(--param "$2")
    shift 2
done
RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench-takeover: RUNS must be a positive number, not $RUNS" >&2; exit 2; }
read -ra KS <<<"${KS:-1 10 50}"
echo "settings: shipped defaults (hb interval 1s, timeout 3s, ready_period 1s, max_parallel = online CPUs $(nproc), at least 2)${PARAMS[*]:+; overridden: ${PARAMS[*]}}"
bash scripts/deps.sh
cargo build --release --locked -q -j 2
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh
ID="" PINGS=""
cleanup() {
    if [[ -n $PINGS && -f $PINGS/pids ]]; then
        # Only the pings this script started, by pid.
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$PINGS/pids"
    fi
    [[ -n $PINGS ]] && rm -rf "$PINGS"
    [[ -n $ID ]] && bash "$LAB" down "$ID"
    ID="" PINGS=""
}
trap cleanup EXIT

# gaps.py DIR KILL_TIME: per address, the longest silence between two
# answered pings; prints "MAX_GAP SLOWEST_ADDR RESUMED" where RESUMED is
# 1 when every address answered after the kill, and was silent in between
# (an address that never fell silent was not taken over: the run is void).
GAPS='
import glob, os, re, sys
d, kill = sys.argv[1], float(sys.argv[2])
worst, slowest, resumed = 0.0, "", 1
for f in sorted(glob.glob(os.path.join(d, "*.log"))):
    t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(f).read(), re.M)]
    if not t or t[-1] <= kill:
        resumed = 0
        continue
    g = max(b - a for a, b in zip(t, t[1:])) if len(t) > 1 else float("nan")
    if not g > 1.0:
        sys.exit("%s never fell silent: was node1 killed?" % f)
    if g > worst:
        worst, slowest = g, os.path.basename(f)[:-4]
print("%.2f %s %d" % (worst, slowest or "-", resumed))
'

declare -A RESULTS
for k in "${KS[@]}"; do
    for run in $(seq "$RUNS"); do
        ID=$(bash "$LAB" up --nodes 2 --disks rawhb:8M)
        bash lab/takeover-cluster.sh "$ID" "$BIN" "$k" "${PARAMS[@]}" --wait 300 >/dev/null
        PINGS=$(mktemp -d /tmp/bench-takeover.XXXXXX)
        # One ping per address, all in the client namespace; their pids
        # are written for the cleanup.
        bash "$LAB" client "$ID" bash -c '
            for i in $(seq "$1"); do
                ping -D -n -i 0.05 -W 0.05 "198.51.100.$i" >"$2/198.51.100.$i.log" 2>&1 &
                echo $! >>"$2/pids"
            done
            wait' _ "$k" "$PINGS" &
        sleep 2
        bash "$LAB" kill "$ID" node1
        # Taken once node1's NIC is dark (lab.sh kill darkens it first):
        # an answer after this comes from node2.
        kill_at=$(date +%s.%N)
        end=$((SECONDS + 120))
        until [[ $(python3 -c "$GAPS" "$PINGS" "$kill_at" | cut -d' ' -f3) == 1 ]]; do
            ((SECONDS < end)) || { echo "K=$k run $run: not every address answered within 120 s" >&2; exit 1; }
            sleep 0.5
        done
        sleep 1
        read -r gap slowest _ < <(python3 -c "$GAPS" "$PINGS" "$kill_at")
        batch=$(bash "$LAB" exec "$ID" node2 bash -c "grep -o 'starting [0-9]* services here, [0-9]* at a time' /var/log/opensvc/node.log | tail -1" || true)
        last=$(bash "$LAB" exec "$ID" node2 bash -c "grep -o 'tk[0-9]*: started here (.*)' /var/log/opensvc/node.log | tail -1" || true)
        echo "K=$k run $run: gap ${gap}s (slowest $slowest); node2: ${batch:-one start}; last: $last"
        RESULTS[$k]+="$gap "
        cleanup
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f\n", m, a[1], a[NR]}'; }
echo
echo "| services on the dead node | median gap | min | max | runs |"
echo "|---|---|---|---|---|"
declare -A MED
for k in "${KS[@]}"; do
    read -r m lo hi < <(echo "${RESULTS[$k]}" | median)
    MED[$k]=$m
    echo "| $k | ${m} s | ${lo} s | ${hi} s | $RUNS |"
done
first=${KS[0]} last=${KS[-1]}
if [[ $first != "$last" ]]; then
    python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'gap({sys.argv[4]}) / gap({sys.argv[3]}) = {b / a:.2f}')" "${MED[$first]}" "${MED[$last]}" "$first" "$last"
fi
