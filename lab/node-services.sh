#!/usr/bin/env bash
# PID 1 of a lab node, inside its root (node-init.sh execs it): what
# systemd is to a real node, reduced to what the lab needs.
#
# - Reaps orphans (the launchers' daemons), as bash does on SIGCHLD.
# - Runs the agent daemon as opensvc-agent.service does: started at boot
#   when enabled (the file /etc/svcmgr-lab/agent exists: `systemctl
#   enable`), in the foreground, restarted when it dies of a signal or
#   fails (Restart=on-failure) after RestartSec, 0.1 s. A clean stop (`nodemgr
#   daemon stop`, exit 0) is not restarted until /run/svcmgr-lab/agent.start
#   appears (`systemctl start`).
# - A fault injector may hold one restart back: the seconds written in
#   /run/svcmgr-lab/agent.hold delay the next restart, then the file is
#   removed (a slow systemd, a restart loop throttled).
#
# The agent's stdout and stderr (a panic message, say) go to
# /var/log/svcmgr-lab/agent.log, the lab's journal.
trap 'exit 0' TERM
mkdir -p /run/svcmgr-lab /var/log/svcmgr-lab
export PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin
# A builtin sleep: `read -t` on a fifo nobody writes, instead of forking
# sleep(1) ten times a second.
mkfifo /run/svcmgr-lab/tick
exec {tick}<>/run/svcmgr-lab/tick
nap() { read -r -t "$1" -u "$tick" _ || true; }

agent=""
while :; do
    if [[ -z $agent && -e /etc/svcmgr-lab/agent ]]; then
        echo "$(date '+%F %T.%N') starting the agent" >>/var/log/svcmgr-lab/agent.log
        nodemgr daemon start --foreground >>/var/log/svcmgr-lab/agent.log 2>&1 &
        agent=$!
    fi
    if [[ -n $agent ]] && ! kill -0 "$agent" 2>/dev/null; then
        wait "$agent"
        rc=$?
        echo "$(date '+%F %T.%N') the agent exited with $rc" >>/var/log/svcmgr-lab/agent.log
        if ((rc == 0)); then
            # Stopped on purpose: not restarted, and not supervised until
            # the node boots again.
            agent=""
            while [[ ! -e /run/svcmgr-lab/agent.start ]]; do nap 0.2; done
            rm -f /run/svcmgr-lab/agent.start
            continue
        fi
        hold=$(cat /run/svcmgr-lab/agent.hold 2>/dev/null)
        rm -f /run/svcmgr-lab/agent.hold
        nap "${hold:-0.1}"
        agent=""
        continue
    fi
    nap 0.1
done
