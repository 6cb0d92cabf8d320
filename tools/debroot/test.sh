#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian packages on a clean Debian 12 host, as an operator installs
# them (Documentation/install.rst):
#   1. a copy of the clean rootfs (tools/debroot/rootfs.sh: Debian's kernel
#      and headers, nothing of pcopy), an overlay over the cached one;
#   2. apt-get install of both .debs there: apt pulls what their control
#      files declare (dkms, the compiler, the libraries), DKMS builds
#      pcopy.ko for the rootfs' kernel in the packages' postinst;
#   3. that rootfs boots in the test VM, with its own kernel: modprobe pcopy
#      loads the DKMS module, and the packaged pcopy's "status" reads it;
#   4. apt-get purge of both: every file the packages installed, the DKMS
#      tree and the built module are gone, dpkg knows neither.
# usage: test.sh DEBDIR [WORKDIR]   (DEBDIR: pcopy_V_amd64.deb and
# pcopy-dkms_V_all.deb, as tools/deb-test.sh keeps them)
# One PASS/FAIL line per check; exit 0 only if all pass.  Downloaded
# packages are kept in $PCOPY_CACHE/bookworm-apt for the next run.
# Environment: VMTEST_LOCK (boot the VM under flock of it), PCOPY_CACHE.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tools/checklib.sh"

if [ "${1:-}" != --inside ]; then
	debs=$(cd "${1:?usage: test.sh DEBDIR [WORKDIR]}" && pwd)
	work=${2:-$src/build/debroot}
	root=$("$src/tools/debroot/rootfs.sh") || { fail "the clean bookworm rootfs: see above"; finish; }
	rm -rf "$work"
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
	# a private mount namespace: the overlay and the chroot's mounts vanish
	# with it, whatever happens
	exec unshare --mount --propagation private -- "$0" --inside "$debs" "$work" "$root"
fi
debs=$2 work=$3 root=$4
cache=${PCOPY_CACHE:-/var/cache/pcopy}
kver=$(cat "$root/.pcopy-kver")
ver=$(cd "$src" && dpkg-parsechangelog -S Version)
deb=$debs/pcopy_${ver}_amd64.deb
dkms=$debs/pcopy-dkms_${ver}_all.deb
[ -r "$deb" ] && [ -r "$dkms" ] || { fail "no pcopy_${ver}_amd64.deb and pcopy-dkms_${ver}_all.deb in $debs"; finish; }

m=$work/root
mkdir -p "$work/upper" "$work/ovl" "$m" "$cache/bookworm-apt/partial"
# an overlay over the cached rootfs; a copy where the work directory's
# filesystem cannot be an overlay's upper layer (DEBROOT_COPY=1 forces it)
if [ -n "${DEBROOT_COPY:-}" ] ||
   ! mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/ovl" "$m" 2>"$work/overlay.log"; then
	echo "debroot: no overlay ($(cat "$work/overlay.log" 2>/dev/null)): copying $root"
	cp -a "$root/." "$m/" || { fail "copy of $root into $m"; finish; }
fi
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
mount --bind "$cache/bookworm-apt" "$m/var/cache/apt/archives"
cp "$deb" "$dkms" "$m/root/"
in_root() {
	chroot "$m" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# ---- install ----
if in_root apt-get -q update > "$work/apt-update.log" 2>&1 &&
   in_root apt-get -q install -y --no-install-recommends \
	"/root/${deb##*/}" "/root/${dkms##*/}" > "$work/install.log" 2>&1; then
	pass "apt-get install of both packages in a clean Debian 12 rootfs ($(grep -c '^Setting up' "$work/install.log") packages set up)"
else
	fail "apt-get install: $(tail -n 5 "$work/apt-update.log" "$work/install.log" | tr '\n' ' ')"
	finish
fi
st=$(in_root dkms status pcopy 2>&1)
echo "$st" | grep -q "^pcopy/$ver, $kver, x86_64: installed" &&
	pass "DKMS built and installed pcopy/$ver for the rootfs' kernel $kver" ||
	fail "dkms status: $st (install.log: $(grep -i -m 3 'error\|dkms' "$work/install.log" | tr '\n' ' '))"
ko=$(cd "$m" && ls lib/modules/"$kver"/updates/dkms/pcopy.ko* 2>/dev/null)
[ -n "$ko" ] && pass "the module is /$ko" || fail "no pcopy.ko in /lib/modules/$kver/updates/dkms"
v=$(in_root pcopy --version 2>&1)
[ "$v" = "$("$src/agent/pcopy" --version 2>&1)" ] && pass "the installed pcopy runs: $v" ||
	fail "the installed pcopy --version: $v"
files=$(in_root dpkg -L pcopy pcopy-dkms | sort -u)

# ---- the VM: the rootfs' own kernel, modprobe pcopy, pcopy status ----
mkdir -p "$m$src" "$m$work/build/vm/results"
# shellcheck disable=SC2086
${VMTEST_LOCK:+flock "$VMTEST_LOCK"} env BUILD="$work/build" KVER="$kver" \
	VMTEST_KERNEL="$m/boot/vmlinuz-$kver" VMTEST_MODDIR="$m/lib/modules/$kver" \
	VMTEST_ROOT="$m" VMTEST_LABEL=debroot VMTEST_TIMEOUT=600 \
	"$src/tools/vmtest/vm.sh" debcheck > "$work/vm.log" 2>&1
res=$work/build/vm/results
if [ -e "$res/vm-error" ] || [ ! -e "$res/debcheck.rc" ]; then
	fail "the VM: $(cat "$res/vm-error" "$res/setup-error" 2>/dev/null | head -n 1) (log: $work/vm.log)"
else
	out=$(cat "$res/debcheck.out")
	[ "$(cat "$res/debcheck.rc")" = 0 ] && echo "$out" | grep -qx "modprobe pcopy: ok" &&
		pass "modprobe pcopy in the VM: $(echo "$out" | grep -x "/lib/modules/.*pcopy.ko.*")" ||
		fail "in the VM: $(echo "$out" | head -n 5 | tr '\n' ' ')"
	got=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
hooks = [h["name"] for h in s.get("hooks", []) if h.get("attached")]
print(s.get("module_version"), s["features"].get("uffd_hook"), " ".join(hooks))' "$res/status.json" 2>&1)
	case "$got" in
	"$ver True handle_userfault"*) pass "the packaged pcopy status reads the DKMS module: version $ver, hooks ${got#* True }" ;;
	*) fail "pcopy -j status in the VM: $got" ;;
	esac
fi

# ---- purge ----
if in_root apt-get -q purge -y pcopy pcopy-dkms > "$work/purge.log" 2>&1; then
	pass "apt-get purge pcopy pcopy-dkms"
else
	fail "apt-get purge: $(tail -n 5 "$work/purge.log" | tr '\n' ' ')"
fi
left=
for f in $files; do
	[ -f "$m$f" ] && left="$left $f"
done
for d in "/usr/src/pcopy-$ver" /var/lib/dkms/pcopy /usr/libexec/pcopy /usr/share/doc/pcopy; do
	[ -e "$m$d" ] && left="$left $d"
done
left="$left $(cd "$m" && ls lib/modules/*/updates/dkms/pcopy.ko* 2>/dev/null)"
[ -z "${left// /}" ] && pass "purge leaves none of the $(echo "$files" | wc -l) packaged paths, no DKMS tree, no module" ||
	fail "purge left:$left"
known=$(in_root dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' pcopy pcopy-dkms 2>/dev/null | grep -v ' un *$' | grep -v '^$')
[ -z "$known" ] && pass "dpkg knows neither package any more" || fail "dpkg still has: $known"

umount "$m/var/cache/apt/archives" 2>/dev/null
umount -R "$m/dev" "$m/proc" 2>/dev/null
umount "$m" 2>/dev/null
finish
