#!/bin/bash
# Build (once) and print the path of a clean Debian 12 (bookworm) rootfs: a
# minbase debootstrap with Debian's stock kernel and its headers and
# nothing of pcopy, the "host" on which tools/debroot/test.sh installs the
# .debs.  Cached as $PCOPY_CACHE/bookworm-KEY (default /var/cache/pcopy),
# KEY a hash of this script; built in a temporary directory beside it and
# renamed only once complete.  Environment: PCOPY_CACHE, BOOKWORM_MIRROR
# (default: the host's Debian mirror).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rootfs-lib.sh"
# the kernel the VM boots and what DKMS builds against; kmod for modprobe
pkgs=linux-image-amd64,linux-headers-amd64,kmod
key=$(sha256sum < "$0" | cut -c1-12)

die() { echo "debroot: $*" >&2; exit 1; }

rootfs_begin bookworm "$key"
mirror=${BOOKWORM_MIRROR:-$(rootfs_mirror)}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; set BOOKWORM_MIRROR"

echo "debroot: building bookworm-$key from $mirror (log: $log)" >&2
nice -n 10 debootstrap --variant=minbase --components=main --include="$pkgs" \
	bookworm "$tmp" "$mirror" > "$log" 2>&1 ||
	die "debootstrap of bookworm failed: $(grep -E '^(E|W):' "$log" | tail -n 1) (log: $log)"
kver=$(ls "$tmp/lib/modules" | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -n 1)
[ -n "$kver" ] && [ -r "$tmp/boot/vmlinuz-$kver" ] && [ -r "$tmp/usr/src/linux-headers-$kver/Makefile" ] ||
	die "no 6.1 kernel with headers in the new rootfs (log: $log)"
echo "$kver" > "$tmp/.pcopy-kver"
rootfs_commit "kernel $kver"
