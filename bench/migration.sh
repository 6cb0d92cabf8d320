#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live migration (pcopy send / pcopy recv, Documentation/migration.rst)
# between two network namespaces joined by a veth pair, in one boot of the
# test VM, as ratios measured in this run (about 5 minutes).  The link is
# shaped to MIG_RATE on both ends (tc netem unless MIG_QDISC says otherwise)
# except where "bare veth" is said.
#
#   floor     one local userfault round trip (bench/uffd_rtt, median) plus
#             one 4 KiB request/response round trip on the same link, idle
#             (bench/net_rtt, median)
#   latency   p50 and p99 of postcopy fault latency (pcopy recv's
#             faults.latency_*) of a minivm guest writing random pages on
#             the destination while the bulk channels stream its memory,
#             postcopy-only, so that the link is saturated throughout; each
#             / floor.  Goals: p50 <= 1.3 x floor, p99 <= 3 x floor.
#             Also shown, not held against a goal: the same request/response
#             round trip while raw TCP streams saturate the link (what the
#             link's queue alone costs an answer).
#   urgent    p99 with --no-urgent (answers queue behind bulk data) / p99
#             with the urgent channel, same setup.  Goal >= 10.
#   hint      remote faults (pcopy recv's requests) per 1000 guest pages
#             while a guest scans its memory sequentially on the destination,
#             postcopy-only, with and without preempt hints (--no-hint), on
#             the shaped link and on the bare veth.  Goal <= 5 with hints.
#   stream    pcopy send --mem-file (pure streaming over N bulk channels:
#             send's throughput_bytes_per_s, bytes_sent / total_time_ns) /
#             raw TCP with the same sockets and bytes (bench/tcp_blast), on
#             the shaped link and on the bare veth.  Goal >= 0.9.
#
# Each round runs every variant once, the order of each pair alternating
# from round to round; a figure is the median over the rounds.  Every
# migration is checked: both commands exit 0 with result "ok", postcopy-only,
# every page placed exactly once (placed == pages, placed_exactly_once,
# placed_twice 0), the answers went where the options said (urgent channel
# or bulk, hints or none), a pure stream saw no fault, and the destination
# minivm exits 0.  A failed check fails the benchmark (exit 1).  Goals are
# printed ("goal met" / "goal NOT met"), not turned into the exit status.
# Run as root inside the VM (bench/run.sh), pcopy.ko loaded or not.
#
# Environment (defaults in brackets):
#   MIG_ROUNDS [3]      rounds
#   MIG_MEM [64]        MiB of the migrated guests (latency, urgent, hint)
#   MIG_STREAM_MEM [64] MiB of the memory file streamed (stream)
#   MIG_CHANNELS [4]    bulk channels (and raw TCP sockets)
#   MIG_RATE [100mbit]  the link's rate, shaped on both ends ("none": not
#                       shaped, every measurement on the bare veth)
#   MIG_QDISC [netem]   the shaper: netem (tc netem rate: one FIFO queue,
#                       netem's default limit of 1000 packets), fq_codel (htb
#                       at the rate with fq_codel under it: per-flow queues,
#                       like a Linux host's default qdisc) or cake
#   MIG_DELAY []        netem only: delay on both ends (e.g. 1ms)
#   MIG_LIMIT []        netem only: queue limit in packets
#   MIG_CC []           TCP congestion control in both namespaces (e.g. bbr;
#                       default: the kernel's, cubic)
#   MIG_BARE [1]        also measure hint and stream on the bare veth
#   MIG_RTT_N [1000]    timed round trips per idle net_rtt run
#   MIG_LOAD_N [10]     timed round trips per loaded net_rtt run
#   MIG_UFFD_N [2000]   timed faults per uffd_rtt run
#   MIG_KEEP [0]        1: keep every run's JSON and logs in /tmp
set -uo pipefail

src=${PCOPY_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
rounds=${MIG_ROUNDS:-3}
mem=${MIG_MEM:-64}
smem=${MIG_STREAM_MEM:-64}
chans=${MIG_CHANNELS:-4}
rate=${MIG_RATE:-100mbit}
delay=${MIG_DELAY:-}
limit=${MIG_LIMIT:-}
bare=${MIG_BARE:-1}
rtt_n=${MIG_RTT_N:-1000}
load_n=${MIG_LOAD_N:-10}
uffd_n=${MIG_UFFD_N:-2000}
keep=${MIG_KEEP:-0}

goal_p50=1.3
goal_p99=3
goal_urgent=10
goal_hint=5
goal_stream=0.9

tmp=$(mktemp -d /tmp/mig_bench.XXXXXX) || exit 1
results=$tmp/results	# "key round value" lines
id=$(printf '%x%s' $$ "$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')")
NS_S=pmb-s-$id
NS_D=pmb-d-$id
VETH_S=pbs$id
VETH_D=pbd$id
IP_S=10.214.0.1
IP_D=10.214.0.2
port=$((7900 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 500))
pids=
run=

cleanup() {
	local p
	for p in $pids; do kill "$p" 2> /dev/null; done
	sleep 0.2
	for p in $pids; do kill -9 "$p" 2> /dev/null; done
	ip netns del "$NS_S" 2> /dev/null
	ip netns del "$NS_D" 2> /dev/null
	if [ "$keep" = 1 ]; then
		echo "migration: files kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "migration: FAILED: $*"
	exit 1
}

# the logs of the current run, then fail
fail_run() {
	local f
	if [ -n "$run" ]; then
		for f in "$run"/*.log; do
			[ -s "$f" ] && tail -n 5 "$f" | sed "s|^|  $(basename "$f"): |"
		done
	fi
	fail "$*"
}

for v in rounds mem smem chans rtt_n load_n uffd_n; do
	case ${!v} in *[!0-9]* | '' | 0) fail "$v=${!v}: need a positive number" ;; esac
done
[ "$(id -u)" = 0 ] || fail "must run as root (namespaces, /dev/kvm, tc)"
[ -c /dev/kvm ] || fail "no /dev/kvm"
command -v ip > /dev/null || fail "ip (iproute2) is missing"

# The source tree is shared live from the host, where the programs may be
# rebuilt while we run: private copies on the guest's tmpfs.
for f in agent/pcopy tools/minivm/minivm tools/minivm/ctltest bench/uffd_rtt \
	 bench/net_rtt bench/tcp_blast; do
	[ -x "$src/$f" ] || fail "$src/$f missing: build it (make agent tools; make -C bench)"
	cp "$src/$f" "$tmp/" || fail "cannot copy $f to $tmp"
done
PCOPY=$tmp/pcopy
MINIVM=$tmp/minivm
CTL=$tmp/ctltest

j() { "$CTL" json "$1" "$2" 2> /dev/null; }
put() { echo "$1 $2 $3" >> "$results"; }
ms() { awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e6 }'; }
mbs() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }

# Background processes are started with "ip netns exec" directly (not
# through a function), so that $! is the program itself and can be killed.
bg() { pids="$pids $!"; }

wait_sock() {
	local i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt 400 ] && return 1
		sleep 0.05
	done
}

# wait_listening FILE: a helper printed "listening" into FILE
wait_listening() {
	local i=0
	until grep -q '^listening$' "$1" 2> /dev/null; do
		i=$((i + 1))
		[ $i -gt 400 ] && return 1
		sleep 0.02
	done
}

# word KEY LINE: the value of KEY=value in LINE
word() {
	local w
	for w in $2; do
		case $w in "$1"=*) echo "${w#*=}"; return ;; esac
	done
}

# ---- the link ----
modprobe veth 2> /dev/null
ip netns add "$NS_S" && ip netns add "$NS_D" || fail "cannot create network namespaces"
ip link add "$VETH_S" type veth peer name "$VETH_D" || fail "cannot create a veth pair"
ip link set "$VETH_S" netns "$NS_S" && ip link set "$VETH_D" netns "$NS_D" || fail "veth into namespaces"
ip -n "$NS_S" addr add "$IP_S/24" dev "$VETH_S"
ip -n "$NS_D" addr add "$IP_D/24" dev "$VETH_D"
for ns in "$NS_S" "$NS_D"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$VETH_S" up
ip -n "$NS_D" link set "$VETH_D" up
if [ -n "${MIG_CC:-}" ]; then
	modprobe "tcp_${MIG_CC}" 2> /dev/null
	for ns in "$NS_S" "$NS_D"; do
		ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_congestion_control="$MIG_CC" ||
			fail "congestion control $MIG_CC unavailable"
	done
fi

qdisc=${MIG_QDISC:-netem}
shaper=
case $qdisc in
netem)
	[ "$rate" != none ] && shaper="rate $rate"
	[ -n "$delay" ] && shaper="$shaper delay $delay"
	[ -n "$limit" ] && shaper="$shaper limit $limit"
	shaper=${shaper# }
	;;
cake)
	[ "$rate" != none ] && shaper="cake bandwidth $rate"
	;;
fq_codel)
	[ "$rate" != none ] && shaper="htb rate $rate, fq_codel"
	;;
*)
	fail "MIG_QDISC=$qdisc: netem, cake or fq_codel"
	;;
esac

# qdisc_add NS DEV: the shaper on DEV
qdisc_add() {
	case $qdisc in
	netem)
		ip netns exec "$1" tc qdisc add dev "$2" root netem $shaper ;;
	cake)
		ip netns exec "$1" tc qdisc add dev "$2" root cake bandwidth "$rate" ;;
	fq_codel)
		ip netns exec "$1" tc qdisc add dev "$2" root handle 1: htb default 1 &&
		ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:1 htb rate "$rate" &&
		ip netns exec "$1" tc qdisc add dev "$2" parent 1:1 fq_codel ;;
	esac
}

# shape on|off: the shaper on both ends of the link, or none (checked)
shaped=0
shape() {
	local want=$1 pair ns dev out
	[ -n "$shaper" ] || return 0
	for pair in "$NS_S:$VETH_S" "$NS_D:$VETH_D"; do
		ns=${pair%%:*}
		dev=${pair#*:}
		if [ "$shaped" = 1 ]; then
			ip netns exec "$ns" tc qdisc del dev "$dev" root || fail "tc qdisc del dev $dev root"
		fi
		if [ "$want" = on ]; then
			qdisc_add "$ns" "$dev" 2> "$tmp/tc.log" ||
				fail "tc qdisc add ($shaper): $(cat "$tmp/tc.log")"
		fi
	done
	[ "$want" = on ] && shaped=1 || shaped=0
	for pair in "$NS_S:$VETH_S" "$NS_D:$VETH_D"; do
		ns=${pair%%:*}
		dev=${pair#*:}
		# (not piped into grep -q: pipefail would see tc's SIGPIPE)
		out=$(ip netns exec "$ns" tc qdisc show dev "$dev")
		if grep -Eq "qdisc ($qdisc|htb) " <<< "$out"; then
			[ "$shaped" = 1 ] || fail "a shaper is still on $dev"
		else
			[ "$shaped" = 0 ] || fail "no shaper on $dev"
		fi
	done
}
link=bare
if [ -n "$shaper" ]; then
	link=shaped
	for mod in "sch_$qdisc" sch_htb; do modprobe "$mod" 2> /dev/null; done
fi

# ---- the floor ----
uffd_once() {
	local r=$1 line
	line=$("$tmp/uffd_rtt" -n "$uffd_n" -c 0,1 2> "$tmp/uffd.err") ||
		fail "uffd_rtt: $(cat "$tmp/uffd.err")"
	case $line in "uffd_rtt faults=$uffd_n "*) ;; *) fail "uffd_rtt said '$line'" ;; esac
	put uffd_p50 "$r" "$(word median_ns "$line")"
	put uffd_p99 "$r" "$(word p99_ns "$line")"
	echo "  round $r uffd_rtt          median $(ms "$(word median_ns "$line")") ms, p99 $(ms "$(word p99_ns "$line")") ms ($uffd_n faults, faulting thread on CPU 0, resolver on CPU 1)"
}

# rtt_once ROUND KEY N: N 4 KiB request/response round trips, the request
# from the destination's namespace, the answer from the source's (the
# direction of a fault's request and answer)
rtt_once() {
	local r=$1 key=$2 n=$3 warm=$4 p line
	port=$((port + 1))
	ip netns exec "$NS_S" "$tmp/net_rtt" -l "$IP_S:$port" > "$tmp/rtt-srv.out" 2> "$tmp/rtt-srv.err" &
	p=$!
	bg
	wait_listening "$tmp/rtt-srv.out" || fail "net_rtt server did not listen: $(cat "$tmp/rtt-srv.err")"
	line=$(ip netns exec "$NS_D" "$tmp/net_rtt" -c "$IP_S:$port" -n "$n" -u "$warm" 2> "$tmp/rtt.err") ||
		fail "net_rtt: $(cat "$tmp/rtt.err")"
	wait "$p" || fail "net_rtt server: $(cat "$tmp/rtt-srv.err")"
	case $line in "net_rtt rtts=$n "*) ;; *) fail "net_rtt said '$line'" ;; esac
	pids=${pids% $p}
	put "${key}_p50" "$r" "$(word median_ns "$line")"
	put "${key}_p99" "$r" "$(word p99_ns "$line")"
	rtt_line=$line
}

rtt_idle() {
	rtt_once "$1" net "$rtt_n" 5
	echo "  round $1 net_rtt idle      median $(ms "$(word median_ns "$rtt_line")") ms, p99 $(ms "$(word p99_ns "$rtt_line")") ms ($rtt_n round trips, 24 B request, 4120 B answer)"
}

# rtt_loaded ROUND: the same while $chans raw TCP streams fill the link
# from the source's side (started a second before, stopped after)
rtt_loaded() {
	local r=$1 sp bp
	port=$((port + 1))
	ip netns exec "$NS_D" "$tmp/tcp_blast" -l "$IP_D:$port" -n "$chans" > "$tmp/load-srv.out" 2>&1 &
	sp=$!
	bg
	wait_listening "$tmp/load-srv.out" || fail "tcp_blast receiver did not listen: $(cat "$tmp/load-srv.out")"
	ip netns exec "$NS_S" "$tmp/tcp_blast" -c "$IP_D:$port" -n "$chans" -b $((1 << 36)) > /dev/null 2>&1 &
	bp=$!
	bg
	sleep 1
	kill -0 "$bp" 2> /dev/null || fail "the load (tcp_blast) ended early"
	rtt_once "$r" load "$load_n" 2
	kill -0 "$bp" 2> /dev/null || fail "the load (tcp_blast) ended before the round trips"
	kill "$bp" "$sp" 2> /dev/null
	wait "$bp" "$sp" 2> /dev/null
	pids=
	echo "  round $r net_rtt loaded    median $(ms "$(word median_ns "$rtt_line")") ms, p99 $(ms "$(word p99_ns "$rtt_line")") ms ($load_n round trips beside $chans raw TCP streams)"
}

# ---- one live migration ----
# live ROUND VARIANT WORKLOAD SEND_OPTS: a minivm running WORKLOAD (random:
# page writes at random; scan: a sequential read pass) in the source
# namespace, migrated postcopy-only to an incoming minivm in the destination
# namespace, which runs on as the pages arrive.
live() {
	local r=$1 var=$2 wl=$3 opts=${4:-} rc rrc drc src_pid dst_pid recv_pid opt t0
	local pages req p50 p99 mf
	t0=$(date +%s.%N)
	run=$tmp/$var-$r
	rm -rf "$run"
	mkdir -p "$run"
	port=$((port + 1))
	case $wl in
	random) opt="--workload random --count 100000000 --rate 1000" ;;
	scan) opt="--workload scan --passes 1 --rate 200" ;;
	esac

	ip netns exec "$NS_D" "$PCOPY" recv --listen "$IP_D:$port" --uffd-sock "$run/uffd.sock" \
		--vmm-control "$run/dst.sock" -j > "$run/recv.json" 2> "$run/recv.log" &
	recv_pid=$!
	bg
	wait_sock "$run/uffd.sock" || fail_run "$var: pcopy recv did not listen"
	ip netns exec "$NS_D" "$MINIVM" --mem "$mem" --vcpus 2 --incoming "$run/uffd.sock" \
		--control "$run/dst.sock" --quiet --json > "$run/dst.json" 2> "$run/dst.log" &
	dst_pid=$!
	bg
	wait_sock "$run/dst.sock" || fail_run "$var: the destination minivm did not start"
	ip netns exec "$NS_S" "$MINIVM" --mem "$mem" --vcpus 2 $opt --control "$run/src.sock" \
		--quiet --json > "$run/src.json" 2> "$run/src.log" &
	src_pid=$!
	bg
	wait_sock "$run/src.sock" || fail_run "$var: the source minivm did not start"
	"$CTL" "$run/src.sock" wait running 30 > /dev/null 2>&1 ||
		fail_run "$var: the source minivm is not running"
	sleep 0.2

	rc=0
	ip netns exec "$NS_S" "$PCOPY" send --to "$IP_D:$port" --vmm-control "$run/src.sock" \
		--postcopy-only --channels "$chans" $opts -j > "$run/send.json" 2> "$run/send.log" || rc=$?
	# (a failed send may leave recv waiting for its connections: no wait)
	[ "$rc" = 0 ] || fail_run "$var: pcopy send exited $rc"
	rrc=0
	wait "$recv_pid" || rrc=$?
	[ "$rrc" = 0 ] || fail_run "$var: pcopy recv exited $rrc"
	# every page is in place: the guests can go (the destination's
	# workload is cut short; it has nothing left to fault on)
	"$CTL" "$run/src.sock" quit > /dev/null 2>&1 &
	"$CTL" "$run/dst.sock" quit > /dev/null 2>&1
	drc=0
	wait "$dst_pid" || drc=$?
	wait "$src_pid" 2> /dev/null
	[ "$drc" = 0 ] || fail_run "$var: the destination minivm exited $drc"
	check_run "$var" "$run" "$opts"

	pages=$(j "$run/recv.json" pages)
	req=$(j "$run/recv.json" faults.requests)
	p50=$(j "$run/recv.json" faults.latency_p50_ns)
	p99=$(j "$run/recv.json" faults.latency_p99_ns)
	mf=$(j "$run/recv.json" module.faults)
	case $wl in
	random)
		put "${var}_p50" "$r" "$p50"
		put "${var}_p99" "$r" "$p99"
		put "${var}_samples" "$r" "$(j "$run/recv.json" faults.latency_samples)"
		;;
	scan)
		put "${var}_per1000" "$r" "$(awk -v a="$req" -v b="$pages" 'BEGIN { printf "%.3f", 1000 * a / b }')"
		put "${var}_modfaults" "$r" "${mf:-0}"
		;;
	esac
	printf '  round %d %-16s %4.1f s %4.1f MB/s (wall %4.1f s) %d pages, %d faulted, %d requested (urgent %d, bulk %d), hints %d/%d, latency p50 %s p99 %s max %s ms, pcopy.ko faults %s\n' \
		"$r" "$var" "$(awk -v n="$(j "$run/send.json" total_time_ns)" 'BEGIN { print n / 1e9 }')" \
		"$(mbs "$(j "$run/send.json" throughput_bytes_per_s)")" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$pages" \
		"$(j "$run/recv.json" faults.pages_faulted)" "$req" \
		"$(j "$run/send.json" answers_urgent)" "$(j "$run/send.json" answers_bulk)" \
		"$(j "$run/send.json" hints_consumed)" "$(j "$run/send.json" hints_set)" \
		"$(ms "$p50")" "$(ms "$p99")" "$(ms "$(j "$run/recv.json" faults.latency_max_ns)")" "${mf:-n/a}"
	[ "$keep" = 1 ] || rm -rf "$run"
	pids=	# all of them waited for
}

# check_run VARIANT DIR SEND_OPTS: the correctness of one migration
check_run() {
	local var=$1 d=$2 opts=$3 pages placed
	[ "$(j "$d/send.json" result)" = ok ] && [ "$(j "$d/recv.json" result)" = ok ] ||
		fail_run "$var: result not ok"
	[ "$(j "$d/send.json" mode)" = postcopy-only ] || fail_run "$var: mode $(j "$d/send.json" mode)"
	pages=$(j "$d/recv.json" pages)
	placed=$(j "$d/recv.json" placed)
	[ "$(j "$d/recv.json" placed_exactly_once)" = true ] && [ -n "$pages" ] && [ "$placed" = "$pages" ] ||
		fail_run "$var: placed $placed of $pages pages, placed_exactly_once $(j "$d/recv.json" placed_exactly_once)"
	[ "$(j "$d/recv.json" placed_twice)" = 0 ] || fail_run "$var: pages placed twice"
	[ "$(j "$d/send.json" pages)" = "$pages" ] || fail_run "$var: the source sent $(j "$d/send.json" pages) pages, the destination has $pages"
	case $opts in
	*--no-urgent*)
		[ "$(j "$d/send.json" answers_urgent)" = 0 ] || fail_run "$var: answers on the urgent channel with --no-urgent" ;;
	*)
		[ "$(j "$d/send.json" answers_bulk)" = 0 ] || fail_run "$var: answers on bulk channels with the urgent channel" ;;
	esac
	case $opts in
	*--no-hint*)
		[ "$(j "$d/send.json" hints_set)" = 0 ] || fail_run "$var: hints set with --no-hint" ;;
	esac
}

# ---- the stream ----
# stream ROUND LINK: pcopy send --mem-file of a $smem MiB file to an incoming
# minivm that is never resumed (nothing faults: pure streaming)
stream() {
	local r=$1 var=pcopy_$2 rc rrc drc dst_pid recv_pid t bps
	run=$tmp/$var-$r
	rm -rf "$run"
	mkdir -p "$run"
	port=$((port + 1))
	ip netns exec "$NS_D" "$PCOPY" recv --listen "$IP_D:$port" --uffd-sock "$run/uffd.sock" -j \
		> "$run/recv.json" 2> "$run/recv.log" &
	recv_pid=$!
	bg
	wait_sock "$run/uffd.sock" || fail_run "$var: pcopy recv did not listen"
	ip netns exec "$NS_D" "$MINIVM" --mem "$smem" --vcpus 1 --incoming "$run/uffd.sock" \
		--control "$run/dst.sock" --quiet --json > "$run/dst.json" 2> "$run/dst.log" &
	dst_pid=$!
	bg
	wait_sock "$run/dst.sock" || fail_run "$var: the destination minivm did not start"
	rc=0
	ip netns exec "$NS_S" "$PCOPY" send --to "$IP_D:$port" --mem-file "$tmp/stream.mem" \
		--channels "$chans" -j > "$run/send.json" 2> "$run/send.log" || rc=$?
	[ "$rc" = 0 ] || fail_run "$var: pcopy send exited $rc"
	rrc=0
	wait "$recv_pid" || rrc=$?
	[ "$rrc" = 0 ] || fail_run "$var: pcopy recv exited $rrc"
	"$CTL" "$run/dst.sock" quit > /dev/null 2>&1
	drc=0
	wait "$dst_pid" || drc=$?
	[ "$drc" = 0 ] || fail_run "$var: the destination minivm exited $drc"
	check_run "$var" "$run" ""
	[ "$(j "$run/send.json" source)" = file ] || fail_run "$var: not sent from the memory file"
	[ "$(j "$run/recv.json" faults.pages_faulted)" = 0 ] || fail_run "$var: faults during a pure stream"
	t=$(j "$run/send.json" total_time_ns)
	stream_bytes=$(j "$run/send.json" bytes_sent)
	bps=$(j "$run/send.json" throughput_bytes_per_s)
	put "${var}_bps" "$r" "$bps"
	echo "  round $r $(printf '%-16s' "$var") $stream_bytes bytes in $(awk -v n="$t" 'BEGIN { printf "%.3f", n / 1e9 }') s, $(mbs "$bps") MB/s"
	[ "$keep" = 1 ] || rm -rf "$run"
	pids=
}

# blast ROUND LINK BYTES: raw TCP, the same sockets and bytes
blast() {
	local r=$1 var=tcp_$2 bytes=$3 p line
	port=$((port + 1))
	ip netns exec "$NS_D" "$tmp/tcp_blast" -l "$IP_D:$port" -n "$chans" \
		> "$tmp/blast-srv.out" 2> "$tmp/blast-srv.err" &
	p=$!
	bg
	wait_listening "$tmp/blast-srv.out" || fail "tcp_blast receiver did not listen: $(cat "$tmp/blast-srv.err")"
	line=$(ip netns exec "$NS_S" "$tmp/tcp_blast" -c "$IP_D:$port" -n "$chans" -b "$bytes" 2> "$tmp/blast.err") ||
		fail "tcp_blast: $(cat "$tmp/blast.err")"
	wait "$p" || fail "tcp_blast receiver: $(cat "$tmp/blast-srv.err")"
	grep -q "bytes=$bytes\$" "$tmp/blast-srv.out" || fail "tcp_blast receiver: $(cat "$tmp/blast-srv.out")"
	pids=
	put "${var}_bps" "$r" "$(word throughput_bytes_per_s "$line")"
	echo "  round $r $(printf '%-16s' "$var") $bytes bytes in $(awk -v n="$(word time_ns "$line")" 'BEGIN { printf "%.3f", n / 1e9 }') s, $(mbs "$(word throughput_bytes_per_s "$line")") MB/s"
}

# stream_pair ROUND LINK: pcopy and raw TCP, the order alternating
declare -A stream_bytes_of
stream_pair() {
	if [ $(($1 % 2)) = 1 ] || [ -z "${stream_bytes_of[$2]:-}" ]; then
		stream "$1" "$2"
		blast "$1" "$2" "$stream_bytes"
	else
		# raw TCP first, with the bytes of the previous pcopy run
		blast "$1" "$2" "${stream_bytes_of[$2]}"
		stream "$1" "$2"
	fi
	stream_bytes_of[$2]=$stream_bytes
}

# pair ROUND A B: run A then B in odd rounds, B then A in even ones (each
# a "live" argument list in one string)
pair() {
	if [ $(($1 % 2)) = 1 ]; then
		live "$1" $2
		live "$1" $3
	else
		live "$1" $3
		live "$1" $2
	fi
}

# ---- the statistics ----
# median KEY: over the rounds
median() {
	awk -v k="$1" '$1 == k { v[++n] = $3 }
	END {
		if (!n) { print "nan"; exit }
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}' "$results"
}
# values KEY SCALE FORMAT: every round's value / SCALE
values() {
	awk -v k="$1" -v s="$2" -v f="${3:-%g}" '$1 == k { printf "%s" f, n++ ? " " : "", $3 / s }' "$results"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "nan" && b + 0 > 0) printf "%.3f", a / b; else print "nan" }'; }
# verdict VALUE OP GOAL (also recorded in $tmp/verdicts)
verdict() {
	local v
	v=$(awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {
		if (v == "nan") { print "goal NOT met (no figure)"; exit }
		ok = op == "<=" ? v + 0 <= g + 0 : v + 0 >= g + 0
		print ok ? "goal met" : "goal NOT met" }')
	echo "$v" >> "$tmp/verdicts"
	echo "$v"
}

# ---- the run ----
start=$(date +%s)
echo "live migration: $rounds rounds; guests ${mem} MiB with 2 vCPUs; stream ${smem} MiB; $chans bulk channels"
echo "  kernel $(uname -r), $(nproc) cpus, pcopy.ko $([ -d /sys/module/pcopy ] && echo "$(modinfo -F version "$src/kmod/pcopy.ko" 2> /dev/null) loaded" || echo 'not loaded')"
echo "  pcopy agent sha256 $(sha256sum < "$PCOPY" | cut -c1-16); TCP congestion control $(ip netns exec "$NS_S" sysctl -n net.ipv4.tcp_congestion_control)"
shape on
if [ -n "$shaper" ]; then
	echo "  link: veth between two namespaces, shaped on both ends: $shaper"
	ip netns exec "$NS_S" tc qdisc show dev "$VETH_S" | sed 's/^/        /'
else
	echo "  link: veth between two namespaces, not shaped"
fi
head -c $((smem * 1024 * 1024)) /dev/urandom > "$tmp/stream.mem" || fail "cannot write the memory file"

# one migration not counted: page cache, binaries, first-use costs
echo "  warm-up:"
live 0 warmup random ""

for ((r = 1; r <= rounds; r++)); do
	echo
	echo "== round $r ($(( $(date +%s) - start ))s)"
	uffd_once "$r"
	rtt_idle "$r"
	rtt_loaded "$r"
	pair "$r" "urgent random" "nourgent random --no-urgent"
	pair "$r" "hint_$link scan" "nohint_$link scan --no-hint"
	stream_pair "$r" "$link"
	if [ "$bare" = 1 ] && [ -n "$shaper" ]; then
		shape off
		pair "$r" "hint_bare scan" "nohint_bare scan --no-hint"
		stream_pair "$r" bare
		shape on
	fi
done
shape off

# ---- results ----
m() { median "$1"; }
floor=$(awk -v a="$(m uffd_p50)" -v b="$(m net_p50)" 'BEGIN { print a + b }')
lfloor=$(awk -v a="$(m uffd_p50)" -v b="$(m load_p50)" 'BEGIN { print a + b }')
p50=$(m urgent_p50)
p99=$(m urgent_p99)
r50=$(div "$p50" "$floor")
r99=$(div "$p99" "$floor")
rurg=$(div "$(m nourgent_p99)" "$p99")
links=$link
[ "$bare" = 1 ] && [ -n "$shaper" ] && links="$link bare"
lname() { [ "$1" = bare ] && echo "bare veth" || echo "$shaper"; }

echo
echo "== results: median over $rounds rounds (every round's figure in brackets)"
echo "  floor = local uffd round trip $(ms "$(m uffd_p50)") ms [$(values uffd_p50 1e6 %.3f)]"
echo "        + 4 KiB request/response on the idle link $(ms "$(m net_p50)") ms [$(values net_p50 1e6 %.3f)]"
echo "        = $(ms "$floor") ms"
echo "  the same request/response beside $chans raw TCP streams: $(ms "$(m load_p50)") ms [$(values load_p50 1e6 %.3f)], p99 $(ms "$(m load_p99)") ms"
echo
printf '  %-58s %16s %8s  %-7s %s\n' "measurement (link: ${shaper:-bare veth})" value ratio goal verdict
printf '  %-58s %13s ms %8s  %-7s %s\n' "fault latency p50, urgent channel / floor" "$(ms "$p50")" "$r50" "<= $goal_p50" "$(verdict "$r50" '<=' $goal_p50)"
printf '  %-58s %13s ms %8s  %-7s %s\n' "fault latency p99, urgent channel / floor" "$(ms "$p99")" "$r99" "<= $goal_p99" "$(verdict "$r99" '<=' $goal_p99)"
printf '  %-58s %13s ms %8s\n' "  p50 / (uffd + request/response beside raw TCP)" "$(ms "$p50")" "$(div "$p50" "$lfloor")"
printf '  %-58s %13s ms\n' "  fault latency p50, --no-urgent" "$(ms "$(m nourgent_p50)")"
printf '  %-58s %13s ms\n' "  fault latency p99, --no-urgent" "$(ms "$(m nourgent_p99)")"
printf '  %-58s %16s %8s  %-7s %s\n' "p99 --no-urgent / p99 urgent channel" "" "$rurg" ">= $goal_urgent" "$(verdict "$rurg" '>=' $goal_urgent)"
for l in $links; do
	printf '  %-58s %16s %8s  %-7s %s\n' "scan: requests per 1000 pages, hints ($(lname "$l"))" "$(m "hint_${l}_per1000")" "" "<= $goal_hint" "$(verdict "$(m "hint_${l}_per1000")" '<=' $goal_hint)"
	printf '  %-58s %16s\n' "  the same with --no-hint" "$(m "nohint_${l}_per1000")"
done
for l in $links; do
	sp=$(m "pcopy_${l}_bps")
	st=$(m "tcp_${l}_bps")
	rs=$(div "$sp" "$st")
	printf '  %-58s %11s MB/s %8s  %-7s %s\n' "stream: pcopy send --mem-file / raw TCP ($(lname "$l"))" "$(mbs "$sp")" "$rs" ">= $goal_stream" "$(verdict "$rs" '>=' $goal_stream)"
	printf '  %-58s %11s MB/s\n' "  raw TCP, $chans sockets, the same bytes" "$(mbs "$st")"
done
echo
echo "  per round:"
for k in urgent_p50 urgent_p99 nourgent_p50 nourgent_p99; do
	echo "    $k (ms): $(values "$k" 1e6 %.3f)"
done
echo "    urgent latency samples: $(values urgent_samples 1); --no-urgent: $(values nourgent_samples 1)"
for l in $links; do
	echo "    requests per 1000 pages ($l): hints $(values "hint_${l}_per1000" 1); --no-hint $(values "nohint_${l}_per1000" 1)"
	echo "    pcopy.ko blocking faults ($l): hints $(values "hint_${l}_modfaults" 1); --no-hint $(values "nohint_${l}_modfaults" 1)"
	echo "    stream MB/s ($l): pcopy $(values "pcopy_${l}_bps" 1e6 %.1f); raw TCP $(values "tcp_${l}_bps" 1e6 %.1f)"
done
met=$(grep -c '^goal met' "$tmp/verdicts")
total=$(grep -c '^goal' "$tmp/verdicts")
echo "migration: $met of $total goals met; every migration checked; took $(( $(date +%s) - start ))s"
exit 0
