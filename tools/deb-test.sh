#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian packages (debian/, Documentation/install.rst), built and
# checked the way a packager would:
#   - dpkg-buildpackage -us -uc -b in a copy of the tree builds pcopy
#     (amd64) and pcopy-dkms (all);
#   - lintian -EvIL +pedantic has nothing to say about them;
#   - pcopy holds the agent, both man pages, the completion and the YNL
#     spec, and its pcopy runs; pcopy-dkms holds the module's sources and a
#     dkms.conf of the package's version, depends on dkms and has the
#     maintainer scripts that add, build and remove it.
# One PASS/FAIL line per check; exit 0 only if all pass.  DEB_OUT=DIR
# keeps both packages there, for tools/debroot/test.sh (installing them in
# a clean rootfs and loading the module from them in the VM).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/pcopy-deb.XXXXXX)
trap 'rm -rf "$W"' EXIT
. "$src/tools/checklib.sh"
ver=$(cd "$src" && dpkg-parsechangelog -S Version)
t=$W/pcopy-$ver

mkdir -p "$t"
if [ -e "$src/.git" ]; then
	(cd "$src" && git ls-files -z | cpio -0pdm --quiet "$t")
else
	(cd "$src" && find . -path ./build -prune -o -type f -print0 | cpio -0pdm --quiet "$t")
fi
if (cd "$t" && dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b"
else
	fail "dpkg-buildpackage: $(tail -n 5 "$W/build.log")"
	finish
fi
deb=$W/pcopy_${ver}_amd64.deb
dkms=$W/pcopy-dkms_${ver}_all.deb
[ -f "$deb" ] && [ -f "$dkms" ] && pass "built $(basename "$deb") and $(basename "$dkms")" ||
	fail "missing packages: $(ls "$W"/*.deb 2>&1)"

tags=$(lintian -EvIL +pedantic "$W/pcopy_${ver}_amd64.changes" 2>&1 |
	grep -E '^[EWIPX]: ' | grep -v 'running with root privileges')
[ -z "$tags" ] && pass "lintian -EvIL +pedantic: no tag" || fail "lintian: $(echo "$tags" | tr '\n' ' ')"

files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
missing=
for f in ./usr/sbin/pcopy ./usr/libexec/pcopy/pcopy-exporter ./usr/libexec/pcopy/pcopy-plot \
	 ./usr/share/man/man8/pcopy.8.gz ./usr/share/man/man4/pcopy.ko.4.gz \
	 ./usr/share/bash-completion/completions/pcopy ./usr/share/ynl/specs/pcopy.yaml; do
	echo "$files" | grep -qx -- "$f" || missing="$missing $f"
done
[ -z "$missing" ] && pass "pcopy holds the agent and its helpers, man pages, completion and YNL spec" ||
	fail "pcopy lacks:$missing"
dpkg-deb -x "$deb" "$W/x"
v=$("$W/x/usr/sbin/pcopy" --version 2>&1)
[ "$v" = "$("$src/agent/pcopy" --version 2>&1)" ] && pass "the packaged pcopy runs: $v" ||
	fail "the packaged pcopy --version: $v"
v=$("$W/x/usr/sbin/pcopy" exporter --help 2>&1)
[ "$v" = "usage: pcopy [-j] exporter --listen ADDR:PORT" ] &&
	pass "the packaged pcopy runs its packaged pcopy-exporter" ||
	fail "the packaged pcopy exporter --help: $v"

dpkg-deb -x "$dkms" "$W/y"
conf=$W/y/usr/src/pcopy-$ver/dkms.conf
grep -qx "PACKAGE_VERSION=\"$ver\"" "$conf" 2>/dev/null &&
	[ -f "$W/y/usr/src/pcopy-$ver/kmod/main.c" ] && [ -f "$W/y/usr/src/pcopy-$ver/uapi/pcopy.h" ] &&
	pass "pcopy-dkms holds /usr/src/pcopy-$ver with its dkms.conf" ||
	fail "pcopy-dkms: no usable /usr/src/pcopy-$ver ($(dpkg-deb -c "$dkms" | wc -l) entries)"
dpkg-deb -I "$dkms" | grep -q '^ Depends: dkms' && pass "pcopy-dkms depends on dkms" ||
	fail "pcopy-dkms: $(dpkg-deb -I "$dkms" | grep Depends)"
dpkg-deb -e "$dkms" "$W/ctl"
grep -q '/usr/lib/dkms/common.postinst' "$W/ctl/postinst" 2>/dev/null &&
	grep -q 'dkms.*remove' "$W/ctl/prerm" 2>/dev/null &&
	pass "pcopy-dkms: postinst runs DKMS's common.postinst (add, build, install), prerm removes" ||
	fail "pcopy-dkms's maintainer scripts: $(ls "$W/ctl")"

if [ -n "${DEB_OUT:-}" ]; then
	mkdir -p "$DEB_OUT" && rm -f "$DEB_OUT"/*.deb && cp "$deb" "$dkms" "$DEB_OUT/" ||
		fail "cannot keep the packages in $DEB_OUT"
fi
finish
