#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A migration channel killed mid-stream (Documentation/migration.rst,
# "Failures"): pcopy send migrates a paused minivm's memory file and device
# state to pcopy recv in another network namespace, over a veth pair slowed
# down with tc netem; once the destination holds 15% of the pages,
# one of its TCP connections is destroyed with "ss -K".  pcopy has no recovery: both ends must fail
# cleanly, and no page may be half-written.
#
#   source netns:       pcopy send --mem-file F --state-file S
#   destination netns:  pcopy recv --mem-out -> minivm --incoming (UFFD handoff)
#
# The source is a file (ctltest pause, export, memfd-dump of a minivm whose
# "seq --fill 1024" workload rewrote every page of its region whole), so
# the source memory is fixed and the script works the same with or
# without pcopy.ko.
#
# Checks, one PASS/FAIL line each; exit 0 only if all pass:
#   - the kill found its connection(s) and destroyed them;
#   - pcopy send exits 1 (within EXIT_TIMEOUT s of the kill), and its
#     stderr has exactly one error line, which names a connection;
#   - pcopy recv exits 1 likewise, with exactly one error line naming a
#     connection (its own, or the source's, "the source failed: ...");
#   - no page is half-written: every 4 KiB page of recv's --mem-out file,
#     and of the destination VM's RAM (ctltest memfd-dump), is entirely
#     zero (never placed) or byte for byte the source's page; pages that
#     are zero in the source are ambiguous and counted apart;
#   - the kill was mid-stream: --mem-out already held pages when the
#     connection was killed, and not every page arrived in the end.
#
# Environment (defaults in brackets):
#   MEM [16 MiB] VCPUS [2] CHANNELS [4] PORT [7900 + random]
#   NETEM_RATE [5mbit] NETEM_DELAY []: tc netem on both ends of the veth
#     (without sch_netem, as on the build host, tbf at NETEM_RATE)
#   PCOPY_SLOWDOWN [1]: the kernel runs the migration this many times slower
#     than Debian's (the debug lane, Documentation/debug-kernel.rst): the
#     default NETEM_RATE is divided by it, so that the kill is mid-stream
#   KILL_AT_PCT [5]: the kill comes when --mem-out holds this share of
#     the pages (polled every 20 ms once every connection is established):
#     tied to progress, not to a delay, so that a loaded machine, where the
#     script itself runs late, still kills mid-stream.  Listing the
#     connections and choosing the victim between the threshold and ss -K
#     took 3-6 s in the 6.12 guest (900-1800 of the 4096 pages at
#     10 Mbit/s, now 5): at 15 % of 10 Mbit/s the stream had ended by then
#   KILL_AFTER_MS: kill this long after the connections are up instead
#   NICE [10]: pcopy and minivm run under nice -n NICE, so that the
#     script's polling and ss are not starved by them on a 2-CPU guest
#   KILL [one]: one (the bulk connection that has sent the most) or all
#     (every connection of the migration)
#   KILL_SIDE [src]: src (ss -K in the source namespace) or dst (in the
#     destination namespace)
#   EXIT_TIMEOUT [90 s]: how long each end may take to exit after the kill
#   SEND_OPTS, RECV_OPTS: extra options
#   KEEP=1: keep the work directory; OUT=DIR: copy the logs there.
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
PCOPY=$src/agent/pcopy
MINIVM=$src/tools/minivm/minivm
CTL=$src/tools/minivm/ctltest

MEM=${MEM:-16}
VCPUS=${VCPUS:-2}
CHANNELS=${CHANNELS:-4}
if [ "${PCOPY_SLOWDOWN:-1}" -gt 1 ]; then
	NETEM_RATE=${NETEM_RATE-$((5000 / PCOPY_SLOWDOWN))kbit}
else
	NETEM_RATE=${NETEM_RATE-5mbit}
fi
NETEM_DELAY=${NETEM_DELAY:-}
KILL_AT_PCT=${KILL_AT_PCT:-5}
KILL_AFTER_MS=${KILL_AFTER_MS:-}
NICE=${NICE:-10}
KILL=${KILL:-one}
KILL_SIDE=${KILL_SIDE:-src}
EXIT_TIMEOUT=${EXIT_TIMEOUT:-90}
SEND_OPTS=${SEND_OPTS:-}
RECV_OPTS=${RECV_OPTS:-}

MIG_NAME=migrate-kill
MIG_SAVE="*.log *.txt"
. "$src/tools/migrate-lib.sh"
mig_names k 7900 10.214.0

die() { echo "FAIL: $*"; fails=$((fails + 1)); exit 1; }
note() { echo "migrate-kill: $*"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Is process $1 still running (a zombie is not)?
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in
	Z* | X* | "") return 1 ;;
	esac
	return 0
}

# Wait up to $2 s for background process $1; sets $st to its exit status,
# or to "hung" (and kills it) if it did not exit in time.
wait_bounded() {
	i=0
	while alive "$1"; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 10)) ]; then
			kill -9 "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			st=hung
			return 1
		fi
		sleep 0.1
	done
	st=0
	wait "$1" || st=$?
	return 0
}

# The migration's established TCP connections, seen from $KILL_SIDE:
# one "LOCAL_PORT REMOTE_PORT BYTES_SENT" line each.
conns() {
	if [ "$KILL_SIDE" = dst ]; then
		filt="src $IP_D sport = :$PORT"
		ns=$NS_D
	else
		filt="dst $IP_D dport = :$PORT"
		ns=$NS_S
	fi
	ip netns exec "$ns" ss -Htni state established "$filt" 2>/dev/null | awk '
		function port(a) { sub(/.*:/, "", a); return a }
		/^[0-9]/ || /^ESTAB/ {
			if (l != "") print l, r, b
			# with a state filter, ss omits the State column
			n = ($1 ~ /^[0-9]+$/) ? 3 : 4
			l = port($n); r = port($(n + 1)); b = 0; next
		}
		{ if (match($0, /bytes_sent:[0-9]+/)) b = substr($0, RSTART + 11, RLENGTH - 11) }
		END { if (l != "") print l, r, b }'
}

# Kill connections with ss -K: $1 is a filter of ss ("" for every one).
ss_kill() {
	if [ "$KILL_SIDE" = dst ]; then
		ip netns exec "$NS_D" ss -Ktn state established src "$IP_D" sport = ":$PORT" $1
	else
		ip netns exec "$NS_S" ss -Ktn state established dst "$IP_D" dport = ":$PORT" $1
	fi
}

# Classify the lines of a pcopy stderr log: progress lines and known
# informational notes are set aside; the rest are error lines.
error_lines() {
	grep -v -E '^pcopy: (send|recv): .*ETA ' "$1" |
		grep -v -E '^pcopy: send: switchover: source paused for ' |
		grep -v -E 'faults are read from the userfaultfd|no dirty-page tracking|migrating postcopy-only|the destination VM runs without the pages it lacks|the source VM (was resumed|stays paused)|^pcopy: (send|recv): pcopy\.ko'
}

# $1 the side, $2 its stderr log: exactly one error line, naming a connection.
check_error_line() {
	error_lines "$2" >"$T/$1-errors.txt"
	n=$(grep -c '' "$T/$1-errors.txt")
	line=$(head -n 1 "$T/$1-errors.txt")
	if [ "$n" != 1 ]; then
		fail "pcopy $1 printed $n error lines, expected one"
		sed "s/^/  $1 error line: /" "$T/$1-errors.txt"
	elif echo "$line" | grep -q -E '(bulk [0-9]+|urgent|control)(:| )|connection|channel'; then
		pass "pcopy $1's error line names the connection: \"$line\""
	else
		fail "pcopy $1's error line does not name a connection: \"$line\""
	fi
}

# Compare, page by page, the source memory $1 with the received image $2
# and, if given, the destination VM's RAM $3.  Prints "key value" lines.
compare_pages() {
	perl -e '
use strict;
my $P = 4096;
my ($srcf, $outf, $ramf) = @ARGV;
my (%n, @bad);
my $zero = "\0" x $P;
open(my $S, "<:raw", $srcf) or die "$srcf: $!\n";
open(my $O, "<:raw", $outf) or die "$outf: $!\n";
my $R;
if (defined $ramf) { open($R, "<:raw", $ramf) or die "$ramf: $!\n"; }
$n{$_} = 0 for qw(pages src_zero out_placed out_unplaced out_ambiguous out_bad
		  ram_placed ram_unplaced ram_ambiguous ram_bad ram_not_in_out size_bad);
sub describe {
	my ($what, $p, $s, $x) = @_;
	my ($first, $last, $cnt) = (-1, -1, 0);
	for my $i (0 .. $P - 1) {
		next if substr($s, $i, 1) eq substr($x, $i, 1);
		$first = $i if $first < 0;
		$last = $i;
		$cnt++;
	}
	# a torn page: the received bytes match the source where they are
	# not zero, and are zero elsewhere
	my $torn = 1;
	for my $i (0 .. $P - 1) {
		my $c = substr($x, $i, 1);
		if ($c ne "\0" && $c ne substr($s, $i, 1)) { $torn = 0; last; }
	}
	return sprintf("%s page %d (offset 0x%x): %d bytes differ, from byte %d to %d%s",
		       $what, $p, $p * $P, $cnt, $first, $last,
		       $torn ? "; a prefix/part of the source page, rest zero: HALF-WRITTEN" : "");
}
for (my $p = 0; ; $p++) {
	my $a = read($S, my $s, $P);
	my $b = read($O, my $o, $P);
	my $c = defined $R ? read($R, my $r, $P) : 0;
	last if !$a && !$b && !$c;
	if ($a != $P || $b != $P || (defined $R && $c != $P)) {
		$n{size_bad}++;
		last;
	}
	$n{pages}++;
	my $sz = $s eq $zero;
	$n{src_zero}++ if $sz;
	if ($o eq $zero) {
		$n{$sz ? "out_ambiguous" : "out_unplaced"}++;
	} elsif ($o eq $s) {
		$n{out_placed}++;
	} else {
		$n{out_bad}++;
		push @bad, describe("--mem-out", $p, $s, $o) if @bad < 20;
	}
	next unless defined $R;
	if ($r eq $zero) {
		$n{$sz ? "ram_ambiguous" : "ram_unplaced"}++;
	} elsif ($r eq $s) {
		$n{ram_placed}++;
		$n{ram_not_in_out}++ if $o eq $zero;
	} else {
		$n{ram_bad}++;
		push @bad, describe("RAM", $p, $s, $r) if @bad < 20;
	}
}
print "$_ $n{$_}\n" for sort keys %n;
print "bad $_\n" for @bad;
' "$@"
}

[ "$(id -u)" = 0 ] || die "needs root (namespaces, /dev/kvm)"
[ -c /dev/kvm ] || die "no /dev/kvm"
for b in "$PCOPY" "$MINIVM" "$CTL"; do
	[ -x "$b" ] || die "$b is missing: build first (make agent tools)"
done
for c in ip ss tc perl; do
	command -v $c >/dev/null || die "$c is missing"
done
case $KILL in one | all) ;; *) die "KILL must be one or all" ;; esac
case $KILL_SIDE in src | dst) ;; *) die "KILL_SIDE must be src or dst" ;; esac

T=$(mktemp -d /tmp/pcopy-kill.XXXXXX) || die "mktemp"
# --mem-out on a tmpfs of this kernel's own: the test VM's root is 9p, where
# the blocks of a file that another process writes are seen late, and the
# kill is timed by them
OUTD=$T
mkdir "$T/out" && mount -t tmpfs -o size=$((MEM * 2 + 8))m pcopy-kill "$T/out" 2>/dev/null &&
	OUTD=$T/out MIG_UMOUNT=$T/out

# ---- the source: a paused minivm's memory file and device state ----
# seq --fill 1024 rewrites every page of the region whole, so a page that
# arrived in part cannot pass for the source's
nice -n "$NICE" "$MINIVM" --mem "$MEM" --vcpus "$VCPUS" --workload seq --fill 1024 --dirty-ring 0 \
	--control "$T/src.sock" --quiet --json >"$T/src.json" 2>"$T/src.log" &
src_pid=$!
pids="$pids $src_pid"
wait_sock "$T/src.sock" 600 || die "source minivm did not start: $(cat "$T/src.log")"
timeout 300 "$CTL" "$T/src.sock" wait finished 290 >/dev/null ||
	die "the source minivm did not finish its workload: $(tail -n 2 "$T/src.log")"
timeout 60 "$CTL" "$T/src.sock" pause >/dev/null || die "cannot pause the source"
timeout 60 "$CTL" "$T/src.sock" export "$T/state.bin" >/dev/null || die "cannot export the source's state"
timeout 60 "$CTL" "$T/src.sock" memfd-dump "$T/src-mem.bin" >/dev/null || die "memfd-dump of the source failed"
timeout 30 "$CTL" "$T/src.sock" quit >/dev/null 2>&1
wait_bounded "$src_pid" 30

# ---- the network: two namespaces and a veth pair, slowed down ----
# (the kernel's own module autoload may not see modprobe: load them here)
# (tcp_diag: without it ss reads /proc/net/tcp, which ss -K cannot act on)
modprobe veth 2>/dev/null
modprobe tcp_diag 2>/dev/null
[ -n "$NETEM_DELAY$NETEM_RATE" ] && modprobe sch_netem 2>/dev/null
mig_netns_up
if [ -n "$NETEM_DELAY$NETEM_RATE" ]; then
	qdisc="netem ${NETEM_DELAY:+delay $NETEM_DELAY} ${NETEM_RATE:+rate $NETEM_RATE}"
	if ! ip netns exec "$NS_S" tc qdisc add dev "$VETH_S" root $qdisc 2>"$T/tc.log"; then
		# a kernel without sch_netem (the build host): tbf limits the
		# rate as well, but cannot add a delay
		[ -z "$NETEM_DELAY" ] ||
			die "tc $qdisc: $(cat "$T/tc.log") (no sch_netem on this kernel?)"
		note "no netem here ($(cat "$T/tc.log")): using tbf"
		qdisc="tbf rate $NETEM_RATE burst 64kb latency 200ms"
		ip netns exec "$NS_S" tc qdisc add dev "$VETH_S" root $qdisc 2>"$T/tc.log" ||
			die "tc $qdisc: $(cat "$T/tc.log")"
	fi
	ip netns exec "$NS_D" tc qdisc add dev "$VETH_D" root $qdisc 2>"$T/tc.log" ||
		die "tc $qdisc: $(cat "$T/tc.log")"
	note "on both ends of the veth: $qdisc"
fi

# ---- destination: pcopy recv, then the incoming minivm ----
# pcopy recv connects to --vmm-control once, right after the VMM's uffd
# handoff, and minivm hands its uffd over before it listens on its control
# socket: recv can lose that race ("cannot connect to the VMM control
# socket ...: Connection refused" or "No such file or directory").  That
# is a setup failure, not what this script tests: start again, up to 3
# times, and say so.
try=1
while :; do
	rm -f "$T/uffd.sock" "$T/dst.sock"
	ip netns exec "$NS_D" nice -n "$NICE" "$PCOPY" recv --listen "$IP_D:$PORT" --uffd-sock "$T/uffd.sock" \
		--vmm-control "$T/dst.sock" --mem-out "$OUTD/mem-out.bin" --timeout 120 $RECV_OPTS -j \
		>"$T/recv.json" 2>"$T/recv.log" &
	recv_pid=$!
	pids="$pids $recv_pid"
	wait_sock "$T/uffd.sock" 600 || die "pcopy recv did not listen: $(cat "$T/recv.log")"
	ip netns exec "$NS_D" nice -n "$NICE" "$MINIVM" --mem "$MEM" --vcpus "$VCPUS" --incoming "$T/uffd.sock" \
		--control "$T/dst.sock" --quiet --json >"$T/dst.json" 2>"$T/dst.log" &
	dst_pid=$!
	pids="$pids $dst_pid"
	wait_sock "$T/dst.sock" 600 || die "destination minivm did not start: $(cat "$T/dst.log")"
	# recv connects within milliseconds of the handoff, or fails
	sleep 1
	alive "$recv_pid" && break
	wait_bounded "$recv_pid" 1
	grep -q "cannot connect to the VMM control socket" "$T/recv.log" && [ $try -lt 3 ] ||
		die "pcopy recv exited $st before the migration: $(cat "$T/recv.log")"
	note "setup race, try $try: $(cat "$T/recv.log"); starting the destination again"
	kill "$dst_pid" 2>/dev/null
	wait_bounded "$dst_pid" 10
	try=$((try + 1))
done

# ---- the migration, and the kill ----
ip netns exec "$NS_S" nice -n "$NICE" "$PCOPY" send --to "$IP_D:$PORT" \
	--mem-file "$T/src-mem.bin" --state-file "$T/state.bin" \
	--channels "$CHANNELS" $SEND_OPTS -j >"$T/send.json" 2>"$T/send.log" &
send_pid=$!
pids="$pids $send_pid"
t_start=$(now_ms)

# every connection (control, urgent, the bulk channels) established
want=$((CHANNELS + 2))
i=0
while :; do
	conns >"$T/conns.txt"
	[ "$(grep -c '' "$T/conns.txt")" -ge "$want" ] && break
	i=$((i + 1))
	if [ $i -gt 600 ] || ! alive "$send_pid"; then
		cat "$T/conns.txt"
		die "the migration's $want connections were not established (send: $(tail -n 1 "$T/send.log"); recv: $(tail -n 1 "$T/recv.log"))"
	fi
	sleep 0.05
done
t_conn=$(now_ms)
if [ -n "$KILL_AFTER_MS" ]; then
	sleep "$(awk -v ms="$KILL_AFTER_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
else
	# --mem-out is sparse: its allocated blocks are the pages placed
	kill_at=$((MEM * 256 * KILL_AT_PCT / 100))
	i=0
	while [ $(($(stat -c %b "$OUTD/mem-out.bin") / 8)) -lt "$kill_at" ]; do
		i=$((i + 1))
		if [ $i -gt 15000 ] || ! alive "$send_pid"; then
			die "--mem-out never held $kill_at pages (send: $(tail -n 1 "$T/send.log"); recv: $(tail -n 1 "$T/recv.log"))"
		fi
		sleep 0.02
	done
fi

conns >"$T/conns.txt"
sed 's/^/  connection: local port, remote port, bytes sent: /' "$T/conns.txt"
if [ "$KILL" = one ]; then
	# the bulk channel that has sent the most: control and urgent carry
	# little here (and the destination sends only on control)
	if [ "$KILL_SIDE" = dst ]; then
		# the same choice, by what the source has sent on each
		# connection; the destination names it by the source's port
		victim=$(KILL_SIDE=src conns | sort -k3,3n | tail -n 1)
		filter="dport = :${victim%% *}"
	else
		victim=$(sort -k3,3n "$T/conns.txt" | tail -n 1)
		filter="sport = :${victim%% *}"
	fi
	# (no byte counts: ss read /proc/net/tcp, and ss -K would do nothing)
	[ -n "$victim" ] && [ "${victim##* }" != 0 ] ||
		die "no connection has sent anything by the kill (ss without tcp_diag?): $victim"
	victim=${victim%% *}
	what="the busiest bulk connection (source port $victim)"
else
	filter=
	what="every connection of the migration"
fi
blocks_at_kill=$(stat -c %b "$OUTD/mem-out.bin")
t_kill=$(now_ms)
ss_kill "$filter" >"$T/ss-kill.txt" 2>&1
note "killed $what from the $KILL_SIDE side with ss -K, $((t_kill - t_conn)) ms after the connections were up" \
	"($((t_kill - t_start)) ms after pcopy send started); --mem-out held $((blocks_at_kill / 8)) pages then"
# a destroyed socket is closed at once: what is still established survived
killed=$(grep -c -E '^(ESTAB|[0-9])' "$T/ss-kill.txt")
conns >"$T/conns-after.txt"
if [ "$KILL" = one ]; then
	left=$(awk -v v="$victim" -v s="$KILL_SIDE" '(s == "dst" ? $2 : $1) == v' "$T/conns-after.txt" | grep -c '')
	[ "$killed" = 1 ] && [ "$left" = 0 ] && pass "ss -K destroyed one connection" ||
		fail "ss -K destroyed $killed connections, expected one, and $left still established: $(cat "$T/ss-kill.txt")"
else
	left=$(grep -c '' "$T/conns-after.txt")
	[ "$killed" -ge "$want" ] && [ "$left" = 0 ] && pass "ss -K destroyed $killed connections" ||
		fail "ss -K destroyed $killed connections, expected $want, and $left still established: $(cat "$T/ss-kill.txt")"
fi

# ---- both ends must give up, each within EXIT_TIMEOUT s ----
wait_bounded "$send_pid" "$EXIT_TIMEOUT"
rc=$st
t_send=$(now_ms)
wait_bounded "$recv_pid" "$EXIT_TIMEOUT"
rrc=$st
t_recv=$(now_ms)
sed 's/^/  send: /' "$T/send.log"
sed 's/^/  recv: /' "$T/recv.log"
note "pcopy send ended $((t_send - t_kill)) ms after the kill, pcopy recv $((t_recv - t_kill)) ms"
[ "$rc" = 1 ] && pass "pcopy send exited 1" || fail "pcopy send exited $rc, expected 1"
check_error_line send "$T/send.log"
[ "$rrc" = 1 ] && pass "pcopy recv exited 1" || fail "pcopy recv exited $rrc, expected 1"
check_error_line recv "$T/recv.log"
[ -s "$T/send.json" ] && fail "pcopy send printed a summary on stdout after failing"
[ -s "$T/recv.json" ] && fail "pcopy recv printed a summary on stdout after failing"

# ---- the destination VM: its RAM as it stands, then stop it ----
# (it was resumed and keeps waiting on the pages it lacks)
timeout 60 "$CTL" "$T/dst.sock" memfd-dump "$T/dst-mem.bin" >/dev/null 2>"$T/dst-dump.log" ||
	{ note "memfd-dump of the destination failed: $(cat "$T/dst-dump.log")"; rm -f "$T/dst-mem.bin"; }
timeout 10 "$CTL" "$T/dst.sock" quit >/dev/null 2>&1
wait_bounded "$dst_pid" 10 || note "the destination minivm did not quit (its vCPUs wait on faults): killed"

# ---- no page half-written, and the kill was mid-stream ----
if [ -f "$T/dst-mem.bin" ]; then
	compare_pages "$T/src-mem.bin" "$OUTD/mem-out.bin" "$T/dst-mem.bin" >"$T/compare.txt"
else
	compare_pages "$T/src-mem.bin" "$OUTD/mem-out.bin" >"$T/compare.txt"
fi
v() { awk -v k="$1" '$1 == k { print $2 }' "$T/compare.txt"; }
pages=$(v pages)
src_zero=$(v src_zero)
nonzero=$((${pages:-0} - ${src_zero:-0}))
grep '^bad ' "$T/compare.txt" | sed 's/^bad /  /'
if [ "$(v size_bad)" != 0 ] || [ "$pages" != $((MEM * 256)) ]; then
	fail "--mem-out is not the size of the source memory ($(stat -c %s "$OUTD/mem-out.bin") bytes, source $(stat -c %s "$T/src-mem.bin"))"
elif [ "$(v out_bad)" = 0 ]; then
	pass "no page half-written in --mem-out: $(v out_placed) pages equal the source's, $(v out_unplaced) never placed (zero)," \
		"$(v out_ambiguous) zero in both (ambiguous) of $pages"
else
	fail "$(v out_bad) pages of --mem-out are neither zero nor the source's"
fi
if [ -f "$T/dst-mem.bin" ]; then
	if [ "$(v ram_bad)" = 0 ]; then
		pass "no page half-written in the destination VM's RAM: $(v ram_placed) pages equal the source's," \
			"$(v ram_unplaced) never placed (zero), $(v ram_ambiguous) zero in both (ambiguous)"
	else
		fail "$(v ram_bad) pages of the destination VM's RAM are neither zero nor the source's"
	fi
	[ "$(v ram_not_in_out)" = 0 ] ||
		note "$(v ram_not_in_out) pages are in the destination's RAM but not in --mem-out"
else
	fail "no dump of the destination VM's RAM"
fi

placed=$(v out_placed)
if [ "$blocks_at_kill" -gt 0 ] && [ "${placed:-0}" -lt "$nonzero" ]; then
	pass "killed mid-stream: --mem-out held $((blocks_at_kill / 8)) pages at the kill, $placed of the source's $nonzero non-zero pages in the end"
else
	fail "not killed mid-stream: --mem-out held $((blocks_at_kill / 8)) pages at the kill, $placed of the source's $nonzero non-zero pages in the end" \
		"(adjust KILL_AT_PCT or NETEM_RATE)"
fi

if [ "$fails" = 0 ]; then
	note "PASS"
	exit 0
fi
note "FAIL ($fails checks failed)"
exit 1
