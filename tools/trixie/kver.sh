#!/bin/sh
# usage: kver.sh ROOT [FLAVOUR]
# Print the newest Linux 6.12 release of FLAVOUR (amd64, rt-amd64,
# cloud-amd64; default amd64) that has a module tree in the rootfs ROOT,
# e.g. 6.12.117+deb13-amd64.  Nothing is printed (exit 1) if there is none.
# The ABI number is never hard-coded: it moves with Debian's updates.
root=${1:?usage: kver.sh ROOT [FLAVOUR]}
flavour=${2:-amd64}
v=$(ls "$root/usr/lib/modules" 2>/dev/null |
	grep -E "^6\.12\.[0-9]+(\+deb[0-9]+)?-$flavour\$" | sort -V | tail -n 1)
[ -n "$v" ] || exit 1
echo "$v"
