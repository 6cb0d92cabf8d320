# SPDX-License-Identifier: GPL-2.0
# Sourced by the scripts that build a cached Debian rootfs with debootstrap
# (tools/trixie/rootfs.sh, tools/debroot/rootfs.sh).  The rootfs NAME-KEY
# lives in $PCOPY_CACHE (default /var/cache/pcopy); it is built in a
# temporary directory beside it, under a lock, and renamed only once
# complete, so an interrupted build never leaves a half rootfs behind.
# The host's own apt sources are only read, for their mirror.

cache=${PCOPY_CACHE:-/var/cache/pcopy}

# rootfs_mirror: the URI serving the plain bookworm suite in the host's
# deb822 .sources files or sources.list; nothing if there is none.
rootfs_mirror() {
	local f m
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		m=$(awk '
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") ok = 1 }
			/^$/ { if (ok && uri) { print uri; exit } ok = 0; uri = "" }
			END { if (ok && uri) print uri }' "$f" | head -n 1)
		[ -n "$m" ] && { echo "$m"; return 0; }
	done
	[ -r /etc/apt/sources.list ] &&
		m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
	[ -n "${m:-}" ] && echo "$m"
	return 0
}

# rootfs_begin NAME KEY: print the cached rootfs and exit if it is there;
# else take the lock and set root, tmp (the directory to debootstrap
# into, removed on exit unless rootfs_commit ran), log and start.
rootfs_begin() {
	name=$1-$2
	root=$cache/$name
	if [ -e "$root/.pcopy-rootfs" ]; then
		echo "$root"
		exit 0
	fi
	[ "$(id -u)" = 0 ] || die "building the $1 rootfs needs root"
	command -v debootstrap >/dev/null || die "debootstrap is not installed (tools/deps.sh installs it)"
	mkdir -p "$cache"
	exec 9> "$cache/.$1.lock"
	flock 9
	# another run may have finished it while we waited
	if [ -e "$root/.pcopy-rootfs" ]; then
		echo "$root"
		exit 0
	fi
	tmp=$(mktemp -d "$cache/.$name.XXXXXX")
	# mktemp makes it 0700: as the guest's root it must be searchable by all
	chmod 755 "$tmp"
	log=$cache/$name.log
	trap rootfs_cleanup EXIT
	start=$(date +%s)
}

rootfs_cleanup() {
	local m
	# debootstrap leaves /proc and friends mounted in the target on failure
	for m in $(awk -v t="$tmp" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
}

# rootfs_commit WHAT: drop the downloaded .debs and the initrd the kernel's
# postinst made (the test VM brings its own initramfs), list the packages
# in .pcopy-rootfs (the mark of a complete rootfs), rename it into place
# and print its path last.
rootfs_commit() {
	rm -f "$tmp"/var/cache/apt/archives/*.deb "$tmp"/boot/initrd.img-*
	chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' > "$tmp/.pcopy-rootfs"
	mv -T "$tmp" "$root"
	trap - EXIT
	echo "$name built in $(( $(date +%s) - start ))s, $1" >&2
	echo "$root"
}
