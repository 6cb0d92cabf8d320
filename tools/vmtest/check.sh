#!/bin/bash
# Body of "make check" once the packages are installed: build, lint, run the
# selftests in the VM, then print each result and the summary line last.
# Environment: BUILD, KVER, T (from the Makefile).
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
mkdir -p "$build"
host=$build/host-results
: > "$host"
start=$(date +%s)

step() { echo "== $* ($(( $(date +%s) - start ))s)"; }

step "build"
if make -C "$src" all > "$build/build.log" 2>&1; then
	echo "PASS build" >> "$host"
else
	echo "FAIL build" >> "$host"
	tail -n 60 "$build/build.log"
	"$src/tools/vmtest/report.sh" /nonexistent "$host" | tee "$build/report.txt"
	tail -n 1 "$build/report.txt" > "$build/summary"
	exit 1
fi

if [ -z "$T" ]; then
	step "lint (checkpatch, sparse)"
	if make -C "$src" -s lint > "$build/lint.log" 2>&1; then
		echo "PASS lint: checkpatch and sparse clean on kmod/" >> "$host"
	else
		echo "FAIL lint: checkpatch or sparse reported problems" >> "$host"
		cat "$build/lint.log"
	fi
fi

# Host-side tests: what needs no pcopy.ko runs on the build machine too.
host_test() {	# NAME LOG COMMAND...
	local name=$1 log=$2
	shift 2
	if "$@" > "$log" 2>&1; then
		echo "PASS host: $name" >> "$host"
	else
		echo "FAIL host: $name (log: $log)" >> "$host"
		tail -n 30 "$log"
	fi
}

if [ -z "$T" ] || [[ " $T " == *" host "* ]]; then
	step "host tests"
	if [ -c /dev/kvm ]; then
		host_test "minivm smoke test (tools/minivm/smoke.sh)" \
			"$build/host-minivm-smoke.log" "$src/tools/minivm/smoke.sh"
		# no pcopy.ko here: the migration must still work, postcopy-only
		host_test "live migration without pcopy.ko (tools/migrate-e2e.sh)" \
			"$build/host-migrate-e2e.log" sh "$src/tools/migrate-e2e.sh"
		host_test "live migration from a memory file (FROM=file)" \
			"$build/host-migrate-file.log" env FROM=file sh "$src/tools/migrate-e2e.sh"
		host_test "pcopy recv against hostile input (selftests/migrate_neg_test)" \
			"$build/host-migrate-neg.log" env PCOPY_SRC="$src" "$src/selftests/migrate_neg_test"
	else
		echo "SKIP host: minivm smoke test and live migration (no /dev/kvm on this machine)" >> "$host"
	fi
fi

step "VM: selftests${T:+ matching '$T'}"
BUILD=$build KVER=$KVER "$src/tools/vmtest/vm.sh" check $T

step "results"
echo "make check took $(( $(date +%s) - start ))s"
"$src/tools/vmtest/report.sh" "$build/vm/results" "$host" | tee "$build/report.txt"
rc=${PIPESTATUS[0]}
tail -n 1 "$build/report.txt" > "$build/summary"
exit $rc
