#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end live migration of a minivm between two network namespaces
# joined by a veth pair, with pcopy send / pcopy recv
# (Documentation/migration.rst).
#
#   source netns:       minivm (running, --dirty-ring) <- pcopy send
#   destination netns:  pcopy recv -> minivm --incoming (UFFD handoff)
#
# With pcopy.ko loaded (the test VM) the migration has precopy rounds;
# without it (the build host) it runs postcopy-only, and says so.
# FROM=file migrates a paused source's memory file and state image instead
# (pcopy send --mem-file --state-file, as for a Firecracker snapshot).
#
# Checks, one PASS/FAIL line each; exit 0 only if all pass:
#   - pcopy send and pcopy recv exit 0, in the expected mode;
#   - the source was migrated while its workload was running;
#   - the destination's received memory (--mem-out) equals the source's
#     paused memory (ctltest memfd-dump), byte for byte;
#   - every page was placed exactly once (and none found present);
#   - no page changed without a dirty record (late-detected == 0);
#   - the destination guest finishes with the checksums of an unmigrated
#     reference run with the same options, and the device blob arrived.
#
# Environment (defaults in brackets):
#   MEM [16] VCPUS [2] WORKLOAD [random] (hot: HOT [16] pages rewritten over
#   and over) COUNT [15000 page writes per vCPU: 10 s at RATE, so that the
#   switchover lands mid-run on a loaded machine too; the destination runs
#   unthrottled (--rate 0), so the rest costs little] RATE [1500 pages/s per
#   vCPU] RING [1024 dirty-ring entries] REAP_MS [10: the source's dirty-ring
#   reap period; longer leaves pages writable without a new push longer]
#   RUN_S [1: seconds the source
#   runs before the migration starts] CHANNELS [4] PORT [7100 + random]
#   NETEM_DELAY (e.g. 5ms) NETEM_RATE (e.g. 200mbit): tc netem on the veth
#   SEND_OPTS, RECV_OPTS: extra options; TIMEOUT [300 s for the destination]
#   FROM [vmm]: vmm (a live source) or file (its paused memory and state)
#   SEND_RSS_MAX_MB: check that pcopy send's peak RSS stays below it (a
#   guest that touched little memory: never-touched pages cost nothing)
#   PLACER_RUN_MIN: with pcopy.ko, check that the manifest's placer placed
#   runs of at least this many pages per ioctl on average
#   CHECK_MARKS=1: sample both ends' connections (ss --tos) during the
#   migration: control and urgent carry DSCP EF and priority 6, the bulk
#   channels DSCP CS1 and priority 2 (a slow link, so that samples land)
#   PLOT=1: pcopy send and recv --plot DIR: check both ends' recordings
#   (exactly the records the engines counted) and pictures (960 x 720).
#   KEEP=1: keep the work directory; OUT=DIR: copy the JSON and logs there.
#   PCOPY_SLOWDOWN [1]: the kernel runs the migration this many times slower
#   than Debian's (the debug lane, Documentation/debug-kernel.rst): COUNT is
#   multiplied by it, so that the source is still running at the switchover.
#   DEMO=1: stream pcopy send's progress and summary live (make demo).
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
PCOPY=$src/agent/pcopy
MINIVM=$src/tools/minivm/minivm
CTL=$src/tools/minivm/ctltest

MEM=${MEM:-16}
VCPUS=${VCPUS:-2}
WORKLOAD=${WORKLOAD:-random}
HOT=${HOT:-16}
COUNT=$(( ${COUNT:-15000} * ${PCOPY_SLOWDOWN:-1} ))
RATE=${RATE:-1500}
RING=${RING:-1024}
REAP_MS=${REAP_MS:-10}
RUN_S=${RUN_S:-1}
CHANNELS=${CHANNELS:-4}
TIMEOUT=${TIMEOUT:-300}
SEND_OPTS=${SEND_OPTS:-}
RECV_OPTS=${RECV_OPTS:-}
FROM=${FROM:-vmm}

MIG_NAME=migrate-e2e
MIG_SAVE="*.json *.log"
. "$src/tools/migrate-lib.sh"
mig_names m 7100 10.213.0

die() { echo "FAIL: $*"; exit 1; }
j() { "$CTL" json "$1" "$2" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "needs root (namespaces, /dev/kvm)"
[ -c /dev/kvm ] || die "no /dev/kvm"
for b in "$PCOPY" "$MINIVM" "$CTL"; do
	[ -x "$b" ] || die "$b is missing: build first (make agent tools)"
done
command -v ip >/dev/null || die "ip (iproute2) is missing"

[ -d /sys/module/pcopy ] && module=1 || module=0
case "$FROM:$module:$SEND_OPTS" in
file:*)
	expect=file
	echo "migrate-e2e: from a memory file: expecting postcopy-only" ;;
*--postcopy-only*)
	expect=postcopy
	echo "migrate-e2e: --postcopy-only: expecting postcopy-only" ;;
vmm:1:*)
	expect=precopy
	echo "migrate-e2e: pcopy.ko is loaded: expecting precopy + postcopy" ;;
vmm:0:*)
	expect=nomodule
	echo "migrate-e2e: pcopy.ko is not loaded: expecting postcopy-only" ;;
*)
	die "FROM must be vmm or file" ;;
esac

T=$(mktemp -d /tmp/pcopy-mig.XXXXXX) || die "mktemp"
OPTS="--mem $MEM --vcpus $VCPUS --workload $WORKLOAD --count $COUNT"
[ "$WORKLOAD" = hot ] && OPTS="$OPTS --hot $HOT"

# ---- the unmigrated reference (minivm is deterministic) ----
"$MINIVM" $OPTS --dirty-ring "$RING" --quiet --json >"$T/ref.json" 2>"$T/ref.log" ||
	die "reference run failed: $(tail -n 1 "$T/ref.log")"

# ---- the network: two namespaces and a veth pair ----
# (the kernel's own module autoload may not see modprobe: load them here)
modprobe veth 2>/dev/null
[ -n "${NETEM_DELAY:-}${NETEM_RATE:-}" ] && modprobe sch_netem 2>/dev/null
mig_netns_up
if [ -n "${NETEM_DELAY:-}${NETEM_RATE:-}" ]; then
	netem="${NETEM_DELAY:+delay $NETEM_DELAY} ${NETEM_RATE:+rate $NETEM_RATE}"
	for pair in "$NS_S $VETH_S" "$NS_D $VETH_D"; do
		set -- $pair
		ip netns exec "$1" tc qdisc add dev "$2" root netem $netem 2>"$T/tc.log" ||
			die "tc netem $netem: $(cat "$T/tc.log") (no sch_netem on this kernel?)"
	done
	echo "migrate-e2e: netem on both ends: $netem"
fi

if [ "${PLOT:-0}" = 1 ]; then
	SEND_OPTS="${SEND_OPTS:-} --plot $T/plot"
	RECV_OPTS="${RECV_OPTS:-} --plot $T/plot"
fi

# ---- destination: pcopy recv, then the incoming minivm ----
ip netns exec "$NS_D" "$PCOPY" recv --listen "$IP_D:$PORT" --uffd-sock "$T/uffd.sock" \
	--vmm-control "$T/dst.sock" --mem-out "$T/mem-out.bin" $RECV_OPTS -j \
	>"$T/recv.json" 2>"$T/recv.log" &
recv_pid=$!
pids="$pids $recv_pid"
wait_sock "$T/uffd.sock" || die "pcopy recv did not listen: $(cat "$T/recv.log")"
ip netns exec "$NS_D" "$MINIVM" --mem "$MEM" --vcpus "$VCPUS" --incoming "$T/uffd.sock" \
	--control "$T/dst.sock" --rate 0 --quiet --json >"$T/dst.json" 2>"$T/dst.log" &
dst_pid=$!
pids="$pids $dst_pid"
wait_sock "$T/dst.sock" || die "destination minivm did not start: $(cat "$T/dst.log")"

# ---- source: a running minivm that keeps dirtying memory ----
ip netns exec "$NS_S" "$MINIVM" $OPTS --rate "$RATE" --dirty-ring "$RING" --reap-ms "$REAP_MS" \
	--control "$T/src.sock" --quiet --json >"$T/src.json" 2>"$T/src.log" &
src_pid=$!
pids="$pids $src_pid"
wait_sock "$T/src.sock" || die "source minivm did not start: $(cat "$T/src.log")"
sleep "$RUN_S"

# ---- the migration ----
if [ "$FROM" = file ]; then
	# a snapshot: the paused source's memory file and state image
	"$CTL" "$T/src.sock" pause >/dev/null || die "cannot pause the source"
	"$CTL" "$T/src.sock" export "$T/state.bin" >/dev/null || die "cannot export the source's state"
	"$CTL" "$T/src.sock" memfd-dump "$T/src-mem.bin" >/dev/null || die "memfd-dump of the source failed"
	from="--mem-file $T/src-mem.bin --state-file $T/state.bin"
else
	from="--vmm-control $T/src.sock"
fi
start=$(date +%s.%N)
rc=0
tailp=
if [ "${DEMO:-0}" = 1 ]; then
	# make demo: show pcopy send's progress and summary as they come
	: >"$T/send.log"
	tail -n +1 -f "$T/send.log" &
	tailp=$!
fi
ssp=
if [ "${CHECK_MARKS:-0}" = 1 ]; then
	# ss reads the TOS through sock_diag: without tcp_diag it falls back
	# to /proc/net/tcp, which has none (a guest that never loaded it)
	modprobe tcp_diag 2>/dev/null
	# one block per sample, "--" after each: the source's connections to
	# the destination's port, then the destination's from it
	while :; do
		ip netns exec "$NS_S" ss -Htn --tos state established "( dport = :$PORT )"
		echo "-- src"
		ip netns exec "$NS_D" ss -Htn --tos state established "( sport = :$PORT )"
		echo "-- dst"
		sleep 0.1
	done > "$T/ss.txt" 2>&1 &
	ssp=$!
fi
ip netns exec "$NS_S" "$PCOPY" send --to "$IP_D:$PORT" $from \
	--channels "$CHANNELS" $SEND_OPTS -j >"$T/send.json" 2>"$T/send.log" || rc=$?
[ -n "$ssp" ] && { kill "$ssp"; wait "$ssp" 2>/dev/null; }
rrc=0
wait "$recv_pid" || rrc=$?
end=$(date +%s.%N)
if [ -n "$tailp" ]; then
	sleep 0.5
	kill "$tailp" 2>/dev/null
	echo
	echo "== pcopy recv (destination) said:"
	cat "$T/recv.log"
	echo
	echo "== checks"
else
	sed 's/^/  send: /' "$T/send.log"
	sed 's/^/  recv: /' "$T/recv.log"
fi
[ "$rc" = 0 ] && pass "pcopy send exited 0" || fail "pcopy send exited $rc"
[ "$rrc" = 0 ] && pass "pcopy recv exited 0" || fail "pcopy recv exited $rrc"

# the source stays paused after a migration: dump what it holds, then quit
"$CTL" "$T/src.sock" status >"$T/src-status.json" 2>/dev/null
if [ "$FROM" != file ]; then
	"$CTL" "$T/src.sock" memfd-dump "$T/src-mem.bin" >/dev/null 2>&1 ||
		fail "memfd-dump of the source failed"
fi
"$CTL" "$T/src.sock" quit >/dev/null 2>&1
wait "$src_pid" 2>/dev/null

# the destination runs the workload to its end
if "$CTL" "$T/dst.sock" wait finished "$TIMEOUT" >/dev/null 2>&1; then
	pass "the destination VM ran the workload to its end"
else
	fail "the destination VM did not finish within $TIMEOUT s"
fi
"$CTL" "$T/dst.sock" quit >/dev/null 2>&1
drc=0
wait "$dst_pid" || drc=$?
[ "$drc" = 0 ] || fail "destination minivm exited $drc: $(tail -n 2 "$T/dst.log")"

# ---- checks ----
mode=$(j "$T/send.json" mode)
rounds=$(j "$T/send.json" rounds)
case $expect in
precopy)
	[ "$mode" = "precopy+postcopy" ] && [ "${rounds:-0}" -ge 1 ] &&
		pass "precopy + postcopy with pcopy.ko: $rounds rounds ($(j "$T/send.json" switchover_reason))" ||
		fail "mode '$mode' with $rounds rounds, expected precopy rounds with pcopy.ko" ;;
nomodule)
	[ "$mode" = "postcopy-only" ] && grep -q "migrating postcopy-only" "$T/send.log" &&
		pass "postcopy-only without pcopy.ko, and pcopy send says so" ||
		fail "mode '$mode' without pcopy.ko, or no note on stderr" ;;
*)
	[ "$mode" = "postcopy-only" ] && pass "postcopy-only ($(j "$T/send.json" postcopy_only_reason))" ||
		fail "mode '$mode', expected postcopy-only" ;;
esac

paused_at=0
for v in $(seq 0 $((VCPUS - 1))); do
	p=$(j "$T/src-status.json" vcpu.$v.progress)
	paused_at=$((paused_at + ${p:-0}))
done
total=$((COUNT * VCPUS))
[ "$paused_at" -gt 0 ] && [ "$paused_at" -lt "$total" ] &&
	pass "the source was paused mid-run ($paused_at of $total page writes done)" ||
	fail "the source was not paused mid-run ($paused_at of $total page writes)"

if [ -s "$T/mem-out.bin" ] && cmp -s "$T/mem-out.bin" "$T/src-mem.bin"; then
	pass "received memory equals the source's paused memory ($(stat -c %s "$T/src-mem.bin") bytes)"
else
	fail "received memory differs from the source's: $(cmp "$T/mem-out.bin" "$T/src-mem.bin" 2>&1 | head -n 1)"
fi

pages=$(j "$T/recv.json" pages)
placed=$(j "$T/recv.json" placed)
eexist=$(j "$T/recv.json" eexist)
twice=$(j "$T/recv.json" placed_twice)
if [ "$(j "$T/recv.json" placed_exactly_once)" = true ] && [ "$placed" = "$pages" ]; then
	pass "every page placed exactly once ($placed of $pages, $eexist already present, $twice twice)"
else
	fail "pages placed: $placed of $pages, $eexist already present, $twice twice"
fi

late=$(j "$T/send.json" late_detected)
[ "$late" = 0 ] && pass "no page changed without a dirty record (late-detected 0)" ||
	fail "late-detected pages: $late"

csum_ok=1
csums=
for v in $(seq 0 $((VCPUS - 1))); do
	a=$(j "$T/ref.json" vcpu.$v.guest_csum)
	b=$(j "$T/dst.json" vcpu.$v.guest_csum)
	csums="$csums vcpu$v=$(printf '%08x' "${b:-0}")"
	[ -n "$a" ] && [ "$a" = "$b" ] || { csum_ok=0; echo "  vcpu $v: reference $a, destination $b"; }
done
[ "$(j "$T/dst.json" csum_ok)" = true ] || csum_ok=0
[ "$csum_ok" = 1 ] && pass "destination guest's memory checksums equal the unmigrated reference run's:$csums" ||
	fail "destination checksums differ from the reference run's"

[ -n "$(j "$T/src.json" device_blob.fnv)" ] &&
	[ "$(j "$T/src.json" device_blob.fnv)" = "$(j "$T/dst.json" device_blob.fnv)" ] &&
	pass "the device blob arrived unchanged" || fail "the device blob differs"

# ---- memory: pcopy send reads the guest without populating it ----
if [ -n "${SEND_RSS_MAX_MB:-}" ]; then
	rss=$(j "$T/send.json" peak_rss_bytes)
	[ -n "$rss" ] && [ "$rss" -lt $((SEND_RSS_MAX_MB * 1048576)) ] &&
		pass "pcopy send's peak RSS $((rss / 1048576)) MiB for a $MEM MiB guest (limit $SEND_RSS_MAX_MB MiB)" ||
		fail "pcopy send's peak RSS ${rss:-?} bytes for a $MEM MiB guest, limit $SEND_RSS_MAX_MB MiB"
fi

if [ -n "${PLACER_RUN_MIN:-}" ] && [ "$module" = 1 ]; then
	pp=$(j "$T/recv.json" placer_pages)
	pi=$(j "$T/recv.json" placer_ioctls)
	[ "${pp:-0}" -gt 0 ] && [ "$pp" -ge $(( ${pi:-0} * PLACER_RUN_MIN )) ] &&
		pass "the placer placed $pp buffered pages with $pi ioctls (runs of $((pp / pi)) on average, at least $PLACER_RUN_MIN)" ||
		fail "the placer placed ${pp:-?} pages with ${pi:-?} ioctls (wanted runs of $PLACER_RUN_MIN)"
fi

# ---- marks: a sample of each end with every connection up ----
if [ "${CHECK_MARKS:-0}" = 1 ]; then
	for e in src dst; do
		got=$(awk -v e="$e" -v n="$CHANNELS" '
			$1 == "--" { if ($2 == e && u + b + o == n + 2) {
					if (u == 2 && b == n && !o) ok++; else bad++ }
				u = b = o = 0; next }
			/tos:0xb8/ && /class_id:0x6( |$)/ { u++; next }
			/tos:0x20/ && /class_id:0x2( |$)/ { b++; next }
			{ o++ }
			END { printf "%d %d", ok, bad }' "$T/ss.txt")
		[ "${got% *}" -gt 0 ] && [ "${got#* }" = 0 ] &&
			pass "$e: ${got% *} samples with every connection marked: 2 with DSCP EF, priority 6; $CHANNELS with DSCP CS1, priority 2" ||
			fail "$e: connection marks (samples right, wrong: $got): $(grep -m 4 -v '^--' "$T/ss.txt" | tr '\n' ' ')"
	done
fi

# ---- --plot: each end's recording holds what its engine counted ----
png_size() {	# the IHDR's width and height
	od -An -tu1 -j16 -N8 "$1" 2>/dev/null |
		awk 'NF == 8 { printf "%d x %d", (($1 * 256 + $2) * 256 + $3) * 256 + $4, (($5 * 256 + $6) * 256 + $7) * 256 + $8 }'
}
if [ "${PLOT:-0}" = 1 ]; then
	for e in send recv; do
		[ "$(png_size "$T/plot/$e.png")" = "960 x 720" ] &&
			pass "pcopy $e --plot drew $e.png, 960 x 720" ||
			fail "pcopy $e --plot: $e.png is '$(png_size "$T/plot/$e.png")' ($(grep -i plot "$T/$e.log"))"
		"$PCOPY" -j report "$T/plot/$e.rec" >"$T/$e-report.json" 2>"$T/$e-report.log" ||
			fail "pcopy report $e.rec: $(cat "$T/$e-report.log")"
		[ "$(j "$T/$e-report.json" stop_reason)" = migration_ended ] &&
			[ "$(j "$T/$e-report.json" check.consistent)" = true ] &&
			pass "$e.rec: ended with the migration, consistent ($(j "$T/$e-report.json" check.delivered) records delivered)" ||
			fail "$e.rec: stop $(j "$T/$e-report.json" stop_reason), consistent $(j "$T/$e-report.json" check.consistent)"
	done
	a="$(j "$T/send-report.json" records.dirty) $(j "$T/send-report.json" records.dirty_reset)"
	b="$(j "$T/send.json" dirty_tracking.records) $(j "$T/send.json" dirty_tracking.resets)"
	[ "$a" = "$b" ] && [ "${a% *}" -gt 0 ] 2>/dev/null &&
		pass "send.rec holds the DIRTY and DIRTY_RESET records pcopy send counted: $a" ||
		fail "send.rec: DIRTY, DIRTY_RESET $a; pcopy send counted $b"
	a=$(( $(j "$T/recv-report.json" records.fault_begin || echo 0) + $(j "$T/recv-report.json" faults.nowait || echo 0) ))
	b=$(j "$T/recv.json" faults.ring_records)
	[ "$a" = "$b" ] && [ "$a" -gt 0 ] 2>/dev/null &&
		pass "recv.rec holds the fault records pcopy recv took: $a (FAULT_BEGIN + NOWAIT)" ||
		fail "recv.rec: $a FAULT_BEGIN + NOWAIT records; pcopy recv took $b"
fi

# ---- figures ----
ms() {
	case ${1:-null} in
	null) echo "n/a" ;;
	*) awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }' ;;
	esac
}
echo "migrate-e2e: $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') s wall;" \
	"total $(ms "$(j "$T/send.json" total_time_ns)"), downtime $(ms "$(j "$T/send.json" downtime_ns)")," \
	"rounds $(j "$T/send.json" rounds), postcopy pages $(j "$T/send.json" postcopy_pages)," \
	"requests $(j "$T/send.json" requests), fault latency p50 $(ms "$(j "$T/recv.json" faults.latency_p50_ns)")" \
	"p99 $(ms "$(j "$T/recv.json" faults.latency_p99_ns)") ($(j "$T/recv.json" faults.source))"
if [ "$module" = 1 ]; then
	echo "migrate-e2e: destination pcopy.ko: $(j "$T/recv.json" module.faults) blocking faults," \
		"blocktime $(ms "$(j "$T/recv.json" module.blocktime_ns)")"
fi

if [ "$fails" = 0 ]; then
	echo "migrate-e2e: PASS"
	exit 0
fi
echo "migrate-e2e: FAIL ($fails checks failed)"
exit 1
