#!/usr/bin/env bash
# Builds the Debian package (packaging/deb/build.sh) and installs it in a
# throwaway root: new mount, network, UTS and PID namespaces whose / is an
# overlay of the host's / with its upper dir in a temp dir on /run (tmpfs,
# outside the overlay's lower /). There it checks what dpkg installed, runs
# a minimal service's `print status` from the installed paths through a
# login shell (PATH from /etc/profile.d/opensvc.sh), then removes and
# purges the package. The namespaces end with the script's child, taking
# every mount with them, also on failure; the temp dir goes on exit; and
# the host's dpkg database is checked unchanged. Root only (CI runs it
# from scripts/test.sh).
# Usage: bash scripts/deb-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Inside the namespaces: $2 is the temp dir, the package in it.
if [[ ${1:-} == --inside ]]; then
    w=$2
    mount --make-rprivate /
    mkdir -p "$w/upper" "$w/work" "$w/root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/work" "$w/root"
    mount --rbind /dev "$w/root/dev"
    mount -t proc proc "$w/root/proc"
    # An empty /run: no /run/systemd/system, so the maintainer scripts
    # must not talk to the host's systemd.
    mount -t tmpfs -o mode=755 tmpfs "$w/root/run"
    mount -t tmpfs -o mode=1777 tmpfs "$w/root/tmp"
    hostname debnode
    cp "$w/svcmgr.deb" "$w/root/tmp/svcmgr.deb"
    exec chroot "$w/root" /bin/bash -euo pipefail -c '
        fail() { echo "deb-test: $*" >&2; exit 1; }
        dpkg -i /tmp/svcmgr.deb
        [[ $(dpkg-query -W -f="\${db:Status-Status}" svcmgr) == installed ]] || fail "dpkg does not list svcmgr as installed"
        for f in /usr/bin/svcmgr /etc/profile.d/opensvc.sh /lib/systemd/system/opensvc-agent.service \
            /lib/systemd/system/svcmgr-sync.timer /usr/share/doc/svcmgr/copyright \
            /usr/share/doc/svcmgr/examples/p26.opensvc.com.conf /etc/opensvc /var/lib/opensvc/lock; do
            [[ -e $f ]] || fail "the package did not install $f"
        done
        for l in nodemgr svcmon; do
            [[ $(readlink /usr/bin/$l) == svcmgr ]] || fail "/usr/bin/$l is not a link to svcmgr"
        done
        for unit in /lib/systemd/system/{opensvc-agent.service,svcmgr-sync.service,svcmgr-sync.timer}; do
            doc=$(sed -n "s|^Documentation=file://||p" "$unit")
            [[ -n $doc && -f $doc ]] || fail "$unit: Documentation= names ${doc:-nothing}, not an installed file"
        done
        grep -q "^Type=notify$" /lib/systemd/system/opensvc-agent.service || fail "the agent unit is not Type=notify"
        if command -v systemd-analyze >/dev/null; then
            systemd-analyze verify /lib/systemd/system/{opensvc-agent.service,svcmgr-sync.service,svcmgr-sync.timer} ||
                fail "systemd-analyze verify refuses a unit (above)"
        fi
        [[ ! -e /etc/cron.d/svcmgr ]] || fail "the cron file is live next to the timer"
        if command -v systemctl >/dev/null; then
            [[ -L /etc/systemd/system/timers.target.wants/svcmgr-sync.timer ]] || fail "postinst did not enable svcmgr-sync.timer"
            [[ ! -e /etc/systemd/system/multi-user.target.wants/opensvc-agent.service ]] || fail "postinst enabled the agent"
        fi

        # A minimal service: one launcher directory whose check succeeds.
        mkdir -p /srv/p26/init.d
        printf "#!/bin/sh\nexit 0\n" >/srv/p26/init.d/C10check
        chmod 755 /srv/p26/init.d/C10check
        printf "[DEFAULT]\nservice_type = TST\nnodes = debnode\n\n[app]\ndir = /srv/p26/init.d\n" \
            >/etc/opensvc/p26.opensvc.com.conf
        ln -s /usr/bin/svcmgr /etc/opensvc/p26.opensvc.com
        svcmgr -s p26.opensvc.com validate config
        # A login shell: /etc/profile reads /etc/profile.d/opensvc.sh.
        out=$(env -i HOME=/root TERM=dumb bash -lc "p26.opensvc.com print status" 2>/tmp/stderr) ||
            fail "print status failed: $(cat /tmp/stderr)"
        # The first status of a new config tells the collector, as the
        # tutorial shows.
        want="send /etc/opensvc/p26.opensvc.com.conf to collector ... OK
update /var/lib/opensvc/p26.opensvc.com.push timestamp ... OK
p26.opensvc.com
overall                   up
|- avail                  up
|  '"'"'- app            .... up       app
|- sync                   n/a
'"'"'- hb                     n/a"
        if [[ $out != "$want" ]]; then
            printf "deb-test: print status, want:\n%s\ngot:\n%s\nstderr:\n%s\n" "$want" "$out" "$(cat /tmp/stderr)" >&2
            exit 1
        fi

        dpkg -r svcmgr
        [[ ! -e /usr/bin/svcmgr ]] || fail "dpkg -r left /usr/bin/svcmgr"
        [[ -e /etc/profile.d/opensvc.sh ]] || fail "dpkg -r removed a conffile (purge does)"
        [[ ! -L /etc/systemd/system/timers.target.wants/svcmgr-sync.timer ]] || fail "prerm left the timer enabled"
        dpkg -P svcmgr
        [[ ! -e /etc/profile.d/opensvc.sh ]] || fail "dpkg -P left /etc/profile.d/opensvc.sh"
        [[ -e /etc/opensvc/p26.opensvc.com.conf ]] || fail "purge removed a service config"
        echo "deb-test: installed, ran, removed and purged in the overlay"
    '
fi

[[ $EUID -eq 0 ]] || { echo "deb-test: run as root (namespaces, overlay, chroot)" >&2; exit 1; }
status() { dpkg-query -W -f='${db:Status-Status}' svcmgr 2>/dev/null || echo not-installed; }
profile() { [[ -e /etc/profile.d/opensvc.sh ]] && echo present || echo absent; }
before="$(status) $(profile)"

deb=$(bash packaging/deb/build.sh | tail -n 1)
w=$(mktemp -d /run/svcmgr-deb.XXXXXX)
trap 'rm -rf "$w"' EXIT
cp "$deb" "$w/svcmgr.deb"
# --kill-child: whatever happens to this script, its namespace's processes
# die with it, and the last process of the namespace takes its mounts.
unshare --mount --net --uts --pid --fork --kill-child bash "$0" --inside "$w"

after="$(status) $(profile)"
[[ $before == "$after" ]] || { echo "deb-test: the host changed: before '$before', after '$after'" >&2; exit 1; }
echo "deb-test: host untouched (svcmgr: $after)"
