#!/bin/bash
# Build (once) and print the path of the Debian 13 (trixie) rootfs of the
# Linux 6.12 test lane: a minbase debootstrap holding gcc-14, the 6.12
# kernel image and headers and everything the tests run (tools/trixie/packages).
#
# usage: rootfs.sh          build if missing, print the rootfs path last
#
# The rootfs is cached as $PCOPY_CACHE/trixie-KEY (default /var/cache/pcopy),
# KEY being a hash of this script and the package list, so a second run (or
# another checkout with the same list) reuses it.  It is built in a temporary
# directory next to it and renamed only once complete, so an interrupted
# build never leaves a half rootfs behind.  The host's own apt sources are
# never changed: the mirror is only read from them.
# Environment: PCOPY_CACHE, TRIXIE_MIRROR (default: the host's Debian mirror).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rootfs-lib.sh"
list=$here/packages

die() { echo "rootfs: $*" >&2; exit 1; }

pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list" | tr -s ' \n' ',,' | sed 's/,$//')
key=$(cat "$0" "$list" | sha256sum | cut -c1-12)
rootfs_begin trixie "$key"
mirror=${TRIXIE_MIRROR:-$(rootfs_mirror)}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; set TRIXIE_MIRROR"

echo "rootfs: building trixie-$key from $mirror (log: $log)" >&2
if ! nice -n 10 debootstrap --variant=minbase --components=main \
	--include="$pkgs" trixie "$tmp" "$mirror" > "$log" 2>&1; then
	die "debootstrap of trixie failed: $(grep -E '^(E|W):' "$log" | tail -n 1) (log: $log)"
fi

# Every kernel piece the lane needs must be there: fail with the reason,
# never hand back a rootfs that silently lacks one.
for flavour in amd64 rt-amd64 cloud-amd64; do
	kver=$("$here/kver.sh" "$tmp" "$flavour") ||
		die "no 6.12 $flavour kernel in the new rootfs (log: $log)"
	[ -r "$tmp/usr/lib/modules/$kver/build/Makefile" ] ||
		die "no headers for $kver in the new rootfs (log: $log)"
done
kver=$("$here/kver.sh" "$tmp" amd64)
[ -r "$tmp/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in the new rootfs"
ls "$tmp"/usr/src/linux-source-6.12.tar.* > /dev/null 2>&1 ||
	die "no linux-source-6.12 tarball in the new rootfs"

rootfs_commit "kernel $kver"
