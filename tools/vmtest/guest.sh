#!/bin/sh
# Guest-side runner of the pcopy test VM, run by the initramfs' init inside
# a chroot of the host's root filesystem.  It loads kvm, kvm-amd and pcopy.ko,
# runs the job named in $VMTEST_RESULTS/params and leaves everything the host
# needs in $VMTEST_RESULTS:
#   setup.log         what loading the modules printed
#   tests             one "name" line per selftest binary run, in order
#   times             one "name milliseconds" line per selftest binary run
#   <name>.out        everything the binary printed (TAP)
#   <name>.rc         its exit status (124: killed by the per-binary timeout)
#   dmesg             the kernel log at the end
#   kmemleak          kmemleak's report after the tests, pcopy unloaded
#                     (only on a kernel with kmemleak, e.g. the debug lane)
#   kmemleak-error    a one-line reason if that teardown failed
#   setup-error       a one-line reason if the environment is unusable
#   demo.out, demo.rc the demo's output and exit status (demo mode)
#   bench.out, bench.rc  the benchmarks' output and exit status (bench mode)
#   debcheck.out, .rc, status.json  modprobe pcopy and pcopy status in a
#                     rootfs with the .debs installed (debcheck mode)
#   done              written last; its absence means the VM died
src=$VMTEST_SRC
res=$VMTEST_RESULTS
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PCOPY_SRC=$src
# a lane may boot a kernel pcopy.ko was built for elsewhere (PCOPY_KO=... on
# the kernel command line); the selftests load the same file
export PCOPY_KO=${PCOPY_KO:-$src/kmod/pcopy.ko}
. "$res/params"
cd "$src" || exit 1

say() { echo "vmtest: $*" > /dev/console; }

setup() {
	say "guest up, kernel $(uname -r), $(nproc) cpus"
	# no init system brings loopback up; tests talk over 127.0.0.1
	ip link set lo up
	for m in kvm kvm_amd; do
		# built in (a debug kernel) or already loaded: nothing to do
		[ -d /sys/module/$m ] && continue
		modprobe $m >> "$res/setup.log" 2>&1 ||
			{ echo "cannot load $m (see setup.log)" > "$res/setup-error"; return 1; }
	done
	[ -c /dev/kvm ] ||
		{ echo "no /dev/kvm in the guest: nested SVM unavailable (is -cpu max in use?)" > "$res/setup-error"; return 1; }
	kmemleak_start
	insmod "$PCOPY_KO" >> "$res/setup.log" 2>&1 ||
		{ echo "insmod pcopy.ko failed: $(tail -n 1 "$res/setup.log")" > "$res/setup-error"; return 1; }
	say "kvm, kvm_amd and pcopy loaded"
}

# kmemleak (a debug kernel): what boot left behind is not ours, so scan once
# before pcopy.ko is loaded and forget what that scan found; after the tests,
# unload pcopy.ko (its leaks become unreferenced only then) and scan twice,
# because kmemleak reports only objects older than 5 s and skips an object
# whose contents changed since the previous scan.
kmemleak=/sys/kernel/debug/kmemleak

kmemleak_start() {
	[ -w "$kmemleak" ] || return 0
	sleep 5
	echo scan > "$kmemleak"
	echo clear > "$kmemleak"
	say "kmemleak: boot-time objects scanned and cleared"
}

kmemleak_end() {
	[ -w "$kmemleak" ] || return 0
	if [ -d /sys/module/pcopy ]; then
		# a task stuck in pcopy.ko (a deadlock) makes rmmod hang for
		# good: give up on it after a minute so the run still reports
		rmmod pcopy > "$res/kmemleak-rmmod.log" 2>&1 &
		rmpid=$!
		i=0
		while kill -0 $rmpid 2>/dev/null && [ $i -lt 60 ]; do
			sleep 1
			i=$((i + 1))
		done
		if kill -0 $rmpid 2>/dev/null; then
			echo "rmmod pcopy after the tests hung for 60 s: no kmemleak scan" > "$res/kmemleak-error"
			say "kmemleak: rmmod pcopy hung, not scanning"
			return 0
		fi
		wait $rmpid ||
			echo "rmmod pcopy after the tests failed: $(tail -n 1 "$res/kmemleak-rmmod.log")" > "$res/kmemleak-error"
	fi
	echo scan > "$kmemleak"
	sleep 6
	echo scan > "$kmemleak"
	cat "$kmemleak" > "$res/kmemleak"
	say "kmemleak: $(grep -c '^unreferenced object' "$res/kmemleak") unreferenced objects"
}

# T=... on the host: run only the binaries whose name contains one of ARGS.
selected() {
	[ -z "$ARGS" ] && return 0
	for p in $ARGS; do
		case $1 in *"$p"*) return 0 ;; esac
	done
	return 1
}

run_tests() {
	timeout=${SELFTEST_TIMEOUT:-900}
	# a lane may run another list (SELFTEST_LIST=path on the command line)
	for t in $(cat "${SELFTEST_LIST:-$src/selftests/TESTS}"); do
		selected "$t" || continue
		say "running $t"
		echo "$t" >> "$res/tests"
		start=$(date +%s%3N)
		timeout -k 5 "$timeout" "$src/selftests/$t" > "$res/$t.out" 2>&1
		echo $? > "$res/$t.rc"
		ms=$(( $(date +%s%3N) - start ))
		echo "$t $ms" >> "$res/times"
		say "$t finished in $((ms / 1000)).$((ms % 1000 / 100))s: $(grep -c '^ok ' "$res/$t.out") ok, $(grep -c '^not ok ' "$res/$t.out") not ok"
	done
}

case $MODE in
check)
	setup && run_tests && kmemleak_end
	;;
demo)
	# the host streams demo.out live from the results share
	if setup; then
		"$src/tools/demo.sh" > "$res/demo.out" 2>&1
		echo $? > "$res/demo.rc"
	fi
	;;
bench)
	# the host streams bench.out live from the results share
	if setup; then
		"$src/bench/run.sh" > "$res/bench.out" 2>&1
		echo $? > "$res/bench.rc"
	fi
	;;
debcheck)
	# tools/debroot/test.sh: a clean rootfs with the .debs installed is the
	# root; its DKMS-built module and packaged pcopy, nothing of the tree
	{
		for m in kvm kvm_amd; do
			modprobe $m || echo "modprobe $m failed"
		done
		modprobe pcopy && echo "modprobe pcopy: ok"
		modinfo -n pcopy
		pcopy status
		pcopy -j status > "$res/status.json"
	} > "$res/debcheck.out" 2>&1
	echo $? > "$res/debcheck.rc"
	;;
run)
	# tools/vmtest/vm.sh run 'shell command': for debugging
	setup && sh -c "$ARGS" > "$res/run.out" 2>&1
	echo $? > "$res/run.rc"
	;;
*)
	echo "unknown mode $MODE" > "$res/setup-error"
	;;
esac

dmesg > "$res/dmesg"
sync
echo ok > "$res/done"
