// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration end to end, in the test VM with pcopy.ko loaded: a
 * running minivm moves between two network namespaces joined by veth,
 * with pcopy send / pcopy recv (tools/migrate-e2e.sh does the work and
 * checks; this runs it in every variant and asserts each check).
 *
 * The script's checks: both ends exit 0 in the expected mode; the source
 * was migrated while running; the received memory equals the paused
 * source's memory byte for byte; every page placed exactly once; no page
 * changed without a dirty record; the destination guest ends with the
 * checksums of an unmigrated reference run, and the device blob arrived.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

FIXTURE(mig) {
};

FIXTURE_VARIANT(mig) {
	const char *env;
};

FIXTURE_VARIANT_ADD(mig, plain) { .env = "" };
/* a slower link: a longer workload, so the source is still running */
FIXTURE_VARIANT_ADD(mig, netem_delay_5ms) { .env = "NETEM_DELAY=5ms COUNT=45000" };
FIXTURE_VARIANT_ADD(mig, netem_rate_100mbit) {
	/* 64 MiB: the marks sampler gets several samples with every connection up */
	.env = "NETEM_RATE=100mbit MEM=64 COUNT=60000 CHECK_MARKS=1"
};
FIXTURE_VARIANT_ADD(mig, netem_delay_and_rate) {
	.env = "NETEM_DELAY=2ms NETEM_RATE=200mbit COUNT=30000"
};
FIXTURE_VARIANT_ADD(mig, one_bulk_channel) { .env = "CHANNELS=1" };
FIXTURE_VARIANT_ADD(mig, faults_from_uffd) { .env = "RECV_OPTS=--no-ring" };
FIXTURE_VARIANT_ADD(mig, postcopy_only) { .env = "SEND_OPTS=--postcopy-only" };
FIXTURE_VARIANT_ADD(mig, from_memory_file) { .env = "FROM=file" };
/*
 * a 256 MiB guest: pcopy send never maps guest memory, so its peak RSS
 * stays small (7 MiB in the 6.1 VM, 3 MiB on the build machine; 259 MiB
 * when it read through a mapping), and the placer places the precopied
 * pages in long runs; 40 s of workload, so that the 256 MiB of precopy
 * (17 s in the VM) end before it does
 */
FIXTURE_VARIANT_ADD(mig, idle_256m_guest) {
	.env = "MEM=256 WORKLOAD=hot COUNT=60000 SEND_RSS_MAX_MB=64 PLACER_RUN_MIN=16"
};
/* send and recv --plot DIR: recordings and pictures of both ends */
FIXTURE_VARIANT_ADD(mig, plots) { .env = "PLOT=1" };

FIXTURE_SETUP(mig)
{
	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
}

FIXTURE_TEARDOWN(mig)
{
}

TEST_F(mig, end_to_end)
{
	struct checks c;
	int rc;

	rc = run_checks("tools/migrate-e2e.sh", variant->env, &c);
	EXPECT_EQ(0, rc);
	EXPECT_EQ(0, c.fail);
	/* mode, running, bytes, exactly once, late, checksums: at least 5 */
	EXPECT_LE(5, c.pass);
}

TEST_HARNESS_MAIN
