#!/bin/sh
# usage: mirror.sh
# Print the host's Debian mirror: the URI serving the plain bookworm suite
# in a deb822 .sources file or in sources.list (tools/trixie/rootfs.sh and
# tools/debroot/rootfs.sh debootstrap from it).  The host's apt sources are
# only read.  Exit 1, printing nothing, if there is none.
for f in /etc/apt/sources.list.d/*.sources; do
	[ -r "$f" ] || continue
	m=$(awk '
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") ok = 1 }
		/^$/ { if (ok && uri) { print uri; exit } ok = 0; uri = "" }
		END { if (ok && uri) print uri }' "$f" | head -n 1)
	[ -n "$m" ] && { echo "$m"; exit 0; }
done
if [ -r /etc/apt/sources.list ]; then
	m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
	[ -n "$m" ] && { echo "$m"; exit 0; }
fi
exit 1
