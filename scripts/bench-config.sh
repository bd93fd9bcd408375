#!/usr/bin/env bash
# Times `svcmgr validate config` on a service file of 10,000 resource
# sections (issue 10, item 22: it took 9 s when sections were found by
# scanning them all). Prints hyperfine's median, or the shell's time when
# hyperfine is missing.
# Usage: bash scripts/bench-config.sh [sections] [runs]   (default 10000, 20)
# BIN=path/to/svcmgr skips the release build. Figures go to BENCHMARKS.md
# by hand, with this command line.
set -euo pipefail
cd "$(dirname "$0")/.."
SECTIONS=${1:-10000}
RUNS=${2:-20}
if [[ -z ${BIN:-} ]]; then
    cargo build --release --locked -q
    BIN=$PWD/target/release/svcmgr
fi
W=$(mktemp -d /tmp/svcmgr-bench-config.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/etc"
{
    printf '[DEFAULT]\nservice_type = TST\nnodes = sles1\n'
    for ((i = 0; i < SECTIONS; i++)); do
        printf '[ip#%d]\nipname = 192.0.2.%d\nipdev = eth0\n' "$i" $((i % 250 + 1))
    done
} >"$W/etc/big.conf"
echo "$(wc -c <"$W/etc/big.conf") bytes, $SECTIONS sections"
export OSVC_ROOT_PATH=$W OSVC_NODENAME=sles1
"$BIN" -s big validate config
if command -v hyperfine >/dev/null; then
    hyperfine -N -w 3 -r "$RUNS" --export-json "$W/h.json" "$BIN -s big validate config"
    python3 - "$W/h.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(x * 1000 for x in r["times"])
print(f"median {statistics.median(t):.1f} ms, min {t[0]:.1f} ms, runs {len(t)}; "
      f"mean cpu: user {r['user'] * 1000:.1f} ms, system {r['system'] * 1000:.1f} ms")
PY
else
    time (for ((r = 0; r < RUNS; r++)); do "$BIN" -s big validate config >/dev/null; done)
    echo "(total of $RUNS runs)"
fi
