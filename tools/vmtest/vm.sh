#!/bin/bash
# Boot the pcopy test VM and run one job inside it.
#
# usage: vm.sh MODE [ARGS...]
#   MODE is check, demo or bench; ARGS reach the guest runner (guest.sh).
#
# The VM boots Debian's stock kernel (the one pcopy.ko is built for) under
# single-threaded TCG, which is the only configuration in which nested KVM
# proved reliable (see Documentation/testing.rst).  The host's root is shared
# read-only; results come back through a writable share, never through the
# console, so a test can print anything without confusing the host.
#
# Environment: KVER (required), VMTEST_TIMEOUT (seconds, default 1800),
# VMTEST_MEM (MiB, default 3072), BUILD (output directory, default ./build).
# A lane (another kernel, another root filesystem) overrides:
#   VMTEST_KERNEL  the kernel image (default /boot/vmlinuz-$KVER)
#   VMTEST_MODDIR  its module tree for the initramfs (default
#                  /lib/modules/$KVER; need not exist if all is built in)
#   VMTEST_ROOT    the directory the guest uses as its root (default /)
#   VMTEST_APPEND  extra kernel command-line words (VAR=value words reach
#                  the guest runner's environment)
#   VMTEST_LABEL   the lane's name, for the cached initramfs (default $KVER)
# The guest runs the tree this script lives in: a lane whose binaries are
# built differently runs from its own copy of the tree.
set -euo pipefail

mode=${1:?usage: vm.sh MODE [ARGS...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
kver=${KVER:?KVER is not set}
timeout=${VMTEST_TIMEOUT:-1800}
mem=${VMTEST_MEM:-3072}
kernel=${VMTEST_KERNEL:-/boot/vmlinuz-$kver}
moddir=${VMTEST_MODDIR:-/lib/modules/$kver}
root=${VMTEST_ROOT:-/}
label=${VMTEST_LABEL:-$kver}
initrd=$build/vm/initramfs-$label.cpio.gz
res=$build/vm/results

die() { echo "vmtest: $*" >&2; exit 1; }

[ -r "$kernel" ] || die "no kernel image $kernel: install linux-image-$kver"
[ -n "${VMTEST_MODDIR:-}" ] || [ -d "$moddir/kernel" ] ||
	die "no modules for $kver: install linux-image-$kver"
[ -d "$root" ] || die "no root directory $root"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: install qemu-system-x86"

if [ ! -s "$initrd" ] || [ "$initrd" -ot "$src/tools/vmtest/init" ] ||
   [ "$initrd" -ot "$src/tools/vmtest/mkinitramfs.sh" ] ||
   [ "$initrd" -ot "$kernel" ]; then
	"$src/tools/vmtest/mkinitramfs.sh" "$moddir" "$initrd"
fi

rm -rf "$res"
mkdir -p "$res"
{
	printf 'MODE=%q\n' "$mode"
	printf 'ARGS=%q\n' "$*"
} > "$res/params"

console=$build/vm/console.log
echo "vmtest: booting $label under TCG (timeout ${timeout}s, console in $console)"
tailpid=
if [ "$mode" = demo ] || [ "$mode" = bench ]; then
	tail -n +1 -s 0.2 -F "$res/$mode.out" 2>/dev/null &
	tailpid=$!
fi
set +e
timeout -k 10 "$timeout" qemu-system-x86_64 \
	-accel tcg,thread=single -cpu max -m "$mem" -smp 2 \
	-nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 ${VMTEST_APPEND:+$VMTEST_APPEND }VMTEST_SRC=$src VMTEST_RESULTS=$res" \
	-virtfs local,path="$root",mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$src",mount_tag=src,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$res",mount_tag=results,security_model=none,multidevs=remap \
	< /dev/null 2>&1 | tee "$console" | sed -u -n 's/^.*vmtest: /  | /p'
rc=${PIPESTATUS[0]}
set -e
if [ -n "$tailpid" ]; then
	sleep 2
	kill "$tailpid" 2>/dev/null || true
fi

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "VM TIMEOUT: the VM did not finish within ${timeout}s" > "$res/vm-error"
elif [ ! -e "$res/done" ]; then
	echo "VM CRASH: the guest runner did not finish (qemu exit $rc); see $console" > "$res/vm-error"
fi
[ -e "$res/vm-error" ] && cat "$res/vm-error" >&2
exit 0
