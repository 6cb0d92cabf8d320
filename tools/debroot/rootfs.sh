#!/bin/bash
# Build (once) and print the path of a clean Debian 12 (bookworm) rootfs: a
# minbase debootstrap with Debian's stock kernel and its headers and
# nothing of pcopy, the "host" on which tools/debroot/test.sh installs the
# .debs.  Cached as $PCOPY_CACHE/bookworm-KEY (default /var/cache/pcopy),
# KEY a hash of this script; built in a temporary directory beside it and
# renamed only once complete.  Environment: PCOPY_CACHE, BOOKWORM_MIRROR
# (default: the host's Debian mirror, tools/mirror.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${PCOPY_CACHE:-/var/cache/pcopy}
# the kernel the VM boots and what DKMS builds against; kmod for modprobe
pkgs=linux-image-amd64,linux-headers-amd64,kmod
key=$(sha256sum < "$0" | cut -c1-12)
root=$cache/bookworm-$key

die() { echo "debroot: $*" >&2; exit 1; }

if [ -e "$root/.pcopy-rootfs" ]; then
	echo "$root"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "building the bookworm rootfs needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (tools/deps.sh installs it)"
mirror=${BOOKWORM_MIRROR:-$("$here/../mirror.sh")} ||
	die "no Debian mirror found in /etc/apt/sources.list*; set BOOKWORM_MIRROR"

mkdir -p "$cache"
exec 9> "$cache/.bookworm.lock"
flock 9
if [ -e "$root/.pcopy-rootfs" ]; then
	echo "$root"
	exit 0
fi
tmp=$(mktemp -d "$cache/.bookworm-$key.XXXXXX")
chmod 755 "$tmp"
log=$cache/bookworm-$key.log
cleanup() {
	for m in $(awk -v t="$tmp" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
echo "debroot: building bookworm-$key from $mirror (log: $log)" >&2
nice -n 10 debootstrap --variant=minbase --components=main --include="$pkgs" \
	bookworm "$tmp" "$mirror" > "$log" 2>&1 ||
	die "debootstrap of bookworm failed: $(grep -E '^(E|W):' "$log" | tail -n 1) (log: $log)"
kver=$(ls "$tmp/lib/modules" | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -n 1)
[ -n "$kver" ] && [ -r "$tmp/boot/vmlinuz-$kver" ] && [ -r "$tmp/usr/src/linux-headers-$kver/Makefile" ] ||
	die "no 6.1 kernel with headers in the new rootfs (log: $log)"
# apt inside it reads the same mirror; the VM brings its own initramfs
rm -f "$tmp"/var/cache/apt/archives/*.deb "$tmp"/boot/initrd.img-*
echo "$kver" > "$tmp/.pcopy-kver"
chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' > "$tmp/.pcopy-rootfs"
mv -T "$tmp" "$root"
trap - EXIT
echo "debroot: bookworm-$key built in $(( $(date +%s) - start ))s, kernel $kver" >&2
echo "$root"
