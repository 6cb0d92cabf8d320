#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What in-kernel dirty harvesting costs a dirtying guest, and how many
# records per second go through the ring, in one boot of the test VM.
#
# A minivm guest (2 vCPUs, KVM dirty ring on) writes every page of its
# memory DIRTY_PASSES times; its own run_time_s is the figure.  States:
#
#   off        pcopy.ko loaded, the VMM not tracked: no harvest
#   on         tracked, ring bound, drained by "pcopy record" to a file
#   nocons     tracked, ring bound, never drained (bench/ring_hold): the
#              producer drops and counts once the ring is full
#
# Dirtying speed is pages per second of the guest; the goal is
# on/off >= 0.97.  Record throughput is GFNs delivered per second of guest
# run time (with a consumer every GFN must arrive; without, the ring keeps
# what fits and the rest is counted as lost, exactly).  The states are
# interleaved over DIRTY_ROUNDS rounds (odd; the median is reported).
#
# Environment: DIRTY_ROUNDS (default 7), DIRTY_MEM MiB (default 32),
# DIRTY_PASSES (default 4).
set -uo pipefail

src=${PCOPY_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
mvm=$src/tools/minivm/minivm
ctl=$src/tools/minivm/ctltest
pcopy=$src/agent/pcopy
hold=$src/bench/ring_hold
rounds=${DIRTY_ROUNDS:-7}
mem=${DIRTY_MEM:-32}
passes=${DIRTY_PASSES:-4}
goal=0.97
tmp=$(mktemp -d /tmp/dirty_harvest.XXXXXX) || exit 1
vm_pid=
trap 'kill $vm_pid 2>/dev/null; rm -rf "$tmp"' EXIT

die() { echo "dirty_harvest: $*"; exit 1; }
[ -x "$mvm" ] && [ -x "$hold" ] && [ -x "$pcopy" ] || die "build first (make bench)"
[ -c /dev/kvm ] || die "no /dev/kvm"

# one run: prints "run_time_s entries_total delivered lost"
run_one() {
	local state=$1 sock=$tmp/ctl.sock json=$tmp/vm.json side=
	rm -f "$sock"
	"$mvm" --mem "$mem" --vcpus 2 --workload seq --passes "$passes" \
		--dirty-ring 4096 --control "$sock" --paused --json --quiet \
		> "$json" &
	vm_pid=$!
	for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.02; done
	[ -S "$sock" ] || die "minivm did not start"
	case $state in
	on)
		"$pcopy" track "$vm_pid" > /dev/null || die "track failed"
		"$pcopy" record "$vm_pid" -o "$tmp/rec" --dirty --pages 256 > /dev/null \
			2> /dev/null &
		side=$!
		sleep 0.5
		;;
	nocons)
		"$pcopy" track "$vm_pid" > /dev/null || die "track failed"
		"$hold" "$vm_pid" 16 > "$tmp/hold" &
		side=$!
		for _ in $(seq 100); do grep -q bound "$tmp/hold" && break; sleep 0.02; done
		;;
	esac
	"$ctl" "$sock" resume > /dev/null || die "resume failed"
	"$ctl" "$sock" wait finished 600 > /dev/null || die "guest did not finish"
	"$ctl" "$sock" quit > /dev/null
	wait "$vm_pid"
	vm_pid=
	local t e delivered=0 lost=0
	t=$("$ctl" json "$json" run_time_s)
	e=$("$ctl" json "$json" dirty.entries_total)
	awk -v t="$t" 'BEGIN { exit !(t > 0) }' || die "$state: no run time from minivm"
	case $state in
	on)
		wait "$side"
		"$pcopy" report -j "$tmp/rec" > "$tmp/report.json" || die "report failed"
		delivered=$("$ctl" json "$tmp/report.json" dirty.gfns)
		lost=$(( e - delivered ))
		;;
	nocons)
		kill "$side"; wait "$side"
		set -- $(tail -n 1 "$tmp/hold")
		delivered=$8 lost=$4
		[ $(( delivered + lost )) = "$e" ] || die "nocons: $delivered + $lost != $e"
		;;
	esac
	echo "$t $e $delivered $lost"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

states=(off on nocons)
echo "minivm: --mem $mem --vcpus 2 --workload seq --passes $passes --dirty-ring 4096"
echo "rounds: $rounds, states interleaved"
for r in $(seq "$rounds"); do
	for i in 0 1 2; do
		s=${states[$(( (i + r) % 3 ))]}
		set -- $(run_one "$s") || exit 1
		echo "$s $r $*" >> "$tmp/all"
		printf '  round %d %-7s run %8.3fs  entries %7d  delivered %7d  lost %7d\n' "$r" "$s" "$@"
	done
done

declare -A t gfnrate
for s in "${states[@]}"; do
	t[$s]=$(awk -v s="$s" '$1 == s { print $3 }' "$tmp/all" | median)
	gfnrate[$s]=$(awk -v s="$s" '$1 == s { print $5 / $3 }' "$tmp/all" | median)
done
# the guest writes the same pages in every state: speed ~ 1 / time
ratio=$(awk -v a="${t[off]}" -v b="${t[on]}" 'BEGIN { printf "%.3f", a / b }')
echo
printf '%-32s %12s %16s\n' "state" "run (median)" "GFNs delivered/s"
printf '%-32s %11.3fs %16s\n' "harvest off (untracked)" "${t[off]}" "-"
printf '%-32s %11.3fs %16.0f\n' "harvest on, pcopy record" "${t[on]}" "${gfnrate[on]}"
printf '%-32s %11.3fs %16.0f\n' "harvest on, no consumer" "${t[nocons]}" "${gfnrate[nocons]}"
echo
echo "dirtying speed on/off: $ratio (goal >= $goal)"
if awk -v r="$ratio" -v g="$goal" 'BEGIN { exit !(r >= g) }'; then
	echo "goal met"
else
	echo "goal NOT met"
fi
