#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make install", "make modules_install", the man pages, bash completion
# and "make htmldocs", used the way a user would (Documentation/install.rst):
#   - make install DESTDIR=... PREFIX=/usr installs exactly the agent, the
#     two man pages, the completion and the docs; make uninstall removes
#     every file again;
#   - the installed pcopy runs; man renders both pages with no warning;
#     pcopy(8) names every subcommand "pcopy --help" lists, pcopy.ko(4)
#     every module parameter modinfo reads from pcopy.ko and every
#     PCOPY_CMD_* of uapi/pcopy.h;
#   - the completion, sourced into bash, offers exactly the subcommands,
#     every long option each subcommand's getopt table has, pids for
#     track, commands after "run --", file names for report;
#   - make modules_install INSTALL_MOD_PATH=... puts pcopy.ko under
#     updates/, with KVER's vermagic;
#   - make htmldocs builds with Sphinx's warnings as errors.
# One PASS/FAIL line per check; exit 0 only if all pass.  Needs the tree
# built (make all).  Tracked pids are completed in the VM (agent_test).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/pcopy-install.XXXXXX)
trap 'rm -rf "$W"' EXIT
. "$src/tools/checklib.sh"
BUILD=${BUILD:-$src/build}
M="make -C $src BUILD=$BUILD"

# ---- make install ----
if $M install DESTDIR="$W/root" PREFIX=/usr >"$W/install.log" 2>&1; then
	pass "make install DESTDIR PREFIX=/usr"
else
	fail "make install: $(tail -n 3 "$W/install.log")"
fi
want=$(
	{
		echo usr/sbin/pcopy
		echo usr/libexec/pcopy/pcopy-exporter
		echo usr/libexec/pcopy/pcopy-plot
		echo usr/share/bash-completion/completions/pcopy
		echo usr/share/man/man4/pcopy.ko.4
		echo usr/share/man/man8/pcopy.8
		echo usr/share/ynl/specs/pcopy.yaml
		echo usr/share/doc/pcopy/README.md
		for f in "$src"/Documentation/*.rst; do
			echo "usr/share/doc/pcopy/${f##*/}"
		done
	} | sort
)
got=$(cd "$W/root" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
[ "$got" = "$want" ] && pass "installed files: exactly the $(echo "$want" | wc -l) expected" ||
	fail "installed files differ: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
[ "$(stat -c %a "$W/root/usr/sbin/pcopy" 2>/dev/null)" = 755 ] && pass "pcopy installed mode 755" ||
	fail "pcopy mode $(stat -c %a "$W/root/usr/sbin/pcopy" 2>&1)"
# pcopy loads no drawing or HTTP library: its helpers do (agent/helper.c)
needed=$(objdump -p "$W/root/usr/sbin/pcopy" 2>&1 | awk '$1 == "NEEDED" { print $2 }' | tr '\n' ' ')
case "$needed" in
*cairo* | *microhttpd* | "") fail "pcopy needs: $needed" ;;
*) pass "pcopy needs neither cairo nor libmicrohttpd: $needed" ;;
esac
for h in exporter plot; do
	f=$W/root/usr/libexec/pcopy/pcopy-$h
	[ "$(stat -c %a "$f" 2>/dev/null)" = 755 ] || fail "pcopy-$h: mode $(stat -c %a "$f" 2>&1)"
done
got=$("$W/root/usr/sbin/pcopy" exporter --help 2>&1)
[ "$got" = "usage: pcopy [-j] exporter --listen ADDR:PORT" ] &&
	pass "the installed pcopy runs its installed pcopy-exporter (exporter --help)" ||
	fail "installed pcopy exporter --help: $got"
cp "$W/root/usr/sbin/pcopy" "$W/alone"
got=$("$W/alone" exporter --help 2>&1)
[ "$got" = "pcopy: exporter: pcopy-exporter is in neither libexec/ nor ../libexec/pcopy/ beside $W (is pcopy installed whole?)" ] &&
	pass "a pcopy without its helpers says where it looked" ||
	fail "pcopy without helpers: $got"
rm -f "$W/alone"
v_inst=$("$W/root/usr/sbin/pcopy" --version 2>&1)
v_tree=$("$src/agent/pcopy" --version 2>&1)
[ -n "$v_inst" ] && [ "$v_inst" = "$v_tree" ] && pass "installed pcopy runs: $v_inst" ||
	fail "installed pcopy --version: '$v_inst', tree's '$v_tree'"

# ---- man pages ----
for p in man8/pcopy.8 man4/pcopy.ko.4; do
	f=$W/root/usr/share/man/$p
	w=$(MANWIDTH=100 man --warnings -l "$f" 2>&1 >"$W/${p##*/}.txt")
	if [ -n "$w" ]; then
		fail "man --warnings ${p##*/}: $w"
	elif [ "$(wc -l < "$W/${p##*/}.txt")" -lt 50 ]; then
		fail "${p##*/} renders to only $(wc -l < "$W/${p##*/}.txt") lines"
	else
		pass "man renders ${p##*/} ($(wc -l < "$W/${p##*/}.txt") lines) with no warning"
	fi
done
cmds=$("$src/agent/pcopy" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
missing=
for c in $cmds; do
	grep -q "pcopy $c\b" "$W/pcopy.8.txt" || missing="$missing $c"
done
[ -n "$cmds" ] && [ -z "$missing" ] && pass "pcopy(8) covers all $(echo $cmds | wc -w) subcommands" ||
	fail "pcopy(8) lacks subcommands:$missing"
ko=$src/kmod/pcopy.ko
params=$(modinfo -F parm "$ko" 2>/dev/null | cut -d: -f1)
ncmd=$(sed -n 's/^\t\(PCOPY_CMD_[A-Z_]*\),.*/\1/p' "$src/uapi/pcopy.h" | grep -v '_UNSPEC$' | sort -u)
missing=
# in the page's roff source: the rendered text hyphenates long names
for n in $params $ncmd; do
	grep -q -- "$n" "$W/root/usr/share/man/man4/pcopy.ko.4" || missing="$missing $n"
done
[ -n "$params" ] && [ -z "$missing" ] &&
	pass "pcopy.ko(4) covers the module parameters ($(echo $params)) and $(echo $ncmd | wc -w) commands" ||
	fail "pcopy.ko(4) lacks:$missing (parameters: $(echo $params))"

# ---- bash completion ----
# complete WORDS...: COMPREPLY for the last word, one per line, sorted
complete_words() {
	PATH="$W/root/usr/sbin:$PATH" bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_pcopy; printf "%s\n" "${COMPREPLY[@]}"' \
		x "$W/root/usr/share/bash-completion/completions/pcopy" "$@" | sort -u
}
got=$(complete_words pcopy "")
[ "$got" = "$(echo "$cmds" | sort -u)" ] && pass "completion: the $(echo "$got" | wc -l) subcommands" ||
	fail "completion of 'pcopy ': $(echo $got), want $(echo $cmds)"
got=$(complete_words pcopy -j st | tr '\n' ' ')
[ "$got" = "stats status " ] && pass "completion: 'pcopy -j st' gives stats status" ||
	fail "completion of 'pcopy -j st': '$got'"
bad=
for c in $cmds; do
	# a subcommand in agent/cmd_*.c, or one a helper program serves
	f=$(grep -l "^\(static \)\?int cmd_$c(" "$src"/agent/*.c "$src"/agent/libexec/*.c)
	[ -n "$f" ] || { bad="$bad $c(no cmd_$c() in agent/ or agent/libexec/)"; continue; }
	opts=$(grep -o '{ *"[a-z][a-z0-9-]*", *[a-z]*_argument' "$f" | sed 's/{ *"\([^"]*\)".*/--\1/' | sort -u)
	got=$(complete_words pcopy "$c" --)
	for o in $opts; do
		echo "$got" | grep -qx -- "$o" || bad="$bad $c:$o"
	done
done
[ -z "$bad" ] && pass "completion: every long option of every subcommand's getopt table" ||
	fail "completion misses options:$bad"
got=$(complete_words pcopy track "$$")
echo "$got" | grep -qx "$$" && pass "completion: 'pcopy track' offers pids ($$)" ||
	fail "completion of 'pcopy track $$': $(echo $got)"
got=$(complete_words pcopy run --json x -- ech)
echo "$got" | grep -qx echo && pass "completion: 'pcopy run -- ech' offers echo" ||
	fail "completion of 'pcopy run -- ech': $(echo $got)"
got=$(complete_words pcopy report "$W/root/usr/share/doc/pcopy/READ")
[ "$got" = "$W/root/usr/share/doc/pcopy/README.md" ] && pass "completion: 'pcopy report' offers files" ||
	fail "completion of 'pcopy report FILE': $(echo $got)"
got=$(complete_words pcopy auto "" | tr '\n' ' ')
[ "$got" = "off on " ] && pass "completion: 'pcopy auto' offers on off" ||
	fail "completion of 'pcopy auto ': '$got'"

# ---- make uninstall ----
$M uninstall DESTDIR="$W/root" PREFIX=/usr >"$W/uninstall.log" 2>&1
left=$(cd "$W/root" && find . -type f | wc -l)
[ "$left" = 0 ] && pass "make uninstall removes every installed file" ||
	fail "make uninstall left $left files: $(cd "$W/root" && find . -type f | tr '\n' ' ')"

# ---- make modules_install ----
kver=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
if $M modules_install INSTALL_MOD_PATH="$W/mod" >"$W/modinst.log" 2>&1; then
	f=$(find "$W/mod/lib/modules/$kver/updates" -name pcopy.ko 2>/dev/null)
	if [ -n "$f" ] && cmp -s <(modinfo -F srcversion "$f") <(modinfo -F srcversion "$ko") &&
	   [ "$(modinfo -F vermagic "$f" | cut -d' ' -f1)" = "$kver" ]; then
		pass "make modules_install: ${f#"$W/mod"} for $kver"
	else
		fail "make modules_install: no pcopy.ko for $kver under updates/ ($(find "$W/mod" -name '*.ko'))"
	fi
else
	fail "make modules_install: $(tail -n 3 "$W/modinst.log")"
fi

# ---- make htmldocs ----
if $M htmldocs >"$W/html.log" 2>&1 && [ -s "$BUILD/html/index.html" ] && [ -s "$BUILD/html/agent.html" ]; then
	pass "make htmldocs: $(ls "$BUILD"/html/*.html | wc -l) pages, no Sphinx warning"
else
	fail "make htmldocs: $(tail -n 5 "$W/html.log")"
fi

finish
