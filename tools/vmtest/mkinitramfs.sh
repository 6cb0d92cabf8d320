#!/bin/sh
# Build the tiny busybox initramfs of the test VM.
# usage: mkinitramfs.sh KVER OUTPUT
# It holds busybox, the init script and the modules needed to reach the
# host's root over virtio-9p; everything else comes from the host.
set -eu

kver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver/kernel
bb=/bin/busybox

[ -x "$bb" ] || { echo "mkinitramfs: busybox-static is not installed" >&2; exit 1; }
[ -d "$moddir" ] || { echo "mkinitramfs: no modules for kernel $kver in $moddir" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" \
	 "$stage/mnt" "$stage/modules"
cp "$bb" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
	 virtio_pci netfs fscache 9pnet 9pnet_virtio 9p; do
	f=$(find "$moddir" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || { echo "mkinitramfs: module $m not found for $kver" >&2; exit 1; }
	case $f in
	*.ko.xz) xz -dc "$f" > "$stage/modules/$m.ko" ;;
	*.ko.zst) zstd -dcq "$f" > "$stage/modules/$m.ko" ;;
	*) cp "$f" "$stage/modules/$m.ko" ;;
	esac
done

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
