#!/usr/bin/env bash
# Measures svcmgr's own overhead with hyperfine (medians, in ms):
#   - `svcmgr --help`
#   - `print status` of the tutorial service (ip, vg, 2 fs, app, sync#i0)
#     in its started state, with instant fake tools (tiny /bin/sh scripts
#     that print a fixed answer), so what is measured is svcmgr itself.
# Usage: bash scripts/bench.sh [runs]   (default 300 runs each)
# Figures go to BENCHMARKS.md by hand, with this command line.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-300}
command -v hyperfine >/dev/null || bash scripts/deps.sh
cargo build --release --locked -q
BIN=$PWD/target/release/svcmgr
W=$(mktemp -d /tmp/svcmgr-bench.XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$W"' EXIT

R=$W/root
mkdir -p "$R/etc" "$W/fakes" "$W/svc1/app" "$W/svc1/data" "$W/svc1/app/init.d"
# One exec per call: the answer is a shell literal printed by a builtin.
fake() {
    local quoted=${2//\'/\'\\\'\'}
    printf '#!/bin/sh\nprintf %%s\\\\n %s\n' "'$quoted'" >"$W/fakes/$1"
    chmod 755 "$W/fakes/$1"
}
fake ip "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 192.0.2.22/27 brd 192.0.2.31 scope global eth0
    inet 192.0.2.26/27 brd 192.0.2.31 scope global secondary eth0:1"
fake lvs "  -wi-a-----
  -wi-a-----"
fake vgs "  sles1"
# The mount table the fs driver reads instead of /proc/self/mountinfo.
printf '%s\n' "98 1 253:1 / $W/svc1/app rw - ext3 /dev/mapper/vgsvc1-lvappsvc1 rw" \
    "99 1 253:2 / $W/svc1/data rw - ext3 /dev/mapper/vgsvc1-lvdatasvc1 rw" >"$W/mountinfo"
fake ps "UID PID PPID C STIME TTY TIME CMD"
printf '#!/bin/sh\nexit 0\n' >"$W/svc1/app/init.d/C10check"
chmod 755 "$W/svc1/app/init.d/C10check"
cat >"$R/etc/p26.opensvc.com.conf" <<CONF
[DEFAULT]
service_type = TST
nodes = sles1 sles2
[ip#0]
ipname = 192.0.2.26
ipdev = eth0
[vg#0]
vgname = vgsvc1
[fs#0]
type = ext3
mnt = $W/svc1/app
dev = /dev/mapper/vgsvc1-lvappsvc1
[fs#1]
type = ext3
mnt = $W/svc1/data
dev = /dev/mapper/vgsvc1-lvdatasvc1
CONF
ln -s "$W/svc1/app/init.d" "$R/etc/p26.opensvc.com.d"
export OSVC_ROOT_PATH=$R OSVC_NODENAME=sles1 OSVC_MOUNTINFO=$W/mountinfo PATH="$W/fakes:$PATH"
"$BIN" -s p26.opensvc.com print status >/dev/null # first run prints the collector lines
"$BIN" -s p26.opensvc.com print status

run() {
    local name=$1
    shift
    hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/$name.json" "$@" >/dev/null 2>&1
    python3 - "$W/$name.json" "$name" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
times = sorted(t * 1000 for t in r["times"])
print(f"{sys.argv[2]:<28} median {statistics.median(times):7.3f} ms   mean {statistics.mean(times):7.3f} ms   min {times[0]:7.3f} ms   runs {len(times)}")
PY
}
echo
echo "svcmgr $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $RUNS runs each"
run "svcmgr --help" "$BIN --help"
run "print status (fake tools)" "$BIN -s p26.opensvc.com print status"
