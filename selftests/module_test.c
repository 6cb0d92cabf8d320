// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and unloading pcopy.ko: the family and the debugfs directory
 * appear with the module and disappear with it, every time.
 * Each test starts and ends with the module loaded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

/* a load and unload takes 2.5 s on the debug lane's KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static int family_now(void)
{
	struct nl_sock *sk = genl_open();
	int fam;

	if (!sk)
		return -ENOMEM;
	fam = pcopy_family(sk);
	nl_socket_free(sk);
	return fam;
}

TEST(load_unload_20_times)
{
	int i;

	ASSERT_EQ(0, module_ensure_loaded());
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, module_unload()) TH_LOG("unload #%d", i);
		EXPECT_FALSE(module_loaded());
		EXPECT_EQ(-NLE_OBJ_NOTFOUND, family_now()) TH_LOG("family after unload #%d", i);
		EXPECT_NE(0, access(PCOPY_DEBUGFS, F_OK));
		EXPECT_EQ(ENOENT, errno);

		ASSERT_EQ(0, module_load()) TH_LOG("load #%d", i);
		EXPECT_TRUE(module_loaded());
		EXPECT_LT(0, family_now()) TH_LOG("family after load #%d", i);
		EXPECT_EQ(0, access(PCOPY_DEBUGFS "/status", R_OK));
	}
}

TEST(double_load_is_eexist)
{
	ASSERT_EQ(0, module_ensure_loaded());
	EXPECT_EQ(-EEXIST, module_load());
	EXPECT_TRUE(module_loaded());
}

TEST(agent_reports_missing_module)
{
	char *out = NULL;
	int rc;

	ASSERT_EQ(0, module_ensure_loaded());
	ASSERT_EQ(0, module_unload());
	rc = run_capture("\"$PCOPY_SRC/agent/pcopy\" status 2>&1", &out);
	ASSERT_EQ(0, module_load());
	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, rc);
	EXPECT_NE(NULL, strstr(out, "pcopy kernel module is not loaded")) TH_LOG("got: %s", out);
	free(out);

	rc = run_capture("\"$PCOPY_SRC/agent/pcopy\" -j status >/dev/null 2>&1", &out);
	EXPECT_EQ(0, rc);
	free(out);
}

TEST_HARNESS_MAIN
