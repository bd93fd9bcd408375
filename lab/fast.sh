#!/usr/bin/env bash
# The fastest failover settings the benchmarks try, as lab/cluster.sh
# options, one word a line: heartbeats (unicast hb#1, disk hb#2) every 0.2 s
# with a 0.8 s timeout (4 missed beats), ready_period 0.2 s, and a 0.5 s
# watchdog timeout, so that the bound the nodes advertise (0.8 s) is no
# longer than the heartbeat timeout (src/daemon/hb/, orchestration/core.rs and
# watchdog.rs read them; ready_period only at daemon start, so they are set
# before it).
for kv in hb#1.interval=0.2 hb#1.timeout=0.8 hb#2.interval=0.2 hb#2.timeout=0.8 node.ready_period=0.2 node.watchdog_timeout=0.5; do
    printf -- '--param\n%s\n' "$kv"
done
