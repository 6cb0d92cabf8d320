// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own YNL CLI (tools/net/ynl/cli.py of the lane's
 * linux-source, 6.12 here; 6.1 has none and skips) drives every command of
 * the family from Documentation/netlink/specs/pcopy.yaml alone, validated
 * against the kernel's genetlink-legacy schema, and what it decodes is
 * checked against what the module says over libnl: the versions, feature
 * names, hooks, a session's exact fault count and histogram, an explicit
 * vCPU mapping, a reset, the auto-attach settings, the events group's
 * notifications, and the errno and extack of a request the policy refuses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <netlink/genl/ctrl.h>

#include "kselftest_harness.h"
#include "lib.h"

/* every cli.py run starts a Python under TCG: seconds each */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 900

#define YNL	"build/linux-src/tools/net/ynl"
#define SCHEMA	"build/linux-src/Documentation/netlink/genetlink-legacy.yaml"
#define SPEC	"Documentation/netlink/specs/pcopy.yaml"

/* cli.py with the spec; --schema validates it first (slow under TCG: once) */
#define CLI	"/usr/bin/python3 " YNL "/cli.py --spec " SPEC " --output-json "
static bool validated;

/* Run cli.py with @fmt's arguments; stdout and stderr in *out. */
static int run_ynl(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int run_ynl(char **out, const char *fmt, ...)
{
	char cmd[1024];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd \"$PCOPY_SRC\" && " CLI "%s ",
		     validated ? "--no-schema" : "--schema " SCHEMA);
	validated = true;
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	return run_capture(cmd, out);
}

/* The @i-th line of @text parsed as JSON (cli.py prints one per output). */
static struct json_object *json_line(const char *text, int i)
{
	const char *p = text;
	char *line;
	struct json_object *o;
	size_t len;

	while (p && i-- > 0) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	len = strcspn(p, "\n");
	line = strndup(p, len);
	o = line ? json_tokener_parse(line) : NULL;
	free(line);
	return o;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static long long jint(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v ? json_object_get_int64(v) : -1;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v ? json_object_get_string(v) : "";
}

/* Feature flags as cli.py decodes them: a list of names, as a bit mask. */
static uint64_t feature_bits(struct json_object *list)
{
	static const char *const names[] = {
		"uffd-hook", "kvm", "dirty-ring-hook", "vcpu-map", "dirty-reset-hook",
		"missed-hook", "wake-hook", "exec-hook", "auto-hook", "fork-hook",
	};
	uint64_t bits = 0;
	size_t i, j;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(list, i));

		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (!strcmp(s, names[j]))
				break;
		/* a name this test does not know: bit 63, never expected */
		bits |= 1ull << (j < sizeof(names) / sizeof(names[0]) ? j : 63);
	}
	return bits;
}

FIXTURE(ynl) {
	const char *skip;		/* why every test skips, or NULL */
	struct nl_sock *sk;
	int fam;
	pid_t pid;
	int uffd;
	char *out;
	struct json_object *j;
};

FIXTURE_SETUP(ynl)
{
	char *path = NULL;

	self->out = NULL;
	self->j = NULL;
	self->sk = NULL;
	self->uffd = -1;
	if (asprintf(&path, "%s/cli.py", src_path(YNL)) < 0)
		path = NULL;
	/* a SKIP here does not stop the test in 6.1's harness: each test asks */
	self->skip = NULL;
	if (!path || access(path, R_OK))
		self->skip = "no YNL CLI in this lane's linux-source (" YNL ")";
	else if (access("/usr/bin/python3", X_OK))
		self->skip = "no /usr/bin/python3";
	free(path);
	if (self->skip)
		return;
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	self->pid = getpid();
	self->uffd = uffd_open(0);
	ASSERT_LE(0, self->uffd);
}

FIXTURE_TEARDOWN(ynl)
{
	struct nl_result r;

	json_object_put(self->j);
	self->j = NULL;
	free(self->out);
	self->out = NULL;
	if (self->sk) {
		sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r);
		nl_result_free(&r);
		nl_socket_free(self->sk);
	}
	if (self->uffd >= 0)
		close(self->uffd);
}

TEST_F(ynl, get_info)
{
	struct nl_msg *msg = pcopy_msg(self->fam, PCOPY_CMD_GET_INFO, 0);
	struct json_object *hooks, *list;
	struct nl_result r;
	uint64_t features;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nl_xfer(self->sk, msg, &r));
	nlmsg_free(msg);
	features = nla_get_u64(r.tb[PCOPY_A_FEATURES]);

	ASSERT_EQ(0, run_ynl(&self->out, "--do get-info")) TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	EXPECT_EQ(PCOPY_ABI_VERSION, jint(self->j, "abi-version"));
	EXPECT_STREQ(nla_get_string(r.tb[PCOPY_A_MODULE_VERSION]),
		     jstr(self->j, "module-version"));
	EXPECT_EQ(features, feature_bits(jget(self->j, "features")));
	EXPECT_EQ((uint64_t)__PCOPY_FEAT_ALL, feature_bits(jget(self->j, "features-known")));
	EXPECT_EQ(nla_get_u32(r.tb[PCOPY_A_UFFD_MAXACTIVE]), jint(self->j, "uffd-maxactive"));
	EXPECT_EQ(nla_get_u32(r.tb[PCOPY_A_ENDED_MAX]), jint(self->j, "ended-max"));
	/* one hook per feature bit the module knows, each named */
	hooks = jget(self->j, "hooks");
	list = jget(hooks, "hook");
	ASSERT_NE(NULL, list) TH_LOG("%s", self->out);
	/* every feature bit but PCOPY_FEAT_KVM (kvm.ko itself) is a hook */
	EXPECT_EQ(__builtin_popcountll(__PCOPY_FEAT_ALL & ~PCOPY_FEAT_KVM),
		  json_object_array_length(list));
	EXPECT_STREQ("handle_userfault", jstr(json_object_array_get_idx(list, 0), "name"));
	nl_result_free(&r);
}

/* track, three faults, get (do and dump), vcpu, reset, del: all by YNL */
TEST_F(ynl, session_commands)
{
	struct sess_stats st;
	struct json_object *hist, *stats;
	long long sum = 0;
	char key[16];
	int i;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, run_ynl(&self->out, "--do session-new --json '{\"pid\": %d}'", self->pid))
		TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &st));
	EXPECT_EQ(self->pid, jint(self->j, "pid"));
	EXPECT_EQ((long long)st.session_id, jint(self->j, "session-id"));
	json_object_put(self->j);
	self->j = NULL;
	free(self->out);
	self->out = NULL;

	ASSERT_EQ(0, take_faults(self->uffd, 3, 7));
	ASSERT_EQ(0, run_ynl(&self->out, "--do session-get --json '{\"pid\": %d}'", self->pid))
		TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	stats = jget(self->j, "stats");
	EXPECT_EQ(3, jint(stats, "faults")) TH_LOG("%s", self->out);
	EXPECT_EQ(3, jint(stats, "nonvcpu-faults"));
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &st));
	EXPECT_EQ((long long)st.lat_sum, jint(stats, "latency-sum-ns"));
	/* the histogram, bucket by bucket (attribute type = bucket + 1) */
	hist = jget(self->j, "hist-ns");
	for (i = 0; i < PCOPY_HIST_NS_BUCKETS; i++) {
		snprintf(key, sizeof(key), "bucket-%d", i);
		if (st.hist_ns[i]) {
			EXPECT_EQ((long long)st.hist_ns[i], jint(hist, key)) TH_LOG("%s", key);
		} else {
			EXPECT_EQ(NULL, jget(hist, key)) TH_LOG("%s", key);
		}
		sum += jget(hist, key) ? jint(hist, key) : 0;
	}
	EXPECT_EQ(3, sum);
	json_object_put(self->j);
	self->j = NULL;
	free(self->out);
	self->out = NULL;

	ASSERT_EQ(0, run_ynl(&self->out, "--dump session-get")) TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	{
		int found = 0;

		for (size_t k = 0; k < json_object_array_length(self->j); k++)
			found += jint(json_object_array_get_idx(self->j, k), "pid") == self->pid;
		EXPECT_EQ(1, found) TH_LOG("%s", self->out);
	}
	json_object_put(self->j);
	self->j = NULL;
	free(self->out);
	self->out = NULL;

	ASSERT_EQ(0, run_ynl(&self->out, "--do set-vcpu --json '{\"pid\": %d, \"tid\": %d, \"vcpu\": 5}'",
			 self->pid, self->pid)) TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &st));
	ASSERT_EQ(1, st.nvcpus);
	EXPECT_EQ(5, st.vcpus[0].index);
	EXPECT_TRUE(st.vcpus[0].explicit_map);

	ASSERT_EQ(0, run_ynl(&self->out, "--do session-reset --json '{\"pid\": %d}'", self->pid))
		TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &st));
	EXPECT_EQ(0, st.faults);

	ASSERT_EQ(0, run_ynl(&self->out, "--do session-del --json '{\"pid\": %d}'", self->pid))
		TH_LOG("%s", self->out);
	EXPECT_EQ(-ENOENT, sess_get(self->sk, self->fam, self->pid, &st));
}

/*
 * Is the process whose netlink port id is @portid a member of group @grp?
 * /proc/net/netlink shows the first 32 groups of each socket.
 */
static bool subscribed(pid_t portid, int grp)
{
	FILE *f = fopen("/proc/net/netlink", "re");
	unsigned int port, groups;
	char line[256];
	bool in = false;

	if (!f)
		return false;
	while (!in && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*d %u %x", &port, &groups) == 2 && port == (unsigned int)portid)
			in = groups & (1u << (grp - 1));
	fclose(f);
	return in;
}

/*
 * The events group through YNL: a cli.py subscribed in the background
 * decodes the session-new and session-del notifications of a session made
 * and ended over libnl (6.12's cli.py cannot subscribe and run a command
 * in one go: a notification before the reply breaks its receive loop).
 */
TEST_F(ynl, events_decoded)
{
	struct json_object *m, *msg;
	struct sess_stats st;
	struct nl_result r;
	char cmd[1024], file[64];
	int grp, i, status, found = 0;
	pid_t sub;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	grp = genl_ctrl_resolve_grp(self->sk, PCOPY_GENL_NAME, PCOPY_MCGRP_EVENTS);
	ASSERT_LT(0, grp);
	snprintf(file, sizeof(file), "/tmp/pcopy-ynl-events.%d", getpid());
	snprintf(cmd, sizeof(cmd), "cd \"$PCOPY_SRC\" && exec " CLI
		 "--no-schema --subscribe events --sleep 15 >%s 2>&1", file);
	sub = fork();
	if (!sub) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	ASSERT_LT(0, sub);
	/* until it has joined the group: its port id is its pid */
	for (i = 0; i < 1200 && (grp > 32 || !subscribed(sub, grp)); i++)
		sleep_ms(100);
	ASSERT_LT(i, 1200) TH_LOG("cli.py never joined the events group");
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, self->pid, &r));
	ASSERT_EQ(0, parse_session(r.tb, &st));
	nl_result_free(&r);
	ASSERT_EQ(0, take_faults(self->uffd, 2, 9));
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(sub, waitpid(sub, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	self->out = read_file(file);
	unlink(file);
	ASSERT_NE(NULL, self->out);
	/* the queue of notifications: its one line of output */
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	for (size_t k = 0; k < json_object_array_length(self->j); k++) {
		m = json_object_array_get_idx(self->j, k);
		msg = jget(m, "msg");
		if (jint(msg, "pid") != self->pid)
			continue;
		if (!strcmp(jstr(m, "name"), "session-new-ntf")) {
			EXPECT_EQ((long long)st.session_id, jint(msg, "session-id"));
			found |= 1;
		} else if (!strcmp(jstr(m, "name"), "session-del-ntf")) {
			EXPECT_EQ((long long)st.session_id, jint(msg, "session-id"));
			EXPECT_STREQ("deleted", jstr(msg, "end-reason"));
			EXPECT_EQ(2, jint(jget(msg, "stats"), "faults"));
			found |= 2;
		}
	}
	EXPECT_EQ(3, found) TH_LOG("%s", self->out);
}

TEST_F(ynl, set_auto)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, run_ynl(&self->out, "--do set-auto --json "
			 "'{\"auto-on\": 1, \"auto-comm\": \"pcopy-ynl-none\", \"auto-max\": 2}'"))
		TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	ASSERT_EQ(0, run_ynl(&self->out, "--do get-info")) TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	EXPECT_EQ(1, jint(self->j, "auto-on"));
	EXPECT_STREQ("pcopy-ynl-none", jstr(self->j, "auto-comm"));
	EXPECT_EQ(2, jint(self->j, "auto-max"));
	json_object_put(self->j);
	self->j = NULL;
	free(self->out);
	self->out = NULL;
	ASSERT_EQ(0, run_ynl(&self->out, "--do set-auto --json '{\"auto-on\": 0}'"))
		TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	ASSERT_EQ(0, run_ynl(&self->out, "--do get-info")) TH_LOG("%s", self->out);
	self->j = json_line(self->out, 0);
	EXPECT_EQ(0, jint(self->j, "auto-on"));
}

/* The policy's refusals come back through YNL with errno and extack. */
TEST_F(ynl, refused)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	EXPECT_EQ(1, run_ynl(&self->out, "--do session-new --json '{\"pid\": 0}'"));
	EXPECT_NE(NULL, strstr(self->out, "Netlink error: Numerical result out of range"))
		TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	EXPECT_EQ(1, run_ynl(&self->out, "--do session-del --json '{\"pid\": %d}'", self->pid));
	EXPECT_NE(NULL, strstr(self->out, "Netlink error: No such file or directory"))
		TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	EXPECT_EQ(1, run_ynl(&self->out, "--do set-auto --json '{\"auto-on\": 1, \"auto-max\": 65}'"));
	EXPECT_NE(NULL, strstr(self->out, "Numerical result out of range")) TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
	EXPECT_EQ(1, run_ynl(&self->out, "--do session-get --json '{}'"));
	EXPECT_NE(NULL, strstr(self->out, "Netlink error: Invalid argument")) TH_LOG("%s", self->out);
}

TEST_HARNESS_MAIN
