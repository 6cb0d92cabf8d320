#!/bin/sh
# The main job of "make demo", run inside the test VM with kvm, kvm_amd and
# pcopy.ko loaded.  Until the migration data plane lands it shows what the
# module reports about itself.
src=${PCOPY_SRC:-$(cd "$(dirname "$0")/.." && pwd)}

echo "== pcopy status"
"$src/agent/pcopy" status || exit 1
echo
echo "== pcopy -j status"
"$src/agent/pcopy" -j status || exit 1
echo
echo "== /sys/kernel/debug/pcopy/status"
cat /sys/kernel/debug/pcopy/status
