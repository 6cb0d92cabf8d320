// SPDX-License-Identifier: GPL-2.0
/*
 * The pcopy agent's session commands against the real module: what they
 * print (text and JSON) matches what the module reports over netlink.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

/* each pcopy run loads 36 libraries over 9p: seconds on the KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#include "qemu_text.h"

#define PAGE 4096UL

/* Run the agent with @fmt's arguments; its stdout, and stderr if @err. */
static int agent_run(char **out, bool err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int agent_run(char **out, bool err, const char *fmt, ...)
{
	char cmd[512];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	strncat(cmd, err ? " 2>&1" : " 2>/dev/null", sizeof(cmd) - strlen(cmd) - 1);
	return run_capture(cmd, out);
}

#define agent(out, ...)		agent_run(out, true, __VA_ARGS__)
#define agent_stdout(out, ...)	agent_run(out, false, __VA_ARGS__)

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

/*
 * The bash completion (agent/pcopy.bash) offers the tracked pids for
 * stats, exactly: none before track, this one after, none after untrack.
 */
static int complete_pids(char **out)
{
	return run_capture("bash -c '. \"$PCOPY_SRC/agent/pcopy.bash\"; "
			   "COMP_WORDS=(\"$PCOPY_SRC/agent/pcopy\" stats \"\"); COMP_CWORD=2; "
			   "_pcopy; printf \"%s\\n\" \"${COMPREPLY[@]}\"'", out);
}

TEST_F(ag, completion_offers_tracked_pids)
{
	char expect[32];

	ASSERT_EQ(0, complete_pids(&self->out));
	EXPECT_STREQ("\n", self->out);
	free(self->out);
	ASSERT_EQ(0, agent(&self->out, "track %d", self->pid)) TH_LOG("%s", self->out);
	free(self->out);
	ASSERT_EQ(0, complete_pids(&self->out));
	snprintf(expect, sizeof(expect), "%d\n", self->pid);
	EXPECT_STREQ(expect, self->out);
	free(self->out);
	ASSERT_EQ(0, agent(&self->out, "untrack %d", self->pid));
	free(self->out);
	ASSERT_EQ(0, complete_pids(&self->out));
	EXPECT_STREQ("\n", self->out);
}

/*
 * `pcopy stats --qemu`: QEMU 10.1's `info migrate -a` postcopy block and
 * nothing else, from a session with known faults: NONVCPU_FAULTS of a
 * thread that is no vCPU, then VCPU_FAULTS of the same thread as vCPU
 * QEMU_VCPU, each resolved QEMU_DELAY_MS after its message was read.  The
 * delay puts every fault in QEMU's [32 ms, 65 ms) bucket with 32 ms to
 * spare for TCG, and vCPU 11 makes lists of 12, with QEMU's continuation
 * line.  The JSON "qemu" member carries the same figures under
 * query-migrate's names.
 */
#define NONVCPU_FAULTS	3
#define VCPU_FAULTS	5
#define QEMU_VCPU	11
#define QEMU_DELAY_MS	33
#define QEMU_BUCKET	15	/* [2^15, 2^16) us */

/* free() and forget: the fixture's teardown frees what is left. */
static void drop(char **p)
{
	free(*p);
	*p = NULL;
}

/* The values of the JSON array @key of @o, which must have @n of them. */
static int jarray(struct json_object *o, const char *key, int64_t *v, size_t n)
{
	struct json_object *a;
	size_t i;

	if (!json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != n)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = json_object_get_int64(json_object_array_get_idx(a, i));
	return 0;
}

TEST_F(ag, qemu_block)
{
	const uint64_t nfaults = NONVCPU_FAULTS + VCPU_FAULTS;
	int64_t list[QEMU_VCPU + 1], dist[PCOPY_HIST_US_BUCKETS];
	char expect[4096], label[128], *copy, *line, *save;
	pid_t other;
	unsigned long long count, sum = 0, in_bucket = 0;
	struct json_object *root, *q;
	const struct vcpu_stat *vc;
	bool in_list = false;
	int values = 0, n, i;

	ASSERT_EQ(0, agent(&self->out, "track %d", self->pid)) TH_LOG("%s", self->out);
	drop(&self->out);
	ASSERT_EQ(0, take_faults_delayed(self->uffd, NONVCPU_FAULTS, 7, QEMU_DELAY_MS));
	ASSERT_EQ(0, agent(&self->out, "vcpu %d %d %d", self->pid, self->pid,
			   QEMU_VCPU)) TH_LOG("%s", self->out);
	drop(&self->out);
	ASSERT_EQ(0, take_faults_delayed(self->uffd, VCPU_FAULTS, 8, QEMU_DELAY_MS));

	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	ASSERT_EQ(nfaults, self->st.faults);
	ASSERT_EQ(NONVCPU_FAULTS, self->st.nonvcpu_faults);
	ASSERT_EQ(1, self->st.nvcpus);
	vc = &self->st.vcpus[0];
	ASSERT_EQ(QEMU_VCPU, vc->index);
	ASSERT_EQ(VCPU_FAULTS, vc->faults);
	EXPECT_EQ(nfaults, self->st.hist_us[QEMU_BUCKET])
		TH_LOG("latencies of %d ms outside [32, 65) ms: max %llu ns", QEMU_DELAY_MS,
		       (unsigned long long)self->st.lat_max);
	/* the figures printed below are not zeros by accident */
	EXPECT_LE(VCPU_FAULTS * QEMU_DELAY_MS, self->st.blocktime / 1000000);
	EXPECT_LE(QEMU_DELAY_MS * 1000000ull, self->st.nonvcpu_lat_sum / NONVCPU_FAULTS);

	/* 2>&1: the block is all it prints, on either stream */
	ASSERT_EQ(0, agent(&self->out, "stats --qemu %d", self->pid)) TH_LOG("%s", self->out);
	n = snprintf(expect, sizeof(expect),
		     "Postcopy Blocktime (ms): %llu\n"
		     "Postcopy vCPU Blocktime (ms):\n"
		     " [0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
		     "  0, %llu]\n"
		     "Postcopy Latency (ns): %llu\n"
		     "Postcopy non-vCPU Latencies (ns): %llu\n"
		     "Postcopy vCPU Latencies (ns):\n"
		     " [0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
		     "  0, %llu]\n",
		     (unsigned long long)(self->st.blocktime / 1000000),
		     (unsigned long long)(vc->blocktime / 1000000),
		     (unsigned long long)(self->st.lat_sum / nfaults),
		     (unsigned long long)(self->st.nonvcpu_lat_sum / NONVCPU_FAULTS),
		     (unsigned long long)(vc->lat_sum / VCPU_FAULTS));
	qemu_dist_text(expect + n, sizeof(expect) - n, self->st.hist_us);
	EXPECT_STREQ(expect, self->out);

	/* read back as a log parser would: list length, bucket counts */
	copy = strdup(self->out);
	ASSERT_NE(NULL, copy);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		printf("# %s\n", line);	/* the block, in the test's log */
		if (!strcmp(line, "Postcopy vCPU Blocktime (ms):")) {
			in_list = true;
			values = 1;
			continue;
		}
		if (in_list) {
			for (i = 0; line[i]; i++)
				values += line[i] == ',';
			in_list = line[strlen(line) - 1] != ']';
		}
		if (sscanf(line, "  [ %*[^]]]: %llu", &count) == 1) {
			sum += count;
			if (!strncmp(line, "  [    32 ms -    65 ms ]:", 26))
				in_bucket = count;
		}
	}
	free(copy);
	fflush(stdout);		/* the harness's child leaves with _exit() */
	EXPECT_EQ(QEMU_VCPU + 1, values);
	EXPECT_EQ(nfaults, sum);
	EXPECT_EQ(nfaults, in_bucket);
	drop(&self->out);

	/* query-migrate 10.1's members, the same figures */
	ASSERT_EQ(0, agent(&self->out, "-j stats %d", self->pid)) TH_LOG("%s", self->out);
	root = json_tokener_parse(self->out);
	ASSERT_NE(NULL, root) TH_LOG("%s", self->out);
	ASSERT_TRUE(json_object_object_get_ex(root, "qemu", &q));
	EXPECT_EQ(6, json_object_object_length(q));
	EXPECT_EQ((int64_t)(self->st.blocktime / 1000000), jint(q, "postcopy-blocktime"));
	EXPECT_EQ((int64_t)(self->st.lat_sum / nfaults), jint(q, "postcopy-latency"));
	EXPECT_EQ((int64_t)(self->st.nonvcpu_lat_sum / NONVCPU_FAULTS),
		  jint(q, "postcopy-non-vcpu-latency"));
	ASSERT_EQ(0, jarray(q, "postcopy-vcpu-blocktime", list, QEMU_VCPU + 1));
	for (i = 0; i < QEMU_VCPU; i++)
		EXPECT_EQ(0, list[i]);
	EXPECT_EQ((int64_t)(vc->blocktime / 1000000), list[QEMU_VCPU]);
	ASSERT_EQ(0, jarray(q, "postcopy-vcpu-latency", list, QEMU_VCPU + 1));
	for (i = 0; i < QEMU_VCPU; i++)
		EXPECT_EQ(0, list[i]);
	EXPECT_EQ((int64_t)(vc->lat_sum / VCPU_FAULTS), list[QEMU_VCPU]);
	ASSERT_EQ(0, jarray(q, "postcopy-latency-dist", dist, PCOPY_HIST_US_BUCKETS));
	for (i = 0; i < PCOPY_HIST_US_BUCKETS; i++)
		EXPECT_EQ((int64_t)self->st.hist_us[i], dist[i]) TH_LOG("bucket %d", i);
	EXPECT_EQ((int64_t)nfaults, dist[QEMU_BUCKET]);
	json_object_put(root);
	drop(&self->out);

	/* --qemu is text: with -j, before or after the command, a usage error */
	EXPECT_EQ(2, agent(&self->out, "-j stats --qemu %d", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "--qemu prints QEMU's text block")) TH_LOG("%s", self->out);
	drop(&self->out);
	EXPECT_EQ(2, agent(&self->out, "stats %d --qemu --json", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "--qemu prints QEMU's text block")) TH_LOG("%s", self->out);
	drop(&self->out);

	/* untracked: the module keeps the ended session, stats shows it */
	ASSERT_EQ(0, agent(&self->out, "untrack %d", self->pid));
	drop(&self->out);
	EXPECT_EQ(0, agent_stdout(&self->out, "stats --qemu %d", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "Postcopy Blocktime (ms): ")) TH_LOG("%s", self->out);
	drop(&self->out);
	EXPECT_EQ(0, agent_stdout(&self->out, "stats %d", self->pid));
	snprintf(label, sizeof(label), "pid %d: ENDED (untracked) at ", self->pid);
	EXPECT_EQ(self->out, strstr(self->out, label)) TH_LOG("%s", self->out);
	drop(&self->out);

	/* errors go to stderr only: stdout stays empty for the parser */
	other = fork();
	ASSERT_LE(0, other);
	if (other == 0) {
		pause();	/* never tracked */
		_exit(0);
	}
	EXPECT_EQ(1, agent_stdout(&self->out, "stats --qemu %d", other));
	EXPECT_STREQ("", self->out);
	drop(&self->out);
	EXPECT_EQ(1, agent(&self->out, "stats --qemu %d", other));
	snprintf(label, sizeof(label),
		 "pcopy: stats %d: pid %d is not tracked (and no ended session of it is kept)\n",
		 other, other);
	EXPECT_NE(NULL, strstr(self->out, label)) TH_LOG("%s", self->out);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
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
