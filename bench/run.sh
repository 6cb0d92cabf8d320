#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every pcopy benchmark, in order, each under a header; the body of
# "make bench", run as root inside the test VM (tools/vmtest/guest.sh) with
# kvm, kvm_amd and pcopy.ko loaded.  A benchmark is an executable in
# BENCHES below that exits 0 when it measured (whatever it found) and
# non-zero when it could not.  Exit status: the number of benchmarks that
# failed (0: all measured).
#
# To add a benchmark: put the script in bench/ and append its name here.
BENCHES="uffd_overhead.sh dirty_harvest.sh migration.sh"

src=${PCOPY_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
export PCOPY_SRC=$src
failed=0

echo "pcopy benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "kernel $(uname -r), $(nproc) cpus, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
for b in $BENCHES; do
	echo
	echo "################ $b"
	start=$(date +%s)
	"$src/bench/$b"
	rc=$?
	echo "################ $b: exit status $rc, $(( $(date +%s) - start ))s"
	[ "$rc" = 0 ] || failed=$((failed + 1))
done
exit "$failed"
