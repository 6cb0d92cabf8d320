#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS the way an operator uses it (Documentation/install.rst), in two
# halves around the 6.1 test VM, which shares this machine's /lib/modules:
#   dkms-test.sh install   make dkms-install: DKMS builds pcopy.ko for KVER
#                          from /usr/src/pcopy-VERSION and installs it under
#                          updates/dkms, depmod'ed; modprobe resolves it
#   (the VM's selftests/dkms_test then loads it with modprobe)
#   dkms-test.sh remove    make dkms-remove: nothing of it is left
# One PASS/FAIL line per check; exit 0 only if all pass.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
: "${KVER:?KVER: the kernel release to build for}"
. "$src/tools/checklib.sh"
ver=$(sed -n 's/^#define PCOPY_MODULE_VERSION "\(.*\)"/\1/p' "$src/kmod/internal.h")
# DKMS compresses it as the kernel's modules are (6.12: pcopy.ko.xz)
dkms_ko() {
	local f
	for f in "/lib/modules/$KVER/updates/dkms/pcopy.ko"{,.xz,.zst,.gz}; do
		[ -e "$f" ] && { echo "$f"; return; }
	done
	echo "/lib/modules/$KVER/updates/dkms/pcopy.ko"
}
M="make -s -C $src KVER=$KVER"

case ${1:-} in
install)
	command -v dkms >/dev/null || { fail "no dkms (tools/deps.sh installs it)"; exit 1; }
	if $M dkms-install >"${TMPDIR:-/tmp}/pcopy-dkms.log" 2>&1; then
		pass "make dkms-install for $KVER"
	else
		fail "make dkms-install: $(tail -n 5 "${TMPDIR:-/tmp}/pcopy-dkms.log")"
		exit 1
	fi
	ko=$(dkms_ko)
	st=$(dkms status -m pcopy -v "$ver" -k "$KVER")
	[[ $st == "pcopy/$ver, $KVER, "*": installed" ]] && pass "dkms status: $st" ||
		fail "dkms status: '$st'"
	[ "$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)" = "$KVER" ] &&
		pass "$ko has vermagic $KVER" || fail "no $ko for $KVER"
	# the same sources as the tree's build: the same srcversion
	[ "$(modinfo -F srcversion "$ko")" = "$(modinfo -F srcversion "$src/kmod/pcopy.ko")" ] &&
		pass "built from the tree's sources (srcversion $(modinfo -F srcversion "$ko"))" ||
		fail "srcversion $(modinfo -F srcversion "$ko"), the tree's $(modinfo -F srcversion "$src/kmod/pcopy.ko")"
	got=$(modprobe -S "$KVER" -n -v pcopy 2>&1)
	[ "$got" = "insmod $ko " ] || [ "$got" = "insmod $ko" ] &&
		pass "modprobe resolves pcopy to $ko" || fail "modprobe -n -v pcopy: $got"
	;;
remove)
	if $M dkms-remove >"${TMPDIR:-/tmp}/pcopy-dkms.log" 2>&1; then
		pass "make dkms-remove"
	else
		fail "make dkms-remove: $(tail -n 5 "${TMPDIR:-/tmp}/pcopy-dkms.log")"
	fi
	left=
	ko=$(dkms_ko)
	[ -e "$ko" ] && left="$left $ko"
	[ -e "/usr/src/pcopy-$ver" ] && left="$left /usr/src/pcopy-$ver"
	[ -e /var/lib/dkms/pcopy ] && left="$left /var/lib/dkms/pcopy"
	dkms status -m pcopy | grep -q . && left="$left (dkms status: $(dkms status -m pcopy))"
	grep -q 'pcopy\.ko' "/lib/modules/$KVER/modules.dep" && left="$left (in modules.dep)"
	[ -z "$left" ] && pass "nothing of pcopy is left in DKMS, /usr/src or /lib/modules/$KVER" ||
		fail "left behind:$left"
	;;
*)
	echo "usage: $0 install|remove" >&2
	exit 2
	;;
esac
finish
