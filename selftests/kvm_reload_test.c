// SPDX-License-Identifier: GPL-2.0
/*
 * kvm.ko unloaded and loaded again under a loaded pcopy.ko: the KVM
 * features follow it, nothing breaks, and vCPU attribution works against
 * the new kvm.ko (its tracepoints are found again through the tracepoint
 * module notifier).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static uint64_t features(void)
{
	struct nl_sock *sk = genl_open();
	struct nl_result r;
	struct nl_msg *msg;
	uint64_t f = ~0ull;
	int fam;

	if (!sk)
		return f;
	fam = pcopy_family(sk);
	msg = pcopy_msg(fam, PCOPY_CMD_GET_INFO, 0);
	if (!nl_xfer(sk, msg, &r) && r.tb[PCOPY_A_FEATURES])
		f = nla_get_u64(r.tb[PCOPY_A_FEATURES]);
	nl_result_free(&r);
	nlmsg_free(msg);
	nl_socket_free(sk);
	return f;
}

/* Built in (the debug kernel): no initstate, and rmmod can never work. */
static bool kvm_builtin(void)
{
	return access("/sys/module/kvm/initstate", F_OK) != 0;
}

static const uint64_t kvm_bits = PCOPY_FEAT_KVM | PCOPY_FEAT_DIRTY_RING_HOOK |
				 PCOPY_FEAT_DIRTY_RESET_HOOK |
				 PCOPY_FEAT_VCPU_MAP;

TEST(kvm_unload_and_reload)
{
	char *out = NULL;
	int i, rc;

	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/sys/module/kvm", F_OK))
		SKIP(return, "kvm is not loaded");
	if (kvm_builtin())
		SKIP(return, "kvm is built into this kernel: it cannot be unloaded");
	ASSERT_EQ(kvm_bits, features() & kvm_bits);

	for (i = 0; i < 3; i++) {
		rc = run_capture("rmmod kvm_amd kvm 2>&1", &out);
		ASSERT_EQ(0, rc) TH_LOG("rmmod: %s", out);
		free(out);
		EXPECT_NE(0, access("/sys/module/kvm", F_OK));
		EXPECT_EQ(0, features() & kvm_bits);
		{
			char *st = read_file(PCOPY_DEBUGFS "/status");

			ASSERT_NE(NULL, st);
			EXPECT_NE(NULL, strstr(st, "kvm:\tnot loaded")) TH_LOG("%s", st);
			free(st);
		}

		rc = run_capture("modprobe kvm && modprobe kvm_amd 2>&1", &out);
		ASSERT_EQ(0, rc) TH_LOG("modprobe: %s", out);
		free(out);
		EXPECT_EQ(kvm_bits, features() & kvm_bits);
	}

	/* the hooks work against the new kvm.ko: a real guest, attributed */
	rc = run_capture("\"$PCOPY_SRC/selftests/kvm_fault_test\" 2>&1", &out);
	EXPECT_EQ(0, rc) TH_LOG("kvm_fault_test after reload:\n%s", out);
	free(out);

	/* and pcopy itself can still go and come back */
	EXPECT_EQ(0, module_unload());
	EXPECT_EQ(0, module_load());
	EXPECT_EQ(kvm_bits, features() & kvm_bits);
}

TEST(pcopy_loaded_before_kvm)
{
	char *out = NULL;
	int rc;

	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/sys/module/kvm", F_OK))
		SKIP(return, "kvm is not loaded");
	if (kvm_builtin())
		SKIP(return, "kvm is built into this kernel: it cannot be unloaded");
	/* pcopy first, then kvm: the notifier reports kvm as it comes */
	ASSERT_EQ(0, module_unload());
	rc = run_capture("rmmod kvm_amd kvm 2>&1", &out);
	ASSERT_EQ(0, rc) TH_LOG("%s", out);
	free(out);
	ASSERT_EQ(0, module_load());
	EXPECT_EQ(0, features() & kvm_bits);
	rc = run_capture("modprobe kvm && modprobe kvm_amd 2>&1", &out);
	ASSERT_EQ(0, rc) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(kvm_bits, features() & kvm_bits);
	rc = run_capture("\"$PCOPY_SRC/selftests/kvm_fault_test\" 2>&1", &out);
	EXPECT_EQ(0, rc) TH_LOG("%s", out);
	free(out);
}

TEST_HARNESS_MAIN
