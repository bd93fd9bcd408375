#!/usr/bin/env bash
# Real-kernel figures for the tutorial's service, in the namespace lab:
#   1. start+stop cycle of p26.opensvc.com on node1 (ip, vg, 2 ext4 fs, the
#      web launcher): median wall time of CYCLES cycles;
#   2. `print status` of the started service (app with its C script):
#      hyperfine median inside node1, probed; then with the agent daemon
#      running, from its memory and with --refresh;
#   3. the conflict check: node2 holds the address, node1's start must be
#      refused, 20 times in a row.
# Usage, as root: bash scripts/bench-lab.sh [CYCLES]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "bench-lab: run as root" >&2; exit 1; }
CYCLES=${1:-20}
bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
LAB=$PWD/lab/lab.sh

ID=$(bash "$LAB" up --nodes 2 --disks app:32M,data:32M --vg)
trap 'bash "$LAB" down "$ID"' EXIT
bash lab/tutorial.sh "$ID" "$BIN" node1 node2
on() { local n=$1; shift; bash "$LAB" exec "$ID" "$n" env PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "svcmgr $(git rev-parse --short HEAD 2>/dev/null || echo '?'), lab $ID, $(nproc) cores"

# 1. Cycles, timed inside the node so that nsenter's own start-up is not counted.
on node1 "for i in \$(seq $CYCLES); do
    s=\$(date +%s%N); p26.opensvc.com start 2>/dev/null; m=\$(date +%s%N)
    p26.opensvc.com stop 2>/dev/null; e=\$(date +%s%N)
    echo \$(( (m-s)/1000000 )) \$(( (e-m)/1000000 )) \$(( (e-s)/1000000 ))
done" >"/tmp/bench-lab.$ID"
printf 'start+stop cycle       median %5s ms   (start %s ms, stop %s ms; %s cycles)\n' \
    "$(awk '{print $3}' "/tmp/bench-lab.$ID" | median)" \
    "$(awk '{print $1}' "/tmp/bench-lab.$ID" | median)" \
    "$(awk '{print $2}' "/tmp/bench-lab.$ID" | median)" "$CYCLES"
rm -f "/tmp/bench-lab.$ID"

# 2. print status of the started service.
on node1 "p26.opensvc.com start 2>/dev/null"
on node1 "hyperfine -N --warmup 10 --runs 200 --export-json /tmp/ps.json 'p26.opensvc.com print status' >/dev/null 2>&1 &&
    python3 -c 'import json,statistics; t=json.load(open(\"/tmp/ps.json\"))[\"results\"][0][\"times\"]; print(\"print status (started)  median %6.2f ms   (%d runs)\" % (statistics.median(t)*1000, len(t)))'"
# 2b. The same with the agent daemon running: answered from its memory
# (docs/behaviour.md, "Status from the daemon's memory"), and --refresh,
# which probes as above. The daemon's peer listener stays on loopback.
on node1 "nodemgr set --param listener.addr --value 127.0.0.1 && nodemgr daemon start >/dev/null &&
    for i in \$(seq 100); do svcmon 2>/dev/null | grep -q p26.opensvc.com && break; sleep 0.1; done &&
    hyperfine -N --warmup 10 --runs 200 --export-json /tmp/ps.json 'p26.opensvc.com print status' 'p26.opensvc.com print status --refresh' >/dev/null 2>&1 &&
    python3 -c 'import json,statistics
for r, w in zip(json.load(open(\"/tmp/ps.json\"))[\"results\"], [\"from memory\", \"--refresh\"]):
    print(\"print status (daemon, %-11s) median %6.2f ms   (%d runs)\" % (w + \")\", statistics.median(r[\"times\"])*1000, len(r[\"times\"])))' &&
    nodemgr daemon stop >/dev/null"
on node1 "p26.opensvc.com stop 2>/dev/null"

# 3. Conflict detection, 20 in a row.
on node2 "ip addr add 192.0.2.26/27 dev eth0"
refused=0
for _ in $(seq 20); do
    if ! on node1 "p26.opensvc.com start" 2>/dev/null; then refused=$((refused + 1)); fi
    on node1 "ip -o addr show dev eth0 | grep -q 192.0.2.26" && { echo "bench-lab: node1 plumbed a conflicting address" >&2; exit 1; }
done
on node2 "ip addr del 192.0.2.26/27 dev eth0"
echo "conflict detected      $refused/20 starts refused"
[[ $refused -eq 20 ]]
