#!/bin/sh
# The main job of "make demo", run inside the test VM with kvm, kvm_amd and
# pcopy.ko loaded: a running minivm guest is live-migrated between two
# network namespaces joined by veth, with precopy rounds driven by the dirty
# GFNs pcopy.ko harvests, then postcopy; pcopy.ko tracks both VMMs.  The
# guest finishes its workload on the destination and its memory checksums
# are compared with an unmigrated run (tools/migrate-e2e.sh does the work).
src=${PCOPY_SRC:-$(cd "$(dirname "$0")/.." && pwd)}

echo "== pcopy status"
"$src/agent/pcopy" status || exit 1
echo
echo "== live migration of a running minivm guest: netns src -> netns dst"
echo "   (2 vCPUs, 32 MiB, random writes; 2 ms / 500 Mbit/s link; 4 bulk channels)"
echo
DEMO=1 MEM=32 COUNT=20000 RATE=2000 NETEM_DELAY=2ms NETEM_RATE=500mbit \
	sh "$src/tools/migrate-e2e.sh"
