#!/usr/bin/env bash
# The agent daemon's footprint: resident memory with 50 services,
# svcmon's and print status's latency (hyperfine medians) with 200
# services, and an idle node of 1000 services with every fs mounted (a
# fake mount table): the daemon's CPU over 10 s after 30 s, and its
# resident memory then. Services are
# one-node services with an ip, a vg and an fs whose tools are instant
# one-exec fakes, so nothing on the machine is touched.
# Usage: bash scripts/bench-daemon.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
W=$(mktemp -d /tmp/svcmgr-bench-daemon.XXXXXX)
export OSVC_ROOT_PATH=$W/root OSVC_NODENAME=node1 PATH="$W/fakes:$PATH"
stop() { [[ -x $W/nodemgr ]] && "$W/nodemgr" daemon stop >/dev/null 2>&1 || true; }
trap 'stop; rm -rf "$W"' EXIT
mkdir -p "$W/fakes" "$OSVC_ROOT_PATH/etc"
ln -s "$BIN" "$W/nodemgr"
ln -s "$BIN" "$W/svcmon"
fake() {
    local quoted=${2//\'/\'\\\'\'}
    printf '#!/bin/sh\nprintf %%s\\\\n %s\n' "'$quoted'" >"$W/fakes/$1"
    chmod 755 "$W/fakes/$1"
}
# Every service up, as on a node that runs them all: ip shows every
# service's address (a service in warn is probed more often).
fake ip "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 192.0.2.22/27 brd 192.0.2.31 scope global eth0
$(for a in $(seq 100 199); do printf '    inet 192.0.2.%d/27 scope global secondary eth0\n' "$a"; done)"
# vgs: the daemon's monitor lists every VG at once (-o vg_name,...);
# a command-line status asks about its own VG.
cat >"$W/fakes/vgs" <<EOF
#!/bin/sh
case "\$*" in
*vg_name*) seq -f '  vg%g|node1|0' 1000 ;;
*) echo '  node1|0' ;;
esac
EOF
chmod 755 "$W/fakes/vgs"
fake mount "/dev/x on /nonexistent type ext4 (rw)"
fake ps "UID PID PPID C STIME TTY TIME CMD"

services() { # count
    rm -f "$OSVC_ROOT_PATH"/etc/*.conf
    for i in $(seq "$1"); do
        printf '[DEFAULT]\nservice_type = TST\nnodes = node1\n[ip#0]\nipname = 192.0.2.%d\nipdev = eth0\n[vg#0]\nvgname = vg%d\n[fs#0]\ntype = ext4\ndev = /dev/x%d\nmnt = %s/m%d\n' \
            $((100 + i % 100)) "$i" "$i" "$W" "$i" >"$OSVC_ROOT_PATH/etc/svc$i.conf"
    done
}
count() { "$W/svcmon" --format json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['nodes']['node1']['services']))"; }
wait_count() { for _ in $(seq 200); do [[ $(count 2>/dev/null || echo 0) == "$1" ]] && return 0; sleep 0.1; done; return 1; }

# This daemon runs on the host's network: its peer listener stays on
# loopback, on a port the kernel picks.
"$W/nodemgr" set --param listener.addr --value 127.0.0.1
"$W/nodemgr" set --param listener.port --value 0
echo "svcmgr $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores"
services 50
"$W/nodemgr" daemon start
wait_count 50
sleep 15 # a few monitor passes, a full status pass included
pid=$(cat "$OSVC_ROOT_PATH/var/osvcd.pid")
printf 'daemon resident memory, 50 services   %s\n' "$(awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")"
stop
services 200
"$W/nodemgr" daemon start
wait_count 200
hyperfine -N --warmup 10 --runs 200 --export-json "$W/svcmon.json" "$W/svcmon" >/dev/null 2>&1
python3 - "$W/svcmon.json" <<'PY'
import json, statistics, sys
t = json.load(open(sys.argv[1]))["results"][0]["times"]
print(f"svcmon, 200 services                   median {statistics.median(t)*1000:.2f} ms ({len(t)} runs)")
PY
# print status of one service: answered from the daemon's memory, and
# probed (--refresh, as without a daemon).
ln -sf "$BIN" "$W/svcmgr"
hyperfine -N --warmup 10 --runs 200 --export-json "$W/ps.json" \
    "$W/svcmgr -s svc1 print status" "$W/svcmgr -s svc1 print status --refresh" >/dev/null 2>&1
python3 - "$W/ps.json" <<'PY'
import json, statistics, sys
for r, what in zip(json.load(open(sys.argv[1]))["results"], ["from memory", "--refresh (fake tools)"]):
    print(f"print status, {what:<24} median {statistics.median(r['times'])*1000:.2f} ms ({len(r['times'])} runs)")
PY
pid=$(cat "$OSVC_ROOT_PATH/var/osvcd.pid")
printf 'daemon resident memory, 200 services  %s\n' "$(awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")"
stop
# 1000 services, every fs mounted in the table the fs driver reads
# (OSVC_MOUNTINFO) and writable: the monitor's steady state on a big node.
services 1000
for i in $(seq 1000); do
    printf '%d 1 253:1 / %s/m%d rw - ext4 /dev/x%d rw\n' $((100 + i)) "$W" "$i" "$i"
done >"$W/mountinfo"
mkdir -p $(seq -f "$W/m%g" 1000)
export OSVC_MOUNTINFO=$W/mountinfo
"$W/nodemgr" daemon start
wait_count 1000
sleep 30
pid=$(cat "$OSVC_ROOT_PATH/var/osvcd.pid")
t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep 10
t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
printf 'idle daemon, 1000 services: CPU        %s %% of a core over 10 s\n' \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b - a) * 100 / hz / 10}')"
printf 'idle daemon, 1000 services: resident   %s\n' "$(awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")"
