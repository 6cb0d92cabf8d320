#!/bin/sh
# Install the Debian 12 packages pcopy needs to build and test, if missing.
# Safe to run repeatedly: it only talks to apt when something is missing.
set -eu

# flex .. libssl-dev: the debug kernel (tools/debugkernel/build.sh);
# python3-sphinx .. groff-base: make man/htmldocs/install (tools/install-test.sh);
# python3-yaml: tools/ynl/check-spec.py; dkms: make dkms-install (tools/dkms-test.sh);
# prometheus (and its promtool), curl: selftests/exporter_test;
# debhelper .. dpkg-dev: the Debian packages (tools/deb-test.sh)
pkgs="
	gcc make libc6-dev pkg-config
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
	libnl-3-dev libnl-genl-3-dev libjson-c-dev libcap-dev libmicrohttpd-dev libcairo2-dev
	qemu-system-x86 busybox-static cpio gzip xz-utils kmod
	sparse perl iproute2 bpftrace debootstrap
	flex bison bc libelf-dev libssl-dev
	python3-sphinx man-db groff-base python3-yaml dkms
	prometheus curl
	debhelper dh-dkms lintian dpkg-dev
"

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case $st in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
