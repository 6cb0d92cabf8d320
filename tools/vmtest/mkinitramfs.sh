#!/bin/sh
# Build the tiny busybox initramfs of the test VM.
# usage: mkinitramfs.sh MODDIR OUTPUT
# It holds busybox, the init script and the modules needed to reach the
# host's root over virtio-9p; everything else comes from the host.  MODDIR is
# the kernel's module tree (/lib/modules/KVER); a module the kernel has built
# in (modules.builtin) is skipped, and a kernel with no module tree at all
# (a debug kernel with everything built in) gets none.  The modules to load
# are listed, in order, in /modules/order.
set -eu

moddir=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox

[ -x "$bb" ] || { echo "mkinitramfs: busybox-static is not installed" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" \
	 "$stage/mnt" "$stage/modules"
cp "$bb" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
: > "$stage/modules/order"

if [ -d "$moddir/kernel" ]; then
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
		 virtio_pci netfs fscache 9pnet 9pnet_virtio 9p; do
		f=$(find "$moddir/kernel" -name "$m.ko*" | head -n 1)
		if [ -z "$f" ]; then
			grep -q "/$m\.ko\$" "$moddir/modules.builtin" 2>/dev/null && continue
			echo "mkinitramfs: module $m neither built in nor found in $moddir" >&2
			exit 1
		fi
		case $f in
		*.ko.xz) xz -dc "$f" > "$stage/modules/$m.ko" ;;
		*.ko.zst) zstd -dcq "$f" > "$stage/modules/$m.ko" ;;
		*) cp "$f" "$stage/modules/$m.ko" ;;
		esac
		echo "$m" >> "$stage/modules/order"
	done
fi

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
