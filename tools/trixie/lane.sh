#!/bin/bash
# The Linux 6.12 lane of "make check": Debian 13's own kernel, booted in the
# test VM with a Debian 13 (trixie) rootfs as the guest's root.
#
# usage: lane.sh OUTDIR [T words]
#   1. tools/trixie/rootfs.sh: the cached trixie rootfs (built on first use)
#   2. a copy of the source tree in OUTDIR/tree, built inside the rootfs
#      (chroot in a private mount namespace) against its 6.12 headers and
#      libraries, so the 6.1 build of the main tree is never touched
#   3. unless T is given: lint (6.12 checkpatch and the rootfs' sparse) and
#      compile checks of kmod/ with W=1 against the amd64, rt-amd64 and
#      cloud-amd64 header flavours, each a test result
#   4. the selftests in the VM: the rootfs' vmlinuz, its modules, its root
# OUTDIR/report.txt gets one "PASS [6.12] name" line per result and the
# lane's summary last.  Every missing piece is a FAIL with a one-line reason.
# Environment: VMTEST_LOCK=FILE: boot the VM under flock(FILE) (check.sh).
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: lane.sh OUTDIR [T words]}
shift
T=$*
lane=6.12
mkdir -p "$out"
out=$(cd "$out" && pwd)
tree=$out/tree
host=$out/host-results
: > "$host"
results=/nonexistent
start=$(date +%s)

step() { echo "== [$lane] $* ($(( $(date +%s) - start ))s)"; }
result() { echo "$1 $2" >> "$host"; }

finish() {
	LANE=$lane "$src/tools/vmtest/report.sh" "$results" "$host" > "$out/report.txt"
	exit 0
}

# Run a command inside the rootfs: a private mount namespace holds its
# /proc, /dev and the bind mount of OUTDIR, so they vanish with it even if
# the build is killed; nothing is left mounted in the shared cached rootfs.
in_root() {
	unshare --mount --propagation private -- /bin/sh -c '
		set -e
		r=$1 o=$2
		shift 2
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mount --bind "$o" "$r$o"
		exec chroot "$r" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"' in_root "$root" "$out" "$@"
}

step "rootfs (tools/trixie/rootfs.sh)"
if ! root=$("$src/tools/trixie/rootfs.sh" 2> "$out/rootfs.log"); then
	cat "$out/rootfs.log"
	result FAIL "$(tail -n 1 "$out/rootfs.log")"
	finish
fi
cat "$out/rootfs.log"
root=$(echo "$root" | tail -n 1)
if ! kver=$("$src/tools/trixie/kver.sh" "$root" amd64); then
	result FAIL "rootfs: no 6.12 amd64 kernel in $root"
	finish
fi
echo "   rootfs $root, kernel $kver"

step "copy of the tree in $tree"
# a fresh copy every time (only its build/ stays: the harness headers),
# so that files renamed or deleted in the tree do not linger in the copy
mkdir -p "$tree"
find "$tree" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
if [ -e "$src/.git" ]; then
	(cd "$src" && git ls-files -z | cpio -0pdm --quiet "$tree") 2> "$out/copy.log"
else
	(cd "$src" && find . -path ./build -prune -o -type f -print0 |
		cpio -0pdm --quiet "$tree") 2> "$out/copy.log"
fi
# mount points in the rootfs: for the chroot, and for the guest, whose
# root is read-only, so the source share needs an existing directory
mkdir -p "$root$out" "$root$tree"

step "build in Debian 13 (pcopy.ko for $kver, agent, selftests, minivm)"
if in_root nice -n 10 make -C "$tree" all SERIES=$lane KVER="$kver" > "$out/build.log" 2>&1; then
	result PASS "build: pcopy.ko for $kver, agent, selftests and minivm in Debian 13"
else
	tail -n 60 "$out/build.log"
	result FAIL "build in Debian 13 (log: $out/build.log)"
	finish
fi

if [ -z "$T" ]; then
	step "lint (6.12 checkpatch, sparse)"
	sparse=$(in_root sparse --version 2>&1)
	if in_root make -C "$tree" -s lint SERIES=$lane KVER="$kver" > "$out/lint.log" 2>&1; then
		result PASS "lint: checkpatch (6.12) and sparse $sparse clean on kmod/"
	else
		cat "$out/lint.log"
		result FAIL "lint: checkpatch (6.12) or sparse $sparse reported problems (log: $out/lint.log)"
	fi

	# W=1 against each header flavour, in a copy per flavour: 6.12 builds
	# external modules only in place, so each needs its own kmod/.
	for flavour in amd64 rt-amd64 cloud-amd64; do
		step "compile check against $flavour"
		if ! k=$("$src/tools/trixie/kver.sh" "$root" "$flavour"); then
			result FAIL "compile $flavour: no 6.12 $flavour headers in the rootfs"
			continue
		fi
		d=$out/compile-$flavour
		log=$out/compile-$flavour.log
		rm -rf "$d" && mkdir -p "$d"
		(cd "$tree" && find Kbuild kmod uapi -type f ! -name '*.o' ! -name '*.ko' \
			! -name '*.cmd' ! -name '*.mod*' ! -name 'modules.order' \
			! -name 'Module.symvers' -print0 | cpio -0pdm --quiet "$d")
		if in_root nice -n 10 make -C "/usr/lib/modules/$k/build" M="$d" W=1 modules > "$log" 2>&1 &&
		   ! grep -qE 'warning:|error:' "$log"; then
			result PASS "compile: kmod/ with W=1 against $k: no warnings"
		else
			grep -E 'warning:|error:' "$log" | head -n 20
			result FAIL "compile: kmod/ with W=1 against $k: $(grep -cE 'warning:|error:' "$log") warnings/errors (log: $log)"
		fi
	done
fi

# DKMS in the rootfs, which is the VM's root: selftests/dkms_test
# modprobes what it installed; removed again after the VM
dkms=
if [ -z "$T" ] || [[ " $T " == *dkms* ]]; then
	dkms=1
	step "DKMS install for $kver in the rootfs"
	if in_root env KVER="$kver" "$tree/tools/dkms-test.sh" install > "$out/dkms-install.log" 2>&1; then
		result PASS "DKMS: make dkms-install builds and installs pcopy.ko for $kver in Debian 13 (tools/dkms-test.sh)"
	else
		cat "$out/dkms-install.log"
		result FAIL "DKMS: make dkms-install for $kver in Debian 13 (log: $out/dkms-install.log)"
	fi
fi

step "VM: $kver with the trixie root${T:+, selftests matching '$T'}"
# shellcheck disable=SC2086
${VMTEST_LOCK:+flock "$VMTEST_LOCK"} env BUILD="$tree/build" KVER="$kver" \
	VMTEST_KERNEL="$root/boot/vmlinuz-$kver" \
	VMTEST_MODDIR="$root/usr/lib/modules/$kver" \
	VMTEST_ROOT="$root" VMTEST_LABEL=$lane \
	VMTEST_APPEND="log_buf_len=16M" \
	"$tree/tools/vmtest/vm.sh" check $T 2> "$out/vm.err"
rc=$?
cat "$out/vm.err" >&2
results=$tree/build/vm/results
# vm.sh fails only before booting (no kernel, no initramfs): say why
[ "$rc" = 0 ] || result FAIL "vm: $(tail -n 1 "$out/vm.err")"
if [ -n "$dkms" ]; then
	if in_root env KVER="$kver" "$tree/tools/dkms-test.sh" remove > "$out/dkms-remove.log" 2>&1; then
		result PASS "DKMS: make dkms-remove leaves nothing in Debian 13 (tools/dkms-test.sh)"
	else
		cat "$out/dkms-remove.log"
		result FAIL "DKMS: make dkms-remove in Debian 13 (log: $out/dkms-remove.log)"
	fi
fi
step "done"
finish
