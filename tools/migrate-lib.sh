# SPDX-License-Identifier: GPL-2.0
#
# What tools/migrate-e2e.sh and tools/migrate-kill.sh share: names unique
# to a run, PASS/FAIL counting, the cleanup of processes, namespaces and
# the work directory, waiting for a socket, and the two network
# namespaces joined by a veth pair.  Sourced (". migrate-lib.sh") after
# the script has set:
#   MIG_NAME   its name, for messages ("migrate-e2e")
#   MIG_SAVE   the work files OUT=DIR receives ("*.json *.log")
# The script defines die() itself (it decides whether a fatal error keeps
# the work directory) and adds the processes it starts to $pids.

fails=0
pids=
T=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# mig_names TAG PORT_BASE NET: namespaces pcTAG-s-ID and pcTAG-d-ID, veth
# pTAGsID and pTAGdID, addresses NET.1 (source) and NET.2 (destination),
# PORT (unless set) in PORT_BASE .. PORT_BASE + 799.  Concurrent runs get
# different IDs, so their namespaces and links never collide.
mig_names() {
	id=$(printf '%x%s' $$ "$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')")
	PORT=${PORT:-$(($2 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 800))}
	NS_S=pc$1-s-$id
	NS_D=pc$1-d-$id
	VETH_S=p$1s$id
	VETH_D=p$1d$id
	IP_S=$3.1
	IP_D=$3.2
}

mig_cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_D" 2>/dev/null
	if [ -n "$T" ] && [ -n "${OUT:-}" ] && mkdir -p "$OUT"; then
		for g in $MIG_SAVE; do
			cp "$T"/$g "$OUT"/ 2>/dev/null
		done
	fi
	# a tmpfs the script mounted inside $T (MIG_UMOUNT)
	[ -n "${MIG_UMOUNT:-}" ] && umount "$MIG_UMOUNT" 2>/dev/null
	if [ -n "$T" ]; then
		if [ "${KEEP:-0}" = 1 ] || [ "$fails" != 0 ]; then
			echo "$MIG_NAME: files kept in $T"
		else
			rm -rf "$T"
		fi
	fi
}
trap mig_cleanup EXIT
trap 'exit 130' INT TERM

# wait_sock PATH [TRIES]: until PATH is a socket, 50 ms x TRIES [300] at most
wait_sock() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt "${2:-300}" ] && return 1
		sleep 0.05
	done
}

# The two namespaces and the veth pair between them, addressed and up.
mig_netns_up() {
	ip netns add "$NS_S" && ip netns add "$NS_D" || die "cannot create network namespaces"
	ip link add "$VETH_S" type veth peer name "$VETH_D" || die "cannot create a veth pair"
	ip link set "$VETH_S" netns "$NS_S" && ip link set "$VETH_D" netns "$NS_D" ||
		die "veth into namespaces"
	ip -n "$NS_S" addr add "$IP_S/24" dev "$VETH_S"
	ip -n "$NS_D" addr add "$IP_D/24" dev "$VETH_D"
	for ns in "$NS_S" "$NS_D"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_S" link set "$VETH_S" up
	ip -n "$NS_D" link set "$VETH_D" up
}
