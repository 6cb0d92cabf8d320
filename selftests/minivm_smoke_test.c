// SPDX-License-Identifier: GPL-2.0
/*
 * tools/minivm/smoke.sh in the test VM.  The build host's KVM emulates the
 * guest (PVM); the VM's nested KVM runs it with hardware paging (SVM with
 * NPT), and that is where the dirty log differs: a page the guest only
 * reads is logged once, when a read fault first maps it writable
 * (Documentation/minivm.rst, "Dirty ring").  smoke.sh checks both
 * behaviours exactly; here it must also see the hardware one.  pcopy.ko
 * stays loaded, as on a host under pcopy.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

TEST(smoke_passes_with_hardware_paging)
{
	char cmd[PATH_MAX + 64];
	char *out = NULL;
	int rc;

	if (access("/dev/kvm", W_OK))
		SKIP(return, "no usable /dev/kvm");
	ASSERT_EQ(0, module_ensure_loaded());
	/* the guest's tree is read-only: use the binaries make built */
	snprintf(cmd, sizeof(cmd), "MINIVM_PREBUILT=1 %s 2>&1",
		 src_path("tools/minivm/smoke.sh"));
	rc = run_capture(cmd, &out);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, rc) TH_LOG("smoke.sh said:\n%s", out);
	EXPECT_NE(NULL, strstr(out, "smoke: all passed"))
		TH_LOG("smoke.sh said:\n%s", out);
	EXPECT_NE(NULL, strstr(out, "dirty log: KVM logs a page the guest only reads once"))
		TH_LOG("KVM in the VM no longer logs first maps of read pages; smoke.sh said:\n%s", out);
	free(out);
}

TEST_HARNESS_MAIN
