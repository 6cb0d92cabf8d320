#!/bin/bash
# Build (once) the debug kernel of pcopy's debug-kernel lane and print the
# directory that holds it.
#
# usage: build.sh [--dir | --key]
#   (no argument)  build if not cached, then print the cache directory
#   --dir          print the cache directory without building
#   --key          print the cache key
#
# The kernel is Debian's linux-source-6.1 configured with "make allnoconfig"
# plus tools/debugkernel/debug.config (KASAN, KFENCE, lockdep, PROVE_RCU,
# kmemleak, ...; see Documentation/debug-kernel.rst).  It is cached in
#   $PCOPY_CACHE/debug-kernel-<key>/      (PCOPY_CACHE: /var/cache/pcopy)
#       bzImage        the image the VM boots
#       build/         a tree out-of-tree modules build against (KDIR):
#                      .config, generated headers, scripts, Module.symvers
#       build-seconds  how long the cold build took
# where <key> is the sha256 of debug.config, this script and the installed
# linux-source-6.1 version: changing any of them builds a new kernel, and a
# second run with none changed does not rebuild.
#
# Environment: PCOPY_CACHE, JOBS (make -j, default nproc), KSRC_TAR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/debug.config
tarball=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
cache=${PCOPY_CACHE:-/var/cache/pcopy}
jobs=${JOBS:-$(nproc)}

die() { echo "debugkernel: $*" >&2; exit 1; }

srcver=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null) ||
	die "linux-source-6.1 is not installed (tools/deps.sh installs it)"
key=$({ cat "$frag" "$here/build.sh"; echo "linux-source-6.1 $srcver"; } |
	sha256sum | cut -c1-16)
dir=$cache/debug-kernel-$key

case ${1:-} in
--key) echo "$key"; exit 0 ;;
--dir) echo "$dir"; exit 0 ;;
"") ;;
*) die "usage: build.sh [--dir | --key]" ;;
esac

if [ -s "$dir/bzImage" ] && [ -e "$dir/build/Module.symvers" ]; then
	echo "debugkernel: cached in $dir" >&2
	echo "$dir"
	exit 0
fi

[ -r "$tarball" ] || die "$tarball missing (install linux-source-6.1)"
for t in flex bison bc; do
	command -v $t >/dev/null || die "$t not found (tools/deps.sh installs it)"
done
[ -e /usr/include/libelf.h ] || die "libelf-dev is not installed (tools/deps.sh)"
[ -e /usr/include/openssl/ssl.h ] || die "libssl-dev is not installed (tools/deps.sh)"

mkdir -p "$cache"
# one builder at a time per key; a second caller waits and then finds it
exec 9> "$dir.lock"
flock 9
if [ -s "$dir/bzImage" ] && [ -e "$dir/build/Module.symvers" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
tmp=$dir.tmp
rm -rf "$tmp" "$dir"
mkdir -p "$tmp"
log=$tmp/build.log
echo "debugkernel: building linux-source-6.1 $srcver with $frag (-j$jobs, log in $dir/build.log)" >&2

tar -xf "$tarball" -C "$tmp"
mv "$tmp/linux-source-6.1" "$tmp/build"
cd "$tmp/build"

kmake() { nice -n 10 make -j"$jobs" ARCH=x86_64 "$@" >> "$log" 2>&1; }

kmake allnoconfig
scripts/kconfig/merge_config.sh -m .config "$frag" >> "$log" 2>&1
kmake olddefconfig

# every value asked for must be in the final configuration: a silently
# dropped option (an unmet dependency) would hollow out the lane
bad=0
while IFS= read -r line; do
	case $line in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*}
	val=${line#*=}
	if [ "$val" = n ]; then
		if grep -q "^$opt=" .config; then
			echo "debugkernel: $opt is set, debug.config asks for n" >&2
			bad=1
		fi
	elif ! grep -qxF "$opt=$val" .config; then
		echo "debugkernel: asked for $line, got: $(grep "^$opt=\|^# $opt is not set" .config || echo nothing)" >&2
		bad=1
	fi
done < "$frag"
[ "$bad" = 0 ] || die "debug.config does not apply cleanly to linux-source-6.1 $srcver"

kmake bzImage modules || { tail -n 40 "$log" >&2; die "kernel build failed (see $log)"; }
kmake modules_prepare
[ -s Module.symvers ] || die "no Module.symvers after the build"

# keep what out-of-tree modules need (and vmlinux, for symbolising
# reports); object files are most of the size
cp arch/x86/boot/bzImage "$tmp/bzImage"
find . -name '*.o' ! -path './scripts/*' ! -path './tools/*' -delete
echo $(( $(date +%s) - start )) > "$tmp/build-seconds"
mv "$tmp" "$dir"
echo "debugkernel: built in $(cat "$dir/build-seconds")s: $dir" >&2
echo "$dir"
