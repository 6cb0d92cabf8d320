// SPDX-License-Identifier: GPL-2.0
/*
 * The DKMS-installed module (tools/dkms-test.sh install, run on the host
 * before this VM boots: the VM shares its /lib/modules) loads with plain
 * "modprobe pcopy", is the very module DKMS built (srcversion), answers
 * the agent, and goes with "modprobe -r".  Skips when nothing is installed
 * (make check T=... without dkms, or the 6.12 lane).  Ends with the tree's
 * module loaded again, as every test does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

/* modprobe and pcopy are slow on the KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

TEST(modprobe_loads_the_dkms_module)
{
	char ko[256], cmd[512], *want = NULL, *got = NULL, *out = NULL;
	struct utsname u;

	static const char *const ext[] = { "", ".xz", ".zst", ".gz" };
	unsigned int i;

	ASSERT_EQ(0, uname(&u));
	/* DKMS compresses it as the kernel's modules are (6.12: .ko.xz) */
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(ko, sizeof(ko), "/lib/modules/%s/updates/dkms/pcopy.ko%s", u.release,
			 ext[i]);
		if (!access(ko, R_OK))
			break;
	}
	if (i == sizeof(ext) / sizeof(ext[0]))
		SKIP(return, "no DKMS-installed pcopy.ko for %s (tools/dkms-test.sh install)",
		     u.release);

	if (module_loaded())
		ASSERT_EQ(0, module_unload());
	ASSERT_EQ(0, run_capture("modprobe pcopy 2>&1", &out)) TH_LOG("%s", out);
	free(out);
	ASSERT_TRUE(module_loaded());

	snprintf(cmd, sizeof(cmd), "modinfo -F srcversion %s", ko);
	ASSERT_EQ(0, run_capture(cmd, &want));
	got = read_file("/sys/module/pcopy/srcversion");
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(want, got);
	free(want);
	free(got);

	ASSERT_EQ(0, run_capture("\"$PCOPY_SRC/agent/pcopy\" status 2>&1", &out)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "0.2.0")) TH_LOG("%s", out);
	free(out);

	ASSERT_EQ(0, run_capture("modprobe -r pcopy 2>&1", &out)) TH_LOG("%s", out);
	free(out);
	EXPECT_FALSE(module_loaded());
	ASSERT_EQ(0, module_ensure_loaded());
}

TEST_HARNESS_MAIN
