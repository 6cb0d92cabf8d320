// SPDX-License-Identifier: GPL-2.0
/*
 * The pcopy generic netlink family: what GET_INFO returns, that the agent
 * and debugfs show the same, and that bad requests are rejected with the
 * right errno and extack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kselftest_harness.h"
#include "lib.h"

/* pcopy runs are slow on the KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

FIXTURE(nl) {
	struct nl_sock *sk;
	int family;
	struct nl_msg *msg;
	struct nl_result r;
};

FIXTURE_SETUP(nl)
{
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->family);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->msg = NULL;
	memset(&self->r, 0, sizeof(self->r));
}

FIXTURE_TEARDOWN(nl)
{
	nl_result_free(&self->r);
	if (self->msg)
		nlmsg_free(self->msg);
	nl_socket_free(self->sk);
}

static char *trim(char *s)
{
	s[strcspn(s, "\n")] = 0;
	return s;
}

/* The features the module must report on the test VM's kernel. */
static uint64_t expected_features(void)
{
	uint64_t f = PCOPY_FEAT_UFFD_HOOK | PCOPY_FEAT_MISSED_HOOK |
		     PCOPY_FEAT_WAKE_HOOK | PCOPY_FEAT_EXEC_HOOK |
		     PCOPY_FEAT_AUTO_HOOK | PCOPY_FEAT_FORK_HOOK;

	if (access("/sys/module/kvm", F_OK) == 0)
		f |= PCOPY_FEAT_KVM | PCOPY_FEAT_DIRTY_RING_HOOK |
		     PCOPY_FEAT_VCPU_MAP | PCOPY_FEAT_DIRTY_RESET_HOOK;
	return f;
}

TEST_F(nl, get_info)
{
	char *sysver;

	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nl_xfer(self->sk, self->msg, &self->r));
	ASSERT_EQ(1, self->r.nreplies);
	ASSERT_NE(NULL, self->r.tb[PCOPY_A_MODULE_VERSION]);
	ASSERT_NE(NULL, self->r.tb[PCOPY_A_ABI_VERSION]);
	ASSERT_NE(NULL, self->r.tb[PCOPY_A_FEATURES]);
	ASSERT_NE(NULL, self->r.tb[PCOPY_A_FEATURES_KNOWN]);

	/* MODULE_VERSION() is also exported in sysfs by the module loader */
	sysver = read_file("/sys/module/pcopy/version");
	ASSERT_NE(NULL, sysver);
	EXPECT_STREQ(trim(sysver), nla_get_string(self->r.tb[PCOPY_A_MODULE_VERSION]));
	free(sysver);

	EXPECT_EQ(PCOPY_ABI_VERSION, nla_get_u32(self->r.tb[PCOPY_A_ABI_VERSION]));
	EXPECT_EQ(expected_features(), nla_get_u64(self->r.tb[PCOPY_A_FEATURES]));
	EXPECT_EQ(__PCOPY_FEAT_ALL, nla_get_u64(self->r.tb[PCOPY_A_FEATURES_KNOWN]));
}

TEST_F(nl, agent_status_matches_module)
{
	struct json_object *root, *v, *feats;
	char *out, *dbg, line[128];
	uint64_t features;
	const char *ver;
	int rc;

	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nl_xfer(self->sk, self->msg, &self->r));
	ver = nla_get_string(self->r.tb[PCOPY_A_MODULE_VERSION]);
	features = nla_get_u64(self->r.tb[PCOPY_A_FEATURES]);

	rc = run_capture("\"$PCOPY_SRC/agent/pcopy\" -j status", &out);
	ASSERT_EQ(0, rc);
	root = json_tokener_parse(out);
	ASSERT_NE(NULL, root) TH_LOG("not JSON: %s", out);
	ASSERT_TRUE(json_object_object_get_ex(root, "module_version", &v));
	EXPECT_STREQ(ver, json_object_get_string(v));
	ASSERT_TRUE(json_object_object_get_ex(root, "abi_version", &v));
	EXPECT_EQ(PCOPY_ABI_VERSION, json_object_get_int64(v));
	ASSERT_TRUE(json_object_object_get_ex(root, "features_mask", &v));
	EXPECT_EQ(features, json_object_get_uint64(v));
	ASSERT_TRUE(json_object_object_get_ex(root, "features", &feats));
	ASSERT_TRUE(json_object_object_get_ex(feats, "uffd_hook", &v));
	EXPECT_EQ(!!(features & PCOPY_FEAT_UFFD_HOOK), json_object_get_boolean(v));
	ASSERT_TRUE(json_object_object_get_ex(feats, "dirty_ring_hook", &v));
	EXPECT_EQ(!!(features & PCOPY_FEAT_DIRTY_RING_HOOK), json_object_get_boolean(v));
	json_object_put(root);
	free(out);

	rc = run_capture("\"$PCOPY_SRC/agent/pcopy\" status", &out);
	ASSERT_EQ(0, rc);
	snprintf(line, sizeof(line), "module version: %s\n", ver);
	EXPECT_NE(NULL, strstr(out, line)) TH_LOG("got: %s", out);
	snprintf(line, sizeof(line), "features:       %#llx\n",
		 (unsigned long long)features);
	EXPECT_NE(NULL, strstr(out, line)) TH_LOG("got: %s", out);
	free(out);

	dbg = read_file(PCOPY_DEBUGFS "/status");
	ASSERT_NE(NULL, dbg);
	snprintf(line, sizeof(line), "version:\t%s\n", ver);
	EXPECT_NE(NULL, strstr(dbg, line)) TH_LOG("debugfs: %s", dbg);
	snprintf(line, sizeof(line), "features:\t%#llx", (unsigned long long)features);
	EXPECT_NE(NULL, strstr(dbg, line)) TH_LOG("debugfs: %s", dbg);
	free(dbg);
}

/* A child without capabilities, but still uid 0, asks for GET_INFO. */
TEST(unprivileged_gets_eperm)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, module_ensure_loaded());
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		cap_t none = cap_init();
		struct nl_result r;
		struct nl_sock *sk;
		struct nl_msg *msg;
		int fam, err;

		if (!none || cap_set_proc(none))
			_exit(10);
		sk = genl_open();
		if (!sk)
			_exit(11);
		/* resolving the family is unprivileged; using it is not */
		fam = pcopy_family(sk);
		if (fam < 0)
			_exit(12);
		msg = pcopy_msg(fam, PCOPY_CMD_GET_INFO, 0);
		err = nl_xfer(sk, msg, &r);
		_exit(err == -EPERM ? 0 : 20);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(unprivileged_agent_fails_clearly)
{
	char *out = NULL;
	int rc;

	ASSERT_EQ(0, module_ensure_loaded());
	/* setpriv drops every capability together with uid 0 */
	rc = run_capture("setpriv --reuid=65534 --regid=65534 --clear-groups "
			 "\"$PCOPY_SRC/agent/pcopy\" status 2>&1", &out);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, rc);
	EXPECT_NE(NULL, strstr(out, "Operation not permitted")) TH_LOG("got: %s", out);
	free(out);
}

TEST_F(nl, unknown_command)
{
	/* the 6.1 genetlink core rejects these before the family sees them */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_MAX + 1, 0);
	EXPECT_EQ(-EOPNOTSUPP, nl_xfer(self->sk, self->msg, &self->r));
	nlmsg_free(self->msg);
	self->msg = pcopy_msg(self->family, PCOPY_CMD_UNSPEC, 0);
	EXPECT_EQ(-EOPNOTSUPP, nl_xfer(self->sk, self->msg, &self->r));
}

TEST_F(nl, reserved_header_field)
{
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(self->msg)))->reserved = 1;
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("genlmsghdr.reserved field is not 0", self->r.msg);
}

TEST_F(nl, unknown_attribute)
{
	struct nlattr *a;

	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	a = nla_reserve(self->msg, PCOPY_A_MAX + 1, 4);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("Unknown attribute type", self->r.msg);
	ASSERT_TRUE(self->r.has_offs);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
}

TEST_F(nl, wrong_attribute_type)
{
	struct nlattr *a;

	/* a u16 where a u32 belongs */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nla_put_u16(self->msg, PCOPY_A_ABI_VERSION, 1));
	a = (struct nlattr *)genlmsg_attrdata(nlmsg_data(nlmsg_hdr(self->msg)), 0);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("invalid attribute length", self->r.msg);
	ASSERT_TRUE(self->r.has_offs);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
	nl_result_free(&self->r);
	nlmsg_free(self->msg);

	/* a nested attribute where a u32 belongs */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	a = nla_reserve(self->msg, PCOPY_A_ABI_VERSION | NLA_F_NESTED, 4);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("NLA_F_NESTED not expected", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
	nl_result_free(&self->r);
	nlmsg_free(self->msg);

	/* padding is never valid input */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	a = nla_reserve(self->msg, PCOPY_A_PAD, 0);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("Attribute failed policy validation", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
}

TEST_F(nl, oversized_attribute)
{
	char big[PCOPY_VERSION_MAXLEN + 64];
	struct nlattr *a;

	/* a string longer than the policy allows */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	a = nla_reserve(self->msg, PCOPY_A_MODULE_VERSION, sizeof(big));
	ASSERT_NE(NULL, a);
	memcpy(nla_data(a), big, sizeof(big));
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("Attribute failed policy validation", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
	nl_result_free(&self->r);
	nlmsg_free(self->msg);

	/* 64 bytes where a u32 belongs */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	a = nla_reserve(self->msg, PCOPY_A_ABI_VERSION, 64);
	ASSERT_NE(NULL, a);
	memset(nla_data(a), 0, 64);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("invalid attribute length", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
	nl_result_free(&self->r);
	nlmsg_free(self->msg);

	/* a feature bit the module does not know */
	self->msg = pcopy_msg(self->family, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nla_put_u64(self->msg, PCOPY_A_FEATURES, 1ull << 40));
	a = (struct nlattr *)genlmsg_attrdata(nlmsg_data(nlmsg_hdr(self->msg)), 0);
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("reserved bit set", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
}

TEST_HARNESS_MAIN
