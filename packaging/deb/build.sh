#!/usr/bin/env bash
# Builds target/debian/svcmgr_<version>_<arch>.deb with dpkg-deb alone: the
# tree is whatever `make install DESTDIR=<staging>` installs (so what
# install learns to install, the package ships), plus the control files
# next to this script. Prints the package's path last.
# Usage: bash packaging/deb/build.sh   (from anywhere; `make deb` runs it)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
cd "$TOP"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n $version ]] || { echo "deb: no version in $TOP/Cargo.toml" >&2; exit 2; }
arch=$(dpkg --print-architecture)
out_dir=$TOP/target/debian
mkdir -p "$out_dir"
stage=$(mktemp -d "$out_dir/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# The tree's root is the package's `./`: mktemp's 0700 would be its mode.
chmod 755 "$stage"

make -s install DESTDIR="$stage" PREFIX=/usr >/dev/null

# The binary's glibc floor: the newest GLIBC_x.y symbol version it uses.
glibc=$(objdump -T "$stage/usr/bin/svcmgr" 2>/dev/null |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1 || true)
libc_dep=libc6${glibc:+ (>= $glibc)}

doc=$stage/usr/share/doc/svcmgr
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: svcmgr"
    echo
    echo "Files: *"
    echo "License: Apache-2.0"
    echo " On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0;"
    echo " it is also in /usr/share/doc/svcmgr/LICENSE."
} >"$doc/copyright"

mkdir -p "$stage/DEBIAN"
# Every regular file under /etc is the administrator's once installed.
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
[[ -s $stage/DEBIAN/conffiles ]] || rm "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 755 "$HERE/$script" "$stage/DEBIAN/$script"
done
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@LIBC@/$libc_dep/" "$HERE/control" >"$stage/DEBIAN/control"

deb=$out_dir/svcmgr_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
