#!/usr/bin/env bash
# The chaos suite (tests/chaos/), for people and for BENCHMARKS.md: seeded
# random faults (power losses, cut cables, killed and stopped agents,
# resources failed behind the agent's back, orders, config changes) on a
# lab cluster, each followed by waiting for the cluster to settle, judged
# by an auditor that reads only kernel objects. As root.
#   bash scripts/chaos.sh [--seed S] [--faults N] [--nodes N] [--max-minutes M] [--keep] [-v]
# A failing run prints its seed; `--seed S` replays the same faults.
# `--plan` prints the faults a seed gives and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 && " $* " != *" --plan "* ]]; then
    echo "chaos: run as root (the lab needs namespaces, loop devices and LVM)" >&2
    exit 1
fi
bash scripts/deps.sh
exec cargo test --locked --release --test chaos -- "$@"
