# Shared by the fake system tools of tests/fakes/bin.
#
# Every fake records its argv as one line `<tool> <args...>` in
# $FAKE_STATE/calls, then answers from state files under $FAKE_STATE so that
# the fakes form one consistent little world (an address plumbed by ifconfig
# shows in `ip addr` and answers `ping`; a vg activated by vgchange shows in
# lvs; a fs mounted by mount shows in `mount`). They never sleep and never
# touch the system.
#
# State layout (written by tests/integration/common.rs, mutated by the fakes):
#   calls              the log of every call
#   links              `<index> <dev> <UP|DOWN> <mac>` per interface
#   addrs              `<dev> <label> <addr>/<prefix>` per address
#   remote_ips         addresses answering ping from another host
#   vg/<vg>/lvs        logical volume names, one a line
#   vg/<vg>/active     present when the vg is active
#   vg/<vg>/tags       vg tags, one a line, without the @
#   e2fsck/<key>.out   replaces the e2fsck answer for a device (key: / -> _)
#   e2fsck/<key>.rc    its exit code
#   mounts             `<dev> <mnt> <type> <opts>` per mounted fs, a space
#                      in a path written `\040`, as the kernel does
#   mountinfo          the same as /proc/self/mountinfo shows it (the
#                      product reads it there: OSVC_MOUNTINFO)
#   umount_busy/<key>  umount of that mount point fails with "target is busy"
#   ps                 what `ps -ef` prints
#   unreachable        peers ssh and rsync cannot reach, one a line
#   remote_mode/<node> what `nodemgr get --param node.host_mode` answers there
#   fail/<tool>        first line: rc; other lines: stderr. The tool fails so,
#   fail/<tool>.match  ...only when its args contain this text (if present).

set -u

if [ -z "${FAKE_STATE:-}" ] || [ ! -d "$FAKE_STATE" ]; then
    echo "fake $(basename "$0"): FAKE_STATE is not set or not a directory" >&2
    exit 99
fi

FAKE_TOOL=$(basename "$0")

# A path as a field of `mounts`: spaces as `\040`.
fake_mount_field() {
    printf '%s' "${1// /\\040}"
}

# Rewrites `mountinfo` from `mounts` (tests/integration/common.rs does the same).
fake_mountinfo() {
    local n=20 d m t o
    while read -r d m t o; do
        [ -n "$d" ] || continue
        n=$((n + 1))
        echo "$n 1 0:$n / $m $o - $t $d $o"
    done < "$FAKE_STATE/mounts" > "$FAKE_STATE/mountinfo.tmp.$$"
    mv "$FAKE_STATE/mountinfo.tmp.$$" "$FAKE_STATE/mountinfo"
}

fake_record() {
    local line="$FAKE_TOOL"
    local a
    for a in "$@"; do
        line="$line $a"
    done
    printf '%s\n' "$line" >> "$FAKE_STATE/calls"
}

# Applies fail/<tool> when it matches these args.
fake_maybe_fail() {
    local f="$FAKE_STATE/fail/$FAKE_TOOL"
    [ -f "$f" ] || return 0
    if [ -f "$f.match" ]; then
        local want
        want=$(cat "$f.match")
        case " $* " in
            *"$want"*) ;;
            *) return 0 ;;
        esac
    fi
    local rc
    rc=$(head -n 1 "$f")
    tail -n +2 "$f" >&2
    exit "$rc"
}

fake_key() {
    printf '%s' "$1" | tr '/' '_'
}

# 37.59.71.26 -> integer
ip2int() {
    local IFS=.
    set -- $1
    echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))
}

int2ip() {
    local n=$1
    echo "$(( (n >> 24) & 255 )).$(( (n >> 16) & 255 )).$(( (n >> 8) & 255 )).$(( n & 255 ))"
}

mask2prefix() {
    local n
    n=$(ip2int "$1")
    local p=0
    while [ $p -lt 32 ] && [ $(( (n >> (31 - p)) & 1 )) -eq 1 ]; do
        p=$((p + 1))
    done
    echo $p
}

# `<addr>/<prefix>` -> broadcast address
broadcast() {
    local a=${1%/*} p=${1#*/}
    local n
    n=$(ip2int "$a")
    local hostmask=$(( (1 << (32 - p)) - 1 ))
    int2ip $(( n | hostmask ))
}

# 0 when the address is on one of our interfaces.
plumbed() {
    [ -f "$FAKE_STATE/addrs" ] || return 1
    local dev label cidr
    while read -r dev label cidr; do
        [ "${cidr%/*}" = "$1" ] && return 0
    done < "$FAKE_STATE/addrs"
    return 1
}

link_exists() {
    [ -f "$FAKE_STATE/links" ] || return 1
    local idx dev state mac
    while read -r idx dev state mac; do
        [ "$dev" = "$1" ] && return 0
    done < "$FAKE_STATE/links"
    return 1
}
