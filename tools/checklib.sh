# SPDX-License-Identifier: GPL-2.0
# Sourced by the check scripts of tools/ (deb-test.sh, dkms-test.sh,
# install-test.sh, debroot/test.sh, migrate-lib.sh): one "PASS: ..." or
# "FAIL: ..." line per check, and a last line that says whether all passed.
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# finish: the last line, and exit 0 only if no check failed
finish() {
	[ "$fails" = 0 ] && { echo "PASS"; exit 0; }
	echo "FAIL ($fails checks failed)"
	exit 1
}
