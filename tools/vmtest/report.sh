#!/bin/bash
# Turn the results share of a finished VM run into one line per test result
# and the final summary line.  Exit status: 0 only if nothing failed.
#
# Every kselftest result line counts ("ok", "not ok", "ok ... # SKIP").  On
# top of that:
#   - a binary that exits non-zero or dies without reporting all of its plan
#     counts one failure for the missing results;
#   - every line of the guest's kernel log that reports a BUG, WARNING, Oops,
#     KASAN, KFENCE, lockdep or RCU splat or a "Call Trace" counts one
#     failure, and the kernel log from the first such line on is printed;
#   - every "unreferenced object" of a kmemleak report (results/kmemleak,
#     written by a guest whose kernel has kmemleak) counts one failure and
#     is printed whole, and so does a failed kmemleak teardown;
#   - a VM that timed out or crashed, or a guest that could not be set up,
#     counts one failure with its one-line reason.
# usage: report.sh RESULTS_DIR [EXTRA_RESULTS_FILE]
# EXTRA_RESULTS_FILE holds host-side results as "PASS name" / "FAIL name".
# With LANE set (a kernel lane: 6.1, 6.12), every line says it:
# "PASS [6.12] fault_test: ...", and so does the summary.
res=$1
extra=${2:-}
tag=${LANE:+[$LANE] }
pass=0 fail=0 skip=0

result() {	# STATUS NAME
	case $1 in
	PASS) pass=$((pass + 1)) ;;
	FAIL) fail=$((fail + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	esac
	printf '%-4s %s%s\n' "$1" "$tag" "$2"
}

# kernel log lines of a report (KFENCE, DEBUG_LIST, DEBUG_OBJECTS,
# DEBUG_ATOMIC_SLEEP, lockdep and PROVE_RCU print "BUG:" or "WARNING:" lines
# too; a bare "lockdep" would match the debug kernel's boot banner "RCU
# lockdep checking is enabled")
splat='BUG[: ]|WARNING:|Oops|KASAN|KFENCE|DEBUG_LOCKS_WARN_ON|lockdep is turned off|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|ODEBUG:|list_add corruption|list_del corruption|general protection fault|detected stall|Call Trace'

if [ -n "$extra" ] && [ -s "$extra" ]; then
	while read -r st name; do
		result "$st" "$name"
	done < "$extra"
fi

if [ -s "$res/setup-error" ]; then
	result FAIL "vm-setup: $(head -n 1 "$res/setup-error")"
	[ -s "$res/setup.log" ] && sed 's/^/    setup| /' "$res/setup.log"
fi

for t in $(cat "$res/tests" 2>/dev/null); do
	out=$res/$t.out
	rc=$(cat "$res/$t.rc" 2>/dev/null || echo missing)
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
	n=0 bad=0
	while IFS= read -r line; do
		case $line in
		"not ok "*)
			result FAIL "$t: ${line#not ok }"; bad=1 ;;
		"ok "*"# SKIP"*)
			result SKIP "$t: ${line#ok }" ;;
		"ok "*)
			result PASS "$t: ${line#ok }" ;;
		*) continue ;;
		esac
		n=$((n + 1))
	done < <(grep -E '^(not )?ok [0-9]+' "$out")
	if [ -n "$plan" ] && [ "$n" -lt "$plan" ]; then
		result FAIL "$t: only $n of $plan results reported (exit status $rc)"
		bad=1
	elif [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			result FAIL "$t: killed by the per-binary timeout"
		elif [ "$rc" != 4 ]; then
			result FAIL "$t: exited with status $rc"
		fi
		bad=1
	fi
	if [ "$bad" = 1 ]; then
		# the reasons first: a reader of a cut log sees them
		echo "---- why $t failed (assertions, FAIL lines) ----"
		grep -E ':Expected |FAIL|^not ok |TIMEOUT|timed out' "$out" | head -n 40
		echo "---- full output of $t ----"
		cat "$out"
		echo "---- end of $t ----"
	fi
done

if [ -e "$res/dmesg" ]; then
	while IFS= read -r line; do
		result FAIL "dmesg: $line"
	done < <(grep -E "$splat" "$res/dmesg")
	first=$(grep -n -m 1 -E "$splat" "$res/dmesg" | cut -d: -f1)
	if [ -n "$first" ]; then
		from=$(( first > 5 ? first - 5 : 1 ))
		echo "---- kernel log from line $from (whole log: $res/dmesg) ----"
		tail -n +"$from" "$res/dmesg" | head -n 3000
		echo "---- end of kernel log ----"
	fi
fi

# kmemleak: one failure per unreferenced object, each printed whole
if [ -s "$res/kmemleak-error" ]; then
	result FAIL "kmemleak: $(head -n 1 "$res/kmemleak-error")"
fi
if [ -e "$res/kmemleak" ]; then
	n=0
	while IFS= read -r line; do
		result FAIL "kmemleak: $line"
		n=$((n + 1))
	done < <(grep '^unreferenced object' "$res/kmemleak")
	if [ "$n" -gt 0 ]; then
		echo "---- kmemleak report ($n unreferenced objects) ----"
		cat "$res/kmemleak"
		echo "---- end of kmemleak report ----"
	else
		result PASS "kmemleak: no unreferenced object after rmmod pcopy and two scans"
	fi
fi

if [ -s "$res/vm-error" ]; then
	result FAIL "vm: $(head -n 1 "$res/vm-error")"
	[ -e "${res%/results}/console.log" ] && tail -n 40 "${res%/results}/console.log" | sed 's/^/    console| /'
fi

summary="$tag$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" = 0 ]
