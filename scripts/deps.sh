#!/usr/bin/env bash
# Installs, on a Debian machine where we are root, every system package the
# build, the tests, the demo and the benchmark need. Idempotent.
set -euo pipefail

packages=(
    build-essential pkg-config make  # cc for crates with C parts; make install
    iproute2 net-tools               # ip, ifconfig (the ip driver)
    iputils-ping iputils-arping      # ping, arping (conflict check, ARP announce)
    lvm2                             # vgs, lvs, vgchange (the vg driver)
    e2fsprogs util-linux mount       # mkfs.ext4, e2fsck, losetup, mount, unshare, nsenter, flock
    psmisc                           # fuser (releasing a busy mount point)
    procps                           # ps (OpenHA daemon check)
    rsync openssh-client             # the sync driver
    openssh-server sudo              # the lab's per-node sshd; a non-root ruser
    python3 curl                     # the demo's web server and client
    hyperfine                        # the benchmark
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "deps: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Installing a server package must not start it on this machine (the
    # lab runs its own sshd inside each node): forbid service starts for
    # the duration of the install, unless the machine already does.
    policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [[ -z $policy ]] || rm -f "$policy"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        echo "deps: cargo is in ~/.cargo/bin; add it to PATH" >&2
    else
        echo "deps: cargo not found: install a Rust toolchain (1.85 or newer, edition 2024)" >&2
    fi
    exit 1
fi
