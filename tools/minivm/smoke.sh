#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# minivm smoke test: needs /dev/kvm and root (userfaultfd for KVM faults).
# Builds minivm, ctltest and uffd_handler, then checks:
#   - usage errors (exit 2, one line) and a missing /dev/kvm (exit 1);
#   - every workload with 2 vCPUs and the dirty ring: guest checksum ==
#     host checksum, harvest file == JSON totals, every harvested GFN inside
#     the writing vCPU's own region, and for "pages" the exact GFN set;
#   - the rate limit, SIGTERM on a --loop VM;
#   - the control socket (ctltest selftest: layout, memfd handoff, pause,
#     export/import, bad requests, resume), STOP and status when finished;
#   - postcopy: pause a source mid-run, export its state and RAM, run an
#     --incoming destination whose RAM is served by uffd_handler over the
#     Firecracker handoff, and compare its final checksums with an
#     uninterrupted reference run.
# Exits non-zero on the first mismatch.  MINIVM_KEEP=1 keeps the work dir.
# PCOPY_SLOWDOWN=N (the debug lane: 4) makes the postcopy source run N times
# longer, so that it is still running when it is paused.
set -eu

DIR=$(cd "$(dirname "$0")" && pwd)
MINIVM=$DIR/minivm
CTL=$DIR/ctltest
UFFD=$DIR/uffd_handler
MEM=4			# MiB: small, the guest may be emulated (PVM hosts)
T=$(mktemp -d /tmp/minivm-smoke.XXXXXX)
PIDS=""
START=$(date +%s.%N)

cleanup() {
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	if [ -z "${MINIVM_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "smoke: work dir kept: $T"
	fi
}
trap cleanup EXIT

fail() {
	echo "smoke: FAIL: $*" >&2
	exit 1
}

ok() {
	echo "smoke: ok: $*"
}

j() {	# j FILE PATH
	"$CTL" json "$1" "$2"
}

wait_sock() {	# wait_sock PATH
	local i
	for i in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	fail "socket $1 did not appear"
}

# MINIVM_PREBUILT=1: use what make built (a read-only tree, the test VM)
[ -n "${MINIVM_PREBUILT:-}" ] || make -s -C "$DIR" all

[ -w /dev/kvm ] || fail "/dev/kvm is not usable"

# ---- usage errors ----
usage_case() {	# usage_case EXPECTED_SUBSTRING ARGS...
	local want=$1 rc=0
	shift
	"$MINIVM" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 2 ] || fail "minivm $*: exit $rc, want 2"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "minivm $*: error is not one line"
	grep -q -- "$want" "$T/err" || fail "minivm $*: '$(cat "$T/err")'"
}
usage_case "not a multiple of the 4 KiB" --mem 2050K
usage_case "between 2 MiB and 3 GiB" --mem 1
usage_case "must be 1..64" --vcpus 65
usage_case "unknown workload" --workload nope
usage_case "outside the" --workload pages --pages 1-100000 --mem $MEM
usage_case "power of 2" --dirty-ring 1000
usage_case "needs --control" --incoming "$T/nowhere"
usage_case "needs an argument" --mem
usage_case "unknown option" --frobnicate
ok "usage errors"

if unshare -m true 2>/dev/null; then
	rc=0
	unshare -m sh -c "mount -t tmpfs none /dev && exec $MINIVM --mem $MEM" \
		2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "missing /dev/kvm: exit $rc, want 1"
	grep -q "cannot open /dev/kvm" "$T/err" || fail "missing /dev/kvm message"
	ok "missing /dev/kvm"
else
	echo "smoke: skip: missing /dev/kvm (no unshare -m)"
fi

# ---- workloads ----
# Which pages does KVM log?  Always every page the guest writes (once per
# reset).  KVM with hardware paging (SVM/VMX, as in the nested test VM on
# 6.1 and 6.12) also logs a page the guest only reads, once, when a read
# fault maps it writable because its host mapping is writable (make_spte()
# marks every new writable SPTE dirty); it stays write-protected after the
# next reset, so it is never logged again.  KVM that emulates the guest
# (PVM, the build host) logs stores only.  The first workload tells which
# (FIRSTMAP=1: read pages logged once); every later check is exact for
# that mode.  The pages a vCPU only reads: the guest program and its own
# parameter block (GFNs below MVM_GPA_DATA, tools/minivm/guest_abi.h), and,
# as every workload ends with a checksum of its whole region, every region
# page: with FIRSTMAP=1 each is logged at least once, and a page logged
# twice must be one the workload writes.
CODE_LO=1 CODE_HI=16		# MVM_GPA_CODE .. + MVM_CODE_MAX, in pages
PARAMS=16			# MVM_GPA_PARAMS in pages; vCPU i: PARAMS + i
DATA=256			# MVM_GPA_DATA in pages
FIRSTMAP=

# run_wl NAME ARGS...: 2 vCPUs, dirty ring, harvest file; generic checks.
run_wl() {
	local name=$1 out=$T/$1.json h=$T/$1.harvest v n base pages
	shift
	"$MINIVM" --mem $MEM --vcpus 2 --dirty-ring 1024 --quiet --json \
		--harvest-out "$h" "$@" >"$out" || fail "$name: minivm exit $?"
	[ "$(j "$out" csum_ok)" = true ] || fail "$name: checksum mismatch"
	for v in 0 1; do
		[ "$(j "$out" vcpu.$v.state)" = finished ] ||
			fail "$name: vcpu $v not finished"
		[ "$(j "$out" vcpu.$v.csum_match)" = true ] ||
			fail "$name: vcpu $v guest/host checksum differ"
		n=$(awk -v v=$v '$1 == v' "$h" | wc -l)
		[ "$n" = "$(j "$out" vcpu.$v.dirty_entries)" ] ||
			fail "$name: vcpu $v: $n harvest lines vs JSON $(j "$out" vcpu.$v.dirty_entries)"
		base=$(( $(j "$out" vcpu.$v.region_gpa) / 4096 ))
		pages=$(j "$out" vcpu.$v.region_pages)
		n=$(awk -v v=$v -v b=$base -v e=$((base + pages)) \
			-v cl=$CODE_LO -v ch=$CODE_HI -v p=$((PARAMS + v)) \
			'$1 == v && ($2 != 0 || (($3 < b || $3 >= e) &&
			  !($3 >= cl && $3 < ch) && $3 != p))' "$h" | wc -l)
		[ "$n" = 0 ] || fail "$name: vcpu $v: $n entries outside its region and the pages it reads"
	done
	# read-only pages: never logged, or once per vCPU that read them
	# (the program page is shared: two vCPUs faulting on it at the same
	# time both log it, as make_spte() marks it before the SPTE is set)
	ro=$(awk -v d=$DATA '$3 < d' "$h" | wc -l)
	[ "$(awk -v d=$DATA '$3 < d { print $1, $3 }' "$h" | sort -u | wc -l)" = "$ro" ] ||
		fail "$name: a vCPU logged a page the guest only reads twice"
	if [ -z "$FIRSTMAP" ]; then
		FIRSTMAP=0
		[ "$ro" != 0 ] && FIRSTMAP=1
	fi
	if [ "$FIRSTMAP" = 0 ]; then
		[ "$ro" = 0 ] || fail "$name: $ro read-only pages logged, none were in the first run"
	else
		# every vCPU reads its parameter block; one or both the program
		for v in 0 1; do
			[ "$(awk -v p=$((PARAMS + v)) '$3 == p' "$h" | wc -l)" = 1 ] ||
				fail "$name: vcpu $v: its parameter block not logged exactly once"
		done
		n=$(awk -v c=$CODE_LO '$3 == c' "$h" | wc -l)
		[ "$n" -ge 1 ] && [ "$n" -le 2 ] ||
			fail "$name: the guest program's first page logged $n times, want 1 or 2 (one per vCPU)"
	fi
	# what the workload wrote (or, FIRSTMAP=1, read): the data regions
	awk -v d=$DATA '$3 >= d' "$h" > "$T/$name.data"
	[ "$(wc -l <"$h")" = "$(j "$out" dirty.entries_total)" ] ||
		fail "$name: harvest file vs entries_total"
	[ "$(awk '{print $2, $3}' "$h" | sort -u | wc -l)" = \
	  "$(j "$out" dirty.distinct_gfns)" ] || fail "$name: distinct GFNs"
	[ "$(j "$out" dirty.overflows)" = 0 ] || fail "$name: ring overflow"
	[ "$(j "$out" dirty.invalid_entries)" = 0 ] || fail "$name: invalid entries"
}

distinct() {	# distinct FILE: distinct (slot, gfn) pairs in a harvest file
	awk '{ print $2, $3 }' "$1" | sort -u | wc -l
}

multi() {	# multi FILE: "vcpu slot gfn" of the pages logged more than once
	sort "$1" | uniq -d
}

run_wl seq --workload seq --passes 2
if [ "$FIRSTMAP" = 1 ]; then
	ok "dirty log: KVM logs a page the guest only reads once, when it first maps it"
else
	ok "dirty log: KVM logs written pages only"
fi
pages=$(j "$T/seq.json" vcpu.0.region_pages)
[ "$(distinct "$T/seq.data")" = $((2 * pages)) ] ||
	fail "seq: not every region page was harvested"
for v in 0 1; do
	[ "$(j "$T/seq.json" vcpu.$v.progress)" = $((2 * pages)) ] ||
		fail "seq: vcpu $v progress"
done
ok "seq: checksums agree, $(j "$T/seq.json" dirty.entries_total) entries, all $((2 * pages)) region GFNs"

run_wl random --workload random --count 1500
if [ "$FIRSTMAP" = 1 ]; then
	[ "$(distinct "$T/random.data")" = $((2 * pages)) ] ||
		fail "random: $(distinct "$T/random.data") region GFNs, want all $((2 * pages)) (final checksum reads)"
fi
ok "random: checksums agree, $(distinct "$T/random.data") distinct region GFNs"

run_wl hot --workload hot --hot 8 --count 2000
if [ "$FIRSTMAP" = 0 ]; then
	[ "$(distinct "$T/hot.data")" = 16 ] || fail "hot: want 16 distinct region GFNs"
	what="2 x 8 hot GFNs"
else
	[ "$(distinct "$T/hot.data")" = $((2 * pages)) ] ||
		fail "hot: $(distinct "$T/hot.data") region GFNs, want all $((2 * pages)) (final checksum reads)"
	[ "$(multi "$T/hot.data" | wc -l)" -le 16 ] ||
		fail "hot: $(multi "$T/hot.data" | wc -l) pages logged more than once, at most the 2 x 8 hot ones may be"
	what="at most the 2 x 8 hot GFNs logged again, $(multi "$T/hot.data" | wc -l) were"
fi
ok "hot: checksums agree, $what"

run_wl scan --workload scan --passes 2
if [ "$FIRSTMAP" = 0 ]; then
	[ "$(wc -l <"$T/scan.data")" = 0 ] || fail "scan wrote memory"
	what="no dirty entries"
else
	# every region page read, so logged once when first mapped, and
	# never again: a second entry for a page would be a write
	[ "$(wc -l <"$T/scan.data")" = $((2 * pages)) ] &&
	[ "$(distinct "$T/scan.data")" = $((2 * pages)) ] ||
		fail "scan: $(wc -l <"$T/scan.data") region entries, want each of the $((2 * pages)) region pages once"
	what="each region page logged once (first map), none again"
fi
for v in 0 1; do
	[ "$(j "$T/scan.json" vcpu.$v.scan_csum)" = "$(j "$T/scan.json" vcpu.$v.guest_csum)" ] ||
		fail "scan: vcpu $v scan checksum != region checksum"
done
ok "scan: checksums agree, $what"

LIST="3,7,100-120,$((pages - 1))"
run_wl pages --workload pages --pages "$LIST" --passes 2
: >"$T/expect"
for v in 0 1; do
	base=$(( $(j "$T/pages.json" vcpu.$v.region_gpa) / 4096 ))
	for p in 3 7 $(seq 100 120) $((pages - 1)); do
		echo "$v 0 $((base + p))" >>"$T/expect"
	done
done
sort -u "$T/expect" >"$T/expect.s"
if [ "$FIRSTMAP" = 0 ]; then
	sort -u "$T/pages.data" >"$T/got.s"
	cmp -s "$T/expect.s" "$T/got.s" ||
		{ diff "$T/expect.s" "$T/got.s" | head; fail "pages: harvested set differs"; }
	ok "pages: harvested (vcpu, slot, offset) set is exactly the $(wc -l <"$T/expect.s") requested pages"
else
	[ "$(distinct "$T/pages.data")" = $((2 * pages)) ] ||
		fail "pages: $(distinct "$T/pages.data") region GFNs, want all $((2 * pages)) (final checksum reads)"
	multi "$T/pages.data" >"$T/got.s"
	[ -z "$(comm -13 "$T/expect.s" "$T/got.s")" ] ||
		{ comm -13 "$T/expect.s" "$T/got.s" | head; fail "pages: an unrequested page was logged twice"; }
	ok "pages: only requested pages logged again ($(wc -l <"$T/got.s") of $(wc -l <"$T/expect.s"))"
fi

# ---- rate limit ----
"$MINIVM" --mem $MEM --workload seq --rate 2000 --quiet --json >"$T/rate.json" ||
	fail "rate: minivm failed"
awk -v t="$(j "$T/rate.json" run_time_s)" -v n="$(j "$T/rate.json" vcpu.0.progress)" \
	'BEGIN { exit !(t >= 0.8 * n / 2000) }' ||
	fail "rate: $(j "$T/rate.json" vcpu.0.progress) pages in $(j "$T/rate.json" run_time_s) s at 2000 pages/s"
ok "rate: $(j "$T/rate.json" vcpu.0.progress) pages took $(j "$T/rate.json" run_time_s) s at --rate 2000"

# ---- SIGTERM on a looping VM ----
"$MINIVM" --mem $MEM --vcpus 2 --workload seq --loop --quiet --json >"$T/term.json" &
pid=$!
PIDS="$PIDS $pid"
sleep 0.5
kill -TERM $pid
rc=0
wait $pid || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
[ "$(j "$T/term.json" csum_ok)" = true ] || fail "SIGTERM: checksums"
ok "SIGTERM stops a --loop VM cleanly"

# ---- control socket ----
S=$T/ctl.sock
"$MINIVM" --mem $MEM --vcpus 2 --workload seq --loop --rate 20000 \
	--control "$S" --quiet --json >"$T/ctl.json" &
pid=$!
PIDS="$PIDS $pid"
wait_sock "$S"
"$CTL" "$S" selftest || fail "ctltest selftest"
"$CTL" "$S" stop || fail "stop"
"$CTL" "$S" wait finished 60 || fail "loop did not finish after STOP"
"$CTL" "$S" status >"$T/status.json"
for v in 0 1; do
	[ "$(j "$T/status.json" vcpu.$v.guest_csum)" = "$(j "$T/status.json" vcpu.$v.host_csum)" ] ||
		fail "status: vcpu $v checksums differ"
done
"$CTL" "$S" quit || fail "quit"
rc=0
wait $pid || rc=$?
[ "$rc" = 0 ] || fail "control VM exit $rc"
[ "$(j "$T/ctl.json" csum_ok)" = true ] || fail "control VM checksums"
ok "control socket: selftest, stop, status, quit"

# ---- postcopy: source -> uffd handler -> incoming destination ----
MIG="--mem $MEM --vcpus 2 --workload random --count 2500"
"$MINIVM" $MIG --quiet --json >"$T/ref.json" || fail "reference run"
S=$T/src.sock
# --rate keeps the source running for 5 s (PCOPY_SLOWDOWN times that on a
# slow kernel, the debug lane's), so that the pause 0.4 s in lands mid-run
# even on a loaded machine; the destination runs the rest unthrottled
"$MINIVM" $MIG --rate $((500 / ${PCOPY_SLOWDOWN:-1})) --control "$S" --quiet --json >"$T/src.json" &
pid=$!
PIDS="$PIDS $pid"
wait_sock "$S"
sleep 0.4
"$CTL" "$S" pause
"$CTL" "$S" status >"$T/src-status.json"
[ "$(j "$T/src-status.json" state)" = paused ] || fail "source not paused"
"$CTL" "$S" export "$T/state.bin"
"$CTL" "$S" memfd-dump "$T/mem.bin"
"$CTL" "$S" quit
wait $pid || fail "source exit"
mid=$(j "$T/src-status.json" vcpu.0.progress)
[ "$mid" -gt 0 ] && [ "$mid" -lt 2500 ] || fail "source was not paused mid-run ($mid/2500)"

U=$T/uffd.sock
"$UFFD" --socket "$U" --src "$T/mem.bin" --stats "$T/uffd.stats" &
hpid=$!
PIDS="$PIDS $hpid"
wait_sock "$U"
D=$T/dst.sock
"$MINIVM" --mem $MEM --vcpus 2 --incoming "$U" --control "$D" --rate 0 --quiet \
	--json >"$T/dst.json" &
pid=$!
PIDS="$PIDS $pid"
wait_sock "$D"
"$CTL" "$D" wait incoming 10
if "$CTL" "$D" resume 2>/dev/null; then fail "resume before import accepted"; fi
"$CTL" "$D" import "$T/state.bin"
"$CTL" "$D" resume
"$CTL" "$D" wait finished 60 || fail "destination did not finish"
"$CTL" "$D" quit
wait $pid || fail "destination exit"
wait $hpid || fail "uffd_handler exit"
[ "$(j "$T/dst.json" csum_ok)" = true ] || fail "destination checksums"
for v in 0 1; do
	[ "$(j "$T/dst.json" vcpu.$v.guest_csum)" = "$(j "$T/ref.json" vcpu.$v.guest_csum)" ] ||
		fail "postcopy: vcpu $v final checksum differs from the reference run"
done
[ "$(j "$T/dst.json" device_blob.fnv)" = "$(j "$T/src.json" device_blob.fnv)" ] ||
	fail "device blob not carried"
served=$(awk '/^served/ {print $2}' "$T/uffd.stats")
[ "$served" -gt 0 ] || fail "uffd handler served no pages"
ok "postcopy: paused at $mid/2500, $served pages via userfaultfd, final checksums == reference"

echo "smoke: all passed in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
