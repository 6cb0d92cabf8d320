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
cache=${PCOPY_CACHE:-/var/cache/pcopy}
list=$here/packages

die() { echo "rootfs: $*" >&2; exit 1; }

pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list" | tr -s ' \n' ',,' | sed 's/,$//')
key=$(cat "$0" "$list" | sha256sum | cut -c1-12)
root=$cache/trixie-$key

if [ -e "$root/.pcopy-rootfs" ]; then
	echo "$root"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the trixie rootfs needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (tools/deps.sh installs it)"

# The host's Debian mirror: the URI serving the plain bookworm suite in a
# deb822 .sources file or in sources.list.
mirror=${TRIXIE_MIRROR:-}
if [ -z "$mirror" ]; then
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		mirror=$(awk '
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") ok = 1 }
			/^$/ { if (ok && uri) { print uri; exit } ok = 0; uri = "" }
			END { if (ok && uri) print uri }' "$f" | head -n 1)
		[ -n "$mirror" ] && break
	done
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; set TRIXIE_MIRROR"

mkdir -p "$cache"
exec 9> "$cache/.trixie.lock"
flock 9
# another run may have finished it while we waited
if [ -e "$root/.pcopy-rootfs" ]; then
	echo "$root"
	exit 0
fi

tmp=$(mktemp -d "$cache/.trixie-$key.XXXXXX")
# mktemp makes it 0700: as the guest's root it must be searchable by all
chmod 755 "$tmp"
log=$cache/trixie-$key.log
cleanup() {
	# debootstrap leaves /proc and friends mounted in the target on failure
	for m in $(awk -v t="$tmp" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
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

# Nothing in the rootfs needs the downloaded .debs or the initrd that the
# kernel's postinst made (the test VM brings its own initramfs).
rm -f "$tmp"/var/cache/apt/archives/*.deb "$tmp"/boot/initrd.img-*
chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' > "$tmp/.pcopy-rootfs"
mv -T "$tmp" "$root"
trap - EXIT
echo "rootfs: trixie-$key built in $(( $(date +%s) - start ))s, kernel $kver" >&2
echo "$root"
