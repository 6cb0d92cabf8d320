// SPDX-License-Identifier: GPL-2.0
/*
 * A migration channel killed mid-stream: pcopy send migrates a paused
 * minivm's memory file and device state to pcopy recv in another network
 * namespace over a rate-limited veth, and one (or every) TCP connection of
 * the migration is destroyed with "ss -K" while pages are streaming.
 * tools/migrate-kill.sh does the work and the checks; this runs it in
 * each variant and asserts every check.
 *
 * pcopy does not recover a broken migration; the script's checks: the
 * kill destroyed the connection(s); pcopy send and pcopy recv both exit 1
 * within a bound, each with exactly one error line, naming a connection;
 * every 4 KiB page of recv's --mem-out image and of the destination VM's
 * RAM is either zero (never placed) or byte for byte the source's (no
 * page half-written); pages had arrived before the kill, and not all of
 * them arrived in the end (the kill was mid-stream).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

/* under TCG, one run takes about a minute; leave room for a slow one */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 280

/* PASS lines of a run in which every check passes */
#define CHECKS 8

FIXTURE(kill) {
};

FIXTURE_VARIANT(kill) {
	const char *env;
};

/* the bulk channel that has sent the most, destroyed on the source */
FIXTURE_VARIANT_ADD(kill, one_bulk_at_source) { .env = "" };
/* every connection (control, urgent, bulk), destroyed on the source */
FIXTURE_VARIANT_ADD(kill, all_at_source) { .env = "KILL=all" };
/* the busiest bulk channel, destroyed on the destination */
FIXTURE_VARIANT_ADD(kill, one_bulk_at_destination) { .env = "KILL_SIDE=dst" };

FIXTURE_SETUP(kill)
{
	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
}

FIXTURE_TEARDOWN(kill)
{
}

TEST_F(kill, fails_cleanly)
{
	struct checks c;
	int rc;

	rc = run_checks("tools/migrate-kill.sh", variant->env, &c);
	EXPECT_EQ(0, rc);
	EXPECT_EQ(0, c.fail);
	EXPECT_EQ(CHECKS, c.pass);
}

TEST_HARNESS_MAIN
