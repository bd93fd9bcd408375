#!/usr/bin/env bash
# Client-visible failover gap, in the lab, with the shipped defaults
# (heartbeats every 1 s, timeout 3 s, ready_period 1 s; unicast + disk):
# the tutorial's service runs on node1 under the daemon (orchestrate = ha),
# the client pings the service address every 50 ms, node1 loses power
# (link down + SIGKILL of every process), node2 takes the service over.
# The gap is the longest silence between two answered pings. Each run
# builds and removes its own lab. Usage, as root:
#   bash scripts/bench-failover.sh [--fast] [RUNS]     (default 10)
# --fast: the fastest settings still safe on a loaded machine, heartbeats
# every 0.2 s with a 0.8 s timeout and ready_period 0.2 s (lab/fast.sh),
# instead of the shipped defaults; the settings are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "bench-failover: run as root" >&2; exit 1; }
FAST=()
[[ ${1:-} == --fast ]] && { mapfile -t FAST < <(bash lab/fast.sh); shift; }
RUNS=${1:-10}
if ((${#FAST[@]})); then
    echo "settings: $(printf '%s\n' "${FAST[@]}" | grep -v -- --param | tr '\n' ' ')"
else
    echo "settings: shipped defaults (hb interval 1s, timeout 3s, ready_period 1s)"
fi
bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh
ID=""
PING=""
cleanup() {
    [[ -n $PING ]] && kill "$PING" 2>/dev/null
    [[ -n $ID ]] && bash "$LAB" down "$ID"
    ID="" PING=""
}
trap cleanup EXIT

on() { local n=$1; shift; bash "$LAB" exec "$ID" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"; }
avail() { on "$1" "svcmon --format json" | python3 -c "import json,sys; print(json.load(sys.stdin)['nodes'].get('$1',{}).get('services',{}).get('p26.opensvc.com',{}).get('avail',''))"; }
wait_up() { # node, seconds
    for _ in $(seq $(($2 * 10))); do [[ $(avail "$1") == up ]] && return 0; sleep 0.1; done
    return 1
}

gaps=()
for run in $(seq "$RUNS"); do
    ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M,rawhb:8M --vg)
    bash lab/tutorial.sh "$ID" "$BIN" node1 node2 >/dev/null
    bash lab/cluster.sh "$ID" --disk "$(bash "$LAB" get "$ID" disk_rawhb)" "${FAST[@]}"
    wait_up node1 40 || { echo "run $run: node1 never started the service" >&2; exit 1; }
    log=/tmp/bench-failover.$ID
    bash "$LAB" client "$ID" ping -D -n -i 0.05 -W 0.05 192.0.2.26 >"$log" 2>&1 &
    PING=$!
    sleep 2
    bash "$LAB" kill "$ID" node1
    wait_up node2 40 || { echo "run $run: node2 never took the service over" >&2; exit 1; }
    sleep 2
    kill "$PING" 2>/dev/null || true
    wait "$PING" 2>/dev/null || true
    PING=""
    gap=$(python3 - "$log" <<'PY'
import re, sys
t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
print(f"{max(b - a for a, b in zip(t, t[1:])):.2f}" if len(t) > 1 else "nan")
PY
)
    phases=$(on node2 "grep -o 'p26.opensvc.com: started here (.*)' /var/log/opensvc/node.log | tail -1")
    echo "run $run: client-visible gap ${gap}s; node2: $phases"
    gaps+=("$gap")
    rm -f "$log"
    cleanup
done
printf '%s\n' "${gaps[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "failover gap: median %.2f s over %d runs (min %.2f, max %.2f)\n", m, NR, a[1], a[NR]}'
