#!/bin/bash
# Body of "make check" once the packages are installed: for each kernel lane
# of KERNELS, build, lint, run the selftests in the VM; then print every
# result and one summary line, counting all lanes, last.
#
# Lanes (Documentation/testing.rst):
#   6.1   Debian 12's kernel with the host's root: the main tree's build,
#         plus the host-side tests (the build machine's own kernel: [host])
#   6.12  Debian 13's kernel with a trixie rootfs (tools/trixie/lane.sh),
#         plus compile checks of kmod/ against three 6.12 header flavours
# Environment: BUILD, KVER, T, KERNELS (from the Makefile); VMTEST_LOCK=FILE
# makes every VM boot wait for flock(FILE), so that runs sharing a machine
# take turns (unset: no lock; do not set it when the whole "make check"
# already runs under "flock FILE": the inner lock would wait forever).
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
kernels=${KERNELS:-6.1 6.12}
# with_lock CMD...: run CMD under the VM lock, if there is one
with_lock() {
	if [ -n "${VMTEST_LOCK:-}" ]; then
		flock "$VMTEST_LOCK" "$@"
	else
		"$@"
	fi
}
mkdir -p "$build"
start=$(date +%s)
reports=

step() { echo "== $* ($(( $(date +%s) - start ))s)"; }

for k in $kernels; do
	case $k in
	6.1|6.12) ;;
	*) echo "check: unknown kernel lane '$k' (KERNELS takes 6.1 and 6.12)"
	   echo "0 passed, 1 failed" | tee "$build/summary"
	   exit 1 ;;
	esac
done

# Host-side tests: what needs no pcopy.ko runs on the build machine too.
host_test() {	# NAME LOG COMMAND...
	local name=$1 log=$2
	shift 2
	if "$@" > "$log" 2>&1; then
		echo "PASS $name" >> "$hostres"
	else
		echo "FAIL $name (log: $log)" >> "$hostres"
		tail -n 30 "$log"
	fi
}

lane_6_1() {
	local res=$build/lane-6.1-results rc
	hostres=$build/host-results
	: > "$res"
	: > "$hostres"
	step "[6.1] build"
	if make -C "$src" all > "$build/build.log" 2>&1; then
		echo "PASS build: pcopy.ko for $KVER, agent, selftests and minivm" >> "$res"
	else
		echo "FAIL build (log: $build/build.log)" >> "$res"
		tail -n 60 "$build/build.log"
		LANE=6.1 "$src/tools/vmtest/report.sh" /nonexistent "$res" > "$build/report-6.1.txt"
		reports="$reports $build/report-6.1.txt"
		return
	fi

	if [ -z "$T" ]; then
		step "[6.1] lint (checkpatch, sparse)"
		if make -C "$src" -s lint > "$build/lint.log" 2>&1; then
			echo "PASS lint: checkpatch and sparse clean on kmod/" >> "$res"
		else
			echo "FAIL lint: checkpatch or sparse reported problems" >> "$res"
			cat "$build/lint.log"
		fi
	fi

	if [ -z "$T" ] || [[ " $T " == *" host "* ]]; then
		step "[host] host tests"
		host_test "agent: QEMU-compatible stats output (selftests/stats_fmt_test)" \
			"$build/host-stats-fmt.log" "$src/selftests/stats_fmt_test"
		host_test "pcopy report --plot: every data point of a known recording where plot.h puts it (selftests/plot_test)" \
			"$build/host-plot.log" env PCOPY_SRC="$src" "$src/selftests/plot_test"
		host_test "YNL spec in sync with uapi/pcopy.h and the policy (tools/ynl/check-spec.py)" \
			"$build/host-ynl-spec.log" /usr/bin/python3 "$src/tools/ynl/check-spec.py"
		host_test "Debian packages: dpkg-buildpackage, lintian, contents (tools/deb-test.sh)" \
			"$build/host-deb.log" env DEB_OUT="$build/debs" "$src/tools/deb-test.sh"
		host_test "make install, modules_install, man pages, completion, htmldocs (tools/install-test.sh)" \
			"$build/host-install.log" env BUILD="$build" "$src/tools/install-test.sh"
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
			echo "SKIP minivm smoke test and live migration (no /dev/kvm on this machine)" >> "$hostres"
		fi
	fi

	# DKMS installs into this machine's /lib/modules, which the VM shares:
	# selftests/dkms_test modprobes what it installed, then it is removed
	dkms=
	if [ -z "$T" ] || [[ " $T " == *dkms* ]]; then
		dkms=1
		step "[host] DKMS install for $KVER"
		host_test "DKMS: make dkms-install builds and installs pcopy.ko for $KVER (tools/dkms-test.sh)" \
			"$build/host-dkms-install.log" env KVER="$KVER" "$src/tools/dkms-test.sh" install
	fi

	step "[6.1] VM: selftests${T:+ matching '$T'}"
	# shellcheck disable=SC2086
	with_lock env BUILD="$build" KVER="$KVER" "$src/tools/vmtest/vm.sh" check $T 2> "$build/vm.err"
	rc=$?
	if [ -n "$dkms" ]; then
		host_test "DKMS: make dkms-remove leaves nothing (tools/dkms-test.sh)" \
			"$build/host-dkms-remove.log" env KVER="$KVER" "$src/tools/dkms-test.sh" remove
	fi
	# the .debs deb-test.sh kept, on a clean Debian 12 rootfs booted in the
	# VM of its own (it takes the VM lock itself)
	if [ -z "$T" ] || [[ " $T " == *" host "* ]]; then
		step "[host] the packages in a clean Debian 12 rootfs, booted in the VM"
		host_test "Debian packages in a clean Debian 12 rootfs: apt install, DKMS, modprobe and pcopy status in the VM, purge (tools/debroot/test.sh)" \
			"$build/host-debroot.log" "$src/tools/debroot/test.sh" "$build/debs" "$build/debroot"
	fi
	cat "$build/vm.err" >&2
	# vm.sh fails only before booting (no kernel, no initramfs): say why
	[ "$rc" = 0 ] || echo "FAIL vm: $(tail -n 1 "$build/vm.err")" >> "$res"
	LANE=6.1 "$src/tools/vmtest/report.sh" "$build/vm/results" "$res" > "$build/report-6.1.txt"
	reports="$reports $build/report-6.1.txt"
	# the host tests, the DKMS ones around the VM included
	if [ -s "$hostres" ]; then
		LANE=host "$src/tools/vmtest/report.sh" /nonexistent "$hostres" > "$build/report-host.txt"
		reports="$reports $build/report-host.txt"
	fi
}

lane_6_12() {
	# shellcheck disable=SC2086
	"$src/tools/trixie/lane.sh" "$build/lane-6.12" $T
	reports="$reports $build/lane-6.12/report.txt"
}

for k in $kernels; do
	"lane_${k//./_}"
done

step "results"
echo "make check took $(( $(date +%s) - start ))s"
# Each lane's report ends with its own "[lane] N passed, N failed[, N
# skipped]"; the last line adds them up.
pass=0 fail=0 skip=0
for r in $reports; do
	cat "$r"
	s=$(tail -n 1 "$r")
	p=$(echo "$s" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$s" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
	k=$(echo "$s" | sed -n 's/.* \([0-9][0-9]*\) skipped.*/\1/p')
	if [ -z "$p" ] || [ -z "$f" ]; then
		echo "FAIL report $r has no summary line"
		fail=$((fail + 1))
		continue
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + ${k:-0}))
done > "$build/report.txt"
summary="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary" >> "$build/report.txt"
cat "$build/report.txt"
echo "$summary" > "$build/summary"
[ "$fail" = 0 ]
