// SPDX-License-Identifier: GPL-2.0
/*
 * The pcopy agent's session commands against the real module: what they
 * print (text and JSON) matches what the module reports over netlink.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#define PAGE 4096UL

static int agent(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int agent(char **out, const char *fmt, ...)
{
	char cmd[512];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	return run_capture(cmd, out);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

FIXTURE(ag) {
	struct nl_sock *sk;
	int fam;
	pid_t pid;
	int uffd;
	char *out;
	struct sess_stats st;
};

FIXTURE_SETUP(ag)
{
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->pid = getpid();
	self->uffd = uffd_open(0);
	ASSERT_LE(0, self->uffd);
	self->out = NULL;
}

FIXTURE_TEARDOWN(ag)
{
	struct nl_result r;

	free(self->out);
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r);
	nl_result_free(&r);
	close(self->uffd);
	nl_socket_free(self->sk);
}

TEST_F(ag, track_stats_list_untrack)
{
	struct json_object *root, *v, *q;
	char expect[128];

	ASSERT_EQ(0, agent(&self->out, "track %d", self->pid)) TH_LOG("%s", self->out);
	snprintf(expect, sizeof(expect), "tracking pid %d", self->pid);
	EXPECT_NE(NULL, strstr(self->out, expect)) TH_LOG("%s", self->out);
	free(self->out);

	ASSERT_EQ(0, take_faults(self->uffd, 3, 9));
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	ASSERT_EQ(3, self->st.faults);

	ASSERT_EQ(0, agent(&self->out, "-j stats %d", self->pid)) TH_LOG("%s", self->out);
	root = json_tokener_parse(self->out);
	ASSERT_NE(NULL, root) TH_LOG("%s", self->out);
	EXPECT_EQ(self->pid, jint(root, "pid"));
	EXPECT_EQ(3, jint(root, "faults"));
	EXPECT_EQ(3, jint(root, "nonvcpu_faults"));
	EXPECT_EQ(0, jint(root, "vcpu_faults"));
	EXPECT_EQ((int64_t)self->st.lat_sum, jint(root, "latency_sum_ns"));
	EXPECT_EQ((int64_t)self->st.lat_max, jint(root, "latency_max_ns"));
	EXPECT_EQ((int64_t)(self->st.lat_sum / 3), jint(root, "latency_avg_ns"));
	ASSERT_TRUE(json_object_object_get_ex(root, "hist_us", &v));
	ASSERT_EQ(PCOPY_HIST_US_BUCKETS, json_object_array_length(v));
	for (int i = 0; i < PCOPY_HIST_US_BUCKETS; i++)
		EXPECT_EQ((int64_t)self->st.hist_us[i],
			  json_object_get_int64(json_object_array_get_idx(v, i)));
	ASSERT_TRUE(json_object_object_get_ex(root, "hist_ns", &v));
	ASSERT_EQ(PCOPY_HIST_NS_BUCKETS, json_object_array_length(v));
	ASSERT_TRUE(json_object_object_get_ex(root, "qemu", &q));
	EXPECT_EQ((int64_t)(self->st.lat_sum / 3), jint(q, "postcopy-latency"));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-latency-dist", &v));
	EXPECT_EQ(PCOPY_HIST_US_BUCKETS, json_object_array_length(v));
	json_object_put(root);
	free(self->out);

	ASSERT_EQ(0, agent(&self->out, "stats %d", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "Postcopy Latency (ns): ")) TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "@latency_ns:")) TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "@latency_us (QEMU buckets):")) TH_LOG("%s", self->out);
	free(self->out);

	ASSERT_EQ(0, agent(&self->out, "list -j"));
	root = json_tokener_parse(self->out);
	ASSERT_NE(NULL, root) TH_LOG("%s", self->out);
	{
		int found = 0;

		for (size_t i = 0; i < json_object_array_length(root); i++)
			if (jint(json_object_array_get_idx(root, i), "pid") == self->pid)
				found++;
		EXPECT_EQ(1, found);
	}
	json_object_put(root);
	free(self->out);

	ASSERT_EQ(0, agent(&self->out, "vcpu %d %d 3", self->pid, self->pid));
	free(self->out);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	ASSERT_EQ(1, self->st.nvcpus);
	EXPECT_EQ(3, self->st.vcpus[0].index);
	EXPECT_TRUE(self->st.vcpus[0].explicit_map);

	ASSERT_EQ(0, agent(&self->out, "reset %d", self->pid));
	free(self->out);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(0, self->st.faults);

	ASSERT_EQ(0, agent(&self->out, "untrack %d", self->pid));
	free(self->out);
	EXPECT_EQ(-ENOENT, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, agent(&self->out, "untrack %d", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "is not tracked")) TH_LOG("%s", self->out);
}

TEST_F(ag, bad_arguments)
{
	EXPECT_EQ(2, agent(&self->out, "track abc"));
	free(self->out);
	EXPECT_EQ(2, agent(&self->out, "track"));
	free(self->out);
	EXPECT_EQ(2, agent(&self->out, "vcpu %d %d 512", self->pid, self->pid));
	free(self->out);
	EXPECT_EQ(1, agent(&self->out, "track %d", 4194304 + 9));
	EXPECT_NE(NULL, strstr(self->out, "no such process")) TH_LOG("%s", self->out);
	free(self->out);
	EXPECT_EQ(1, agent(&self->out, "stats %d", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "not tracked")) TH_LOG("%s", self->out);
}

TEST_HARNESS_MAIN
