#!/bin/bash
# Body of "make check-debug": the whole selftest suite on the debug kernel.
#
# Builds (or finds cached) the debug kernel (tools/debugkernel/build.sh),
# builds pcopy.ko against it into $BUILD/debug/pcopy.ko, builds the agent,
# selftests and tools (the same binaries as for make check), boots the VM on
# the debug kernel and runs the selftests there, then counts the results
# like make check does, every line labelled "[debug]", into
# $BUILD/debug/report.txt (summary line last, also in $BUILD/debug/summary).
# Any KASAN, KFENCE, lockdep, RCU, WARN or kmemleak report fails the run.
#
# The lane's budget, the one place that sets it: beside make check, the
# whole suite on this kernel does not fit in CI's 90 minutes
# (Documentation/debug-kernel.rst, "Budget").  The binaries in debug_skip
# do not run here (each is reported as a SKIP line): they drive whole
# migrations, QEMU or a Prometheus server, which spend their time in
# userspace; the kernel paths they use are covered by dirty_test,
# kvm_fault_test, fault_test, ring_stress_test, agent_test,
# migrate_neg_test and ended_test, which run here.  The stress and fuzz
# tests run fewer rounds (debug_env).
# DEBUG_FULL=1 runs everything at full length.
#
# Environment: BUILD (default ./build), T (run only the binaries whose name
# contains one of its words), DEBUG_SELFTEST_TIMEOUT (per binary, seconds),
# DEBUG_VM_TIMEOUT (the whole VM, seconds), DEBUG_SLOWDOWN (PCOPY_SLOWDOWN
# for the migration scripts: how much longer their workload runs, how much
# slower their link is, so that a migration is still mid-way when they act).
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
out=$build/debug
T=${T:-}
# the debug kernel under TCG runs the suite several times slower than the
# stock one (Documentation/debug-kernel.rst has the numbers)
selftest_timeout=${DEBUG_SELFTEST_TIMEOUT:-1800}
vm_timeout=${DEBUG_VM_TIMEOUT:-2400}
slowdown=${DEBUG_SLOWDOWN:-4}
debug_skip="exporter_test qemu_postcopy_test minivm_smoke_test migrate_test migrate_kill_test"
debug_env="PCOPY_STRESS_N=20 PCOPY_STRESS_SECS=240 PCOPY_EXIT_RACE_MIN=100 PCOPY_FUZZ_N=20000 PCOPY_FUZZ_UNPRIV_N=5000"
if [ -n "${DEBUG_FULL:-}" ]; then
	debug_skip=
	debug_env=
fi
mkdir -p "$out"
host=$out/host-results
: > "$host"

# the list the guest runs (SELFTEST_LIST), and a SKIP line for each
# binary left out that T would have run
: > "$out/TESTS"
for t in $(cat "$src/selftests/TESTS"); do
	case " $debug_skip " in
	*" $t "*)
		sel=${T:+no}
		for p in $T; do
			case $t in *"$p"*) sel= ;; esac
		done
		[ -z "$sel" ] &&
			echo "SKIP $t: not run on the debug lane (its budget, tools/debugkernel/check.sh)" >> "$host"
		;;
	*) echo "$t" >> "$out/TESTS" ;;
	esac
done
start=$(date +%s)

with_lock() {
	if [ -n "${VMTEST_LOCK:-}" ]; then
		flock "$VMTEST_LOCK" "$@"
	else
		"$@"
	fi
}

step() { echo "== debug: $* ($(( $(date +%s) - start ))s)"; }

finish() {
	LANE=debug "$src/tools/vmtest/report.sh" "${1:-/nonexistent}" "$host" |
		tee "$out/report.txt"
	rc=${PIPESTATUS[0]}
	tail -n 1 "$out/report.txt" > "$out/summary"
	exit "$rc"
}

step "debug kernel (tools/debugkernel/build.sh)"
t0=$(date +%s)
if ! kdir=$("$src/tools/debugkernel/build.sh"); then
	echo "FAIL kernel: tools/debugkernel/build.sh failed" >> "$host"
	finish
fi
echo "debug: kernel ready in $(( $(date +%s) - t0 ))s: $kdir"
krel=$(cat "$kdir/build/include/config/kernel.release")

step "build (agent, selftests, tools)"
if ! make -C "$src" agent selftests tools > "$out/build.log" 2>&1; then
	tail -n 60 "$out/build.log"
	echo "FAIL build: agent, selftests, tools (log: $out/build.log)" >> "$host"
	finish
fi

# Kbuild of 6.1 writes its objects next to the sources: build a copy
step "pcopy.ko for $krel"
rm -rf "$out/mod"
mkdir -p "$out/mod/kmod" "$out/mod/uapi"
cp "$src"/kmod/Kbuild "$src"/kmod/*.[ch] "$out/mod/kmod/"
cp "$src"/uapi/*.h "$out/mod/uapi/"
rm -f "$out/pcopy.ko"
if make -C "$kdir/build" M="$out/mod/kmod" modules > "$out/kmod.log" 2>&1 &&
   cp "$out/mod/kmod/pcopy.ko" "$out/pcopy.ko"; then
	echo "PASS build: pcopy.ko against $krel" >> "$host"
else
	tail -n 60 "$out/kmod.log"
	echo "FAIL build: pcopy.ko against $krel (log: $out/kmod.log)" >> "$host"
	finish
fi

# VMTEST_LOCK=FILE: the VM waits for flock(FILE), as in make check's lanes
# (opt-in: under an outer "flock FILE make check-debug" it would wait forever)
with_lock env BUILD="$out" KVER="$krel" \
	VMTEST_KERNEL="$kdir/bzImage" VMTEST_MODDIR="$kdir/no-modules" \
	VMTEST_LABEL=debug VMTEST_TIMEOUT="$vm_timeout" \
	VMTEST_APPEND="acpi=noirq log_buf_len=16M kmemleak=on printk.time=1 PCOPY_KO=$out/pcopy.ko SELFTEST_TIMEOUT=$selftest_timeout PCOPY_SLOWDOWN=$slowdown SELFTEST_LIST=$out/TESTS $debug_env" \
	"$src/tools/vmtest/vm.sh" check $T

step "results"
echo "make check-debug took $(( $(date +%s) - start ))s"
finish "$out/vm/results"
