#!/usr/bin/env bash
# No false failover under load: the tutorial's service runs on node1 under
# the daemon (orchestrate = ha, shipped defaults, unicast + disk
# heartbeats, watchdog armed) while two busy loops per core saturate
# node1's CPUs for DURATION seconds. Fails if node2 ever starts the
# service or loses node1, or if node1's watchdog resets it.
# Usage, as root: bash scripts/bench-noflap.sh [--fast] [DURATION]   (default 300)
# --fast: the fastest settings (lab/fast.sh) instead of the shipped defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "bench-noflap: run as root" >&2; exit 1; }
FAST=()
[[ ${1:-} == --fast ]] && { mapfile -t FAST < <(bash lab/fast.sh); shift; }
DURATION=${1:-300}
if ((${#FAST[@]})); then
    echo "settings: $(printf '%s\n' "${FAST[@]}" | grep -v -- --param | tr '\n' ' ')"
else
    echo "settings: shipped defaults (hb interval 1s, timeout 3s, ready_period 1s)"
fi
bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh
ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M,rawhb:8M --vg)
trap 'bash "$LAB" down "$ID"' EXIT
on() { local n=$1; shift; bash "$LAB" exec "$ID" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"; }
bash lab/tutorial.sh "$ID" "$BIN" node1 node2 >/dev/null
bash lab/cluster.sh "$ID" --disk "$(bash "$LAB" get "$ID" disk_rawhb)" "${FAST[@]}"
for _ in $(seq 400); do
    on node1 "svcmon --format json" | grep -q '"avail": "up"' && break
    sleep 0.1
done
# The load: busy loops in node1, ended with node1 by the lab's teardown.
on node1 "for i in \$(seq $((2 * $(nproc)))); do setsid sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & done"
echo "node1's CPUs saturated for ${DURATION}s ($(( 2 * $(nproc) )) busy loops); watching node2"
end=$((SECONDS + DURATION))
lost=0
while ((SECONDS < end)); do
    seen=$(on node2 "svcmon --format json" | python3 -c "import json,sys; print('node1' in json.load(sys.stdin)['nodes'])")
    [[ $seen == True ]] || lost=$((lost + 1))
    sleep 1
done
started=$(on node2 "grep -c 'p26.opensvc.com: started here' /var/log/opensvc/node.log || true")
lostlog=$(on node2 "grep -c 'node node1 lost' /var/log/opensvc/node.log || true")
reset=0
bash "$LAB" alive "$ID" node1 || reset=1
echo "node2: ${started:-0} takeovers, node1 lost ${lostlog:-0} times, ${lost} samples (about one a second) without node1; node1 reset by its watchdog: $reset"
[[ ${started:-0} -eq 0 && ${lostlog:-0} -eq 0 && $lost -eq 0 && $reset -eq 0 ]]
