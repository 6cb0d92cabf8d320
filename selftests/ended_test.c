// SPDX-License-Identifier: GPL-2.0
/*
 * Ended sessions linger (uapi/pcopy.h, "Sessions"): after its process exits
 * a session keeps its full, frozen statistics, found by its id or, asked
 * for with PCOPY_A_ENDED, by pid; never mixed with a new session of a
 * reused pid; the module parameters ended_max and ended_secs bound how many
 * and how long; an unload frees them.  And `pcopy run`: exit codes and
 * signals passed through.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "kselftest_harness.h"
#include "lib.h"

/* pcopy run and a module reload take tens of seconds on the KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PARAMS "/sys/module/pcopy/parameters/"
#define NFAULTS 5

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Write @val to a file; 0 or -errno. */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int set_param(const char *name, long long v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	snprintf(val, sizeof(val), "%lld", v);
	return write_str(path, val);
}

static long long get_param(const char *name)
{
	char path[128], *s;
	long long v;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	s = read_file(path);
	if (!s)
		return -1;
	v = atoll(s);
	free(s);
	return v;
}

/*
 * A child that waits for a byte on @go, takes NFAULTS userfaults, writes a
 * byte on @done, waits for a second byte and exits.
 */
struct target {
	pid_t pid;
	int go, done;
};

static int target_start(struct target *t)
{
	int g[2], d[2];
	char c;

	if (pipe(g) || pipe(d))
		return -1;
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0) {
		int uffd;

		close(g[1]);
		close(d[0]);
		if (read(g[0], &c, 1) != 1)
			_exit(1);
		uffd = uffd_open(0);
		if (uffd < 0 || take_faults(uffd, NFAULTS, 0x5a))
			_exit(2);
		if (write(d[1], "d", 1) != 1 || read(g[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(g[0]);
	close(d[1]);
	t->go = g[1];
	t->done = d[0];
	return 0;
}

/* Let the target fault; 0 once it has. */
static int target_faults(struct target *t)
{
	char c;

	if (write(t->go, "g", 1) != 1 || read(t->done, &c, 1) != 1)
		return -1;
	return 0;
}

/* Let it exit and reap it; its exit status. */
static int target_end(struct target *t)
{
	int status = -1;

	if (write(t->go, "x", 1) != 1)
		kill(t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	close(t->go);
	close(t->done);
	return status;
}

/* Wait up to 5 s for session @id to read as ended; 0 and @st, or -errno. */
static int wait_ended(struct nl_sock *sk, int fam, uint64_t id, struct sess_stats *st)
{
	int i, ret;

	for (i = 0; i < 500; i++) {
		ret = sess_get_by(sk, fam, 0, id, false, st, NULL);
		if (ret || st->ended)
			return ret;
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

struct dump_ids {
	uint64_t id[64];
	uint32_t pid[64];
	int n;
	bool live_seen;
};

static int dump_cb(struct nl_msg *msg, void *arg)
{
	struct dump_ids *d = arg;
	struct nlattr *tb[PCOPY_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCOPY_A_MAX, NULL) ||
	    !tb[PCOPY_A_SESSION_ID] || !tb[PCOPY_A_PID])
		return NL_STOP;
	if (!tb[PCOPY_A_ENDED] || !tb[PCOPY_A_END_REASON] || !tb[PCOPY_A_END_TIME])
		d->live_seen = true;
	if (d->n < 64) {
		d->id[d->n] = nla_get_u64(tb[PCOPY_A_SESSION_ID]);
		d->pid[d->n] = nla_get_u32(tb[PCOPY_A_PID]);
		d->n++;
	}
	return NL_OK;
}

/* A dump with PCOPY_A_ENDED: the ids, in the module's order. */
static int dump_ended(struct nl_sock *sk, int fam, struct dump_ids *d)
{
	struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_SESSION_GET, NLM_F_DUMP);
	int ret;

	memset(d, 0, sizeof(*d));
	if (!msg || nla_put_flag(msg, PCOPY_A_ENDED))
		return -ENOMEM;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, d);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret < 0)
		return ret;
	ret = nl_recvmsgs_default(sk);
	return ret < 0 ? ret : 0;
}

/* Track @pid, then untrack it: an ended (deleted) session; its id. */
static uint64_t track_untrack(struct nl_sock *sk, int fam, pid_t pid)
{
	struct sess_stats st;
	struct nl_result r;
	uint64_t id = 0;

	if (sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, pid, &r) == 0 && r.reply &&
	    !parse_session(r.tb, &st))
		id = st.session_id;
	nl_result_free(&r);
	if (sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, pid, &r))
		id = 0;
	nl_result_free(&r);
	return id;
}

FIXTURE(ended) {
	struct nl_sock *sk;
	int fam;
	struct sess_stats st;
};

FIXTURE_SETUP(ended)
{
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	/* start from nothing kept, with the defaults */
	ASSERT_EQ(0, set_param("ended_max", 0));
	ASSERT_EQ(0, set_param("ended_max", 16));
	ASSERT_EQ(0, set_param("ended_secs", 3600));
	ASSERT_EQ(0, pcopy_status("sessions_ended"));
}

FIXTURE_TEARDOWN(ended)
{
	set_param("ended_max", 16);
	set_param("ended_secs", 3600);
	nl_socket_free(self->sk);
}

/* The whole life: live, exited, kept with its figures frozen. */
TEST_F(ended, kept_after_exit)
{
	struct sess_stats *st = &self->st, again;
	struct target t;
	struct nl_result r;
	struct dump_ids d;
	uint64_t id, t0, t1;
	char *ended;
	int status;

	ASSERT_EQ(0, target_start(&t));
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, t.pid, &r));
	ASSERT_EQ(0, parse_session(r.tb, st));
	nl_result_free(&r);
	id = st->session_id;
	ASSERT_NE(0, id);
	EXPECT_FALSE(st->ended);
	ASSERT_EQ(0, target_faults(&t));

	/* live: by pid, by id, by both */
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, t.pid, 0, false, st, NULL));
	EXPECT_EQ(NFAULTS, st->faults);
	EXPECT_EQ(id, st->session_id);
	EXPECT_FALSE(st->ended);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, t.pid, id, false, st, NULL));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, t.pid, id + 1000, false, NULL, NULL));

	t0 = realtime_ns();
	status = target_end(&t);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, wait_ended(self->sk, self->fam, id, st));
	t1 = realtime_ns();
	EXPECT_TRUE(st->ended);
	EXPECT_EQ(PCOPY_END_EXITED, st->end_reason);
	EXPECT_LE(t0, st->end_time);
	EXPECT_GE(t1, st->end_time);
	EXPECT_EQ((uint32_t)t.pid, st->pid);
	EXPECT_EQ(NFAULTS, st->faults);
	EXPECT_EQ(NFAULTS, hist_sum(st->hist_ns, PCOPY_HIST_NS_BUCKETS));
	EXPECT_EQ(NFAULTS, hist_sum(st->hist_us, PCOPY_HIST_US_BUCKETS));
	EXPECT_EQ(0, st->outstanding);

	/* frozen: the clock of an ended session stopped at its end */
	sleep_ms(200);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, 0, id, false, &again, NULL));
	EXPECT_EQ(st->elapsed, again.elapsed);
	EXPECT_EQ(st->end_time, again.end_time);

	/* by pid only when asked for; never among the live ones */
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, t.pid, 0, false, NULL, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, t.pid, 0, true, &again, NULL));
	EXPECT_EQ(id, again.session_id);
	EXPECT_TRUE(again.ended);
	EXPECT_EQ(0, sess_dump_count(self->sk, self->fam, t.pid, &(bool){ false }));
	ASSERT_EQ(0, dump_ended(self->sk, self->fam, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_EQ(id, d.id[0]);
	EXPECT_EQ((uint32_t)t.pid, d.pid[0]);
	EXPECT_FALSE(d.live_seen);
	/* the other commands know live sessions only */
	EXPECT_EQ(-ENOENT, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_RESET, t.pid, &r));
	nl_result_free(&r);
	EXPECT_EQ(-ENOENT, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, t.pid, &r));
	nl_result_free(&r);

	EXPECT_EQ(1, pcopy_status("sessions_ended"));
	ended = read_file(PCOPY_DEBUGFS "/ended");
	ASSERT_NE(NULL, ended);
	EXPECT_NE(NULL, strstr(ended, "exited")) TH_LOG("%s", ended);
	free(ended);

	/* an unload frees them (kmemleak on the debug lane) */
	ASSERT_EQ(0, module_unload());
	ASSERT_EQ(0, module_ensure_loaded());
	nl_socket_free(self->sk);
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	EXPECT_EQ(0, pcopy_status("sessions_ended"));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, t.pid, 0, true, NULL, NULL));
}

/*
 * A reused pid: the old process's ended session and the new process's
 * session are told apart (ns_last_pid makes the next fork reuse the pid).
 */
TEST_F(ended, reused_pid_never_mixes)
{
	struct sess_stats *st = &self->st;
	struct target a, b;
	struct nl_result r;
	struct dump_ids d;
	uint64_t ida, idb;
	char val[16];
	pid_t p;

	ASSERT_EQ(0, target_start(&a));
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, a.pid, &r));
	ASSERT_EQ(0, parse_session(r.tb, st));
	nl_result_free(&r);
	ida = st->session_id;
	ASSERT_EQ(0, target_faults(&a));
	p = a.pid;
	target_end(&a);
	ASSERT_EQ(0, wait_ended(self->sk, self->fam, ida, st));

	snprintf(val, sizeof(val), "%d", p - 1);
	if (access("/proc/sys/kernel/ns_last_pid", W_OK))
		SKIP(return, "no ns_last_pid (a kernel without CONFIG_CHECKPOINT_RESTORE)");
	ASSERT_EQ(0, write_str("/proc/sys/kernel/ns_last_pid", val));
	ASSERT_EQ(0, target_start(&b));
	if (b.pid != p) {
		target_end(&b);
		SKIP(return, "pid %d was not reused (got %d): something else forked", p, b.pid);
	}
	/* the new process is not tracked: by pid, only the ended one */
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, p, 0, false, NULL, NULL));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, 0, true, st, NULL));
	EXPECT_EQ(ida, st->session_id);
	EXPECT_TRUE(st->ended);

	/* tracked: the live one wins, with nothing of the old */
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, p, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, 0, true, st, NULL));
	idb = st->session_id;
	EXPECT_NE(ida, idb);
	EXPECT_FALSE(st->ended);
	EXPECT_EQ(0, st->faults);
	ASSERT_EQ(0, target_faults(&b));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, 0, false, st, NULL));
	EXPECT_EQ(NFAULTS, st->faults);
	/* the old one by its id, unchanged */
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, ida, false, st, NULL));
	EXPECT_TRUE(st->ended);
	EXPECT_EQ(NFAULTS, st->faults);

	/* untracked: now the newest ended one of that pid */
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, p, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, 0, true, st, NULL));
	EXPECT_EQ(idb, st->session_id);
	EXPECT_EQ(PCOPY_END_DELETED, st->end_reason);
	ASSERT_EQ(0, dump_ended(self->sk, self->fam, &d));
	ASSERT_EQ(2, d.n);
	EXPECT_EQ(idb, d.id[0]);
	EXPECT_EQ(ida, d.id[1]);
	target_end(&b);
}

/* ended_max: only the newest N; a bad value is refused and changes nothing. */
TEST_F(ended, max_keeps_the_newest)
{
	uint64_t ids[3];
	struct dump_ids d;
	int i;

	ASSERT_EQ(0, set_param("ended_max", 2));
	for (i = 0; i < 3; i++) {
		ids[i] = track_untrack(self->sk, self->fam, getpid());
		ASSERT_NE(0, ids[i]);
	}
	EXPECT_EQ(2, pcopy_status("sessions_ended"));
	ASSERT_EQ(0, dump_ended(self->sk, self->fam, &d));
	ASSERT_EQ(2, d.n);
	EXPECT_EQ(ids[2], d.id[0]);
	EXPECT_EQ(ids[1], d.id[1]);
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, 0, ids[0], false, NULL, NULL));

	EXPECT_EQ(-ERANGE, set_param("ended_max", 257));
	EXPECT_EQ(-EINVAL, set_param("ended_max", -1));
	EXPECT_EQ(2, get_param("ended_max"));
	/* lowering it drops the oldest at once */
	ASSERT_EQ(0, set_param("ended_max", 1));
	EXPECT_EQ(1, pcopy_status("sessions_ended"));
	EXPECT_EQ(0, sess_get_by(self->sk, self->fam, 0, ids[2], false, NULL, NULL));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, 0, ids[1], false, NULL, NULL));
	/* 0: nothing is kept */
	ASSERT_EQ(0, set_param("ended_max", 0));
	EXPECT_EQ(0, pcopy_status("sessions_ended"));
	ids[0] = track_untrack(self->sk, self->fam, getpid());
	ASSERT_NE(0, ids[0]);
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, 0, ids[0], false, NULL, NULL));
	EXPECT_EQ(0, pcopy_status("sessions_ended"));
}

/* ended_secs: a kept session goes once its time is up. */
TEST_F(ended, secs_limit_expires)
{
	struct nl_msg *msg;
	struct nl_result r;
	uint64_t id;

	ASSERT_EQ(0, set_param("ended_secs", 1));
	id = track_untrack(self->sk, self->fam, getpid());
	ASSERT_NE(0, id);
	EXPECT_EQ(0, sess_get_by(self->sk, self->fam, 0, id, false, NULL, NULL));

	/* GET_INFO reports the limits and the count */
	msg = pcopy_msg(self->fam, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nl_xfer(self->sk, msg, &r));
	nlmsg_free(msg);
	ASSERT_NE(NULL, r.tb[PCOPY_A_ENDED_MAX]);
	EXPECT_EQ(16, nla_get_u32(r.tb[PCOPY_A_ENDED_MAX]));
	EXPECT_EQ(1, nla_get_u32(r.tb[PCOPY_A_ENDED_SECS]));
	EXPECT_EQ(1, nla_get_u32(r.tb[PCOPY_A_ENDED_COUNT]));
	nl_result_free(&r);

	sleep_ms(2500);
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, 0, id, false, NULL, NULL));
	EXPECT_EQ(0, pcopy_status("sessions_ended"));
	/* 0: no time limit */
	ASSERT_EQ(0, set_param("ended_secs", 0));
	id = track_untrack(self->sk, self->fam, getpid());
	sleep_ms(1500);
	EXPECT_EQ(0, sess_get_by(self->sk, self->fam, 0, id, false, NULL, NULL));
}

/* Bad requests: a clear errno, the attribute named. */
TEST_F(ended, bad_requests)
{
	struct nl_msg *msg;
	struct nl_result r;
	struct nlattr *a;

	/* neither a pid nor an id */
	EXPECT_EQ(-EINVAL, sess_get_by(self->sk, self->fam, 0, 0, false, NULL, &r));
	EXPECT_TRUE(r.has_miss);
	EXPECT_EQ(PCOPY_A_PID, r.miss_type);
	nl_result_free(&r);
	/* session id 0 is out of range */
	msg = pcopy_msg(self->fam, PCOPY_CMD_SESSION_GET, 0);
	ASSERT_EQ(0, nla_put_u64(msg, PCOPY_A_SESSION_ID, 0));
	a = nlmsg_find_attr(nlmsg_hdr(msg), GENL_HDRLEN, PCOPY_A_SESSION_ID);
	EXPECT_EQ(-ERANGE, nl_xfer(self->sk, msg, &r));
	EXPECT_TRUE(r.has_offs);
	EXPECT_EQ(attr_offset(msg, a), r.offs);
	nl_result_free(&r);
	nlmsg_free(msg);
	/* what only the module sends */
	msg = pcopy_msg(self->fam, PCOPY_CMD_SESSION_GET, 0);
	ASSERT_EQ(0, nla_put_u32(msg, PCOPY_A_PID, getpid()));
	ASSERT_EQ(0, nla_put_u64(msg, PCOPY_A_END_TIME, 1));
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, msg, &r));
	nl_result_free(&r);
	nlmsg_free(msg);
	/* no such session */
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, 0, 1ull << 60, false, NULL, &r));
	EXPECT_STREQ("no such session", r.msg);
	nl_result_free(&r);
}

/*
 * Run pcopy with @args (NULL-terminated, after "pcopy"), its stderr into
 * @err_file; its wait status.  @wait_child_comm: once pcopy's child runs
 * that program, send pcopy SIGUSR1 (as a supervisor would).
 */
static int run_pcopy(const char *const *args, const char *err_file,
		     const char *wait_child_comm)
{
	const char *argv[16] = { "pcopy" };
	char path[96], *s;
	int i, status = -1;
	pid_t pid, c;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(124);
		execv(src_path("agent/pcopy"), (char **)argv);
		_exit(124);
	}
	for (i = 0; wait_child_comm && i < 3000; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
		s = read_file(path);
		c = s ? atoi(s) : 0;
		free(s);
		if (c > 0) {
			snprintf(path, sizeof(path), "/proc/%d/comm", c);
			s = read_file(path);
			if (s && !strncmp(s, wait_child_comm, strlen(wait_child_comm))) {
				free(s);
				kill(pid, SIGUSR1);
				break;
			}
			free(s);
		}
		sleep_ms(10);
	}
	waitpid(pid, &status, 0);
	return status;
}

/* pcopy run: the exit status and the signals of the command pass through. */
TEST(run_passes_status_and_signals)
{
	static const char *exit7[] = { "run", "--", "sh", "-c", "exit 7", NULL };
	static const char *term[] = { "run", "--", "sh", "-c", "kill -TERM $$", NULL };
	static const char *usr1[] = { "run", "--json", "/tmp/pcopy-run-test.json", "--",
				      "sleep", "30", NULL };
	static const char *missing[] = { "run", "--", "/nonexistent/cmd", NULL };
	static const char *nothing[] = { "run", NULL };
	const char *errf = "/tmp/pcopy-run-test.err";
	struct json_object *o, *v;
	char *out, *json;
	int status;

	ASSERT_EQ(0, module_ensure_loaded());

	/* an exit code, and the summary on stderr */
	status = run_pcopy(exit7, errf, NULL);
	out = read_file(errf);
	ASSERT_NE(NULL, out);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) TH_LOG("%#x: %s", status, out);
	EXPECT_NE(NULL, strstr(out, "ENDED (exited)")) TH_LOG("%s", out);
	free(out);

	/* killed by a signal: pcopy dies of the same one */
	status = run_pcopy(term, errf, NULL);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) TH_LOG("%#x", status);

	/* a signal sent to pcopy reaches the command; JSON to a file */
	status = run_pcopy(usr1, errf, "sleep");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1) TH_LOG("%#x", status);
	json = read_file("/tmp/pcopy-run-test.json");
	ASSERT_NE(NULL, json);
	o = json_tokener_parse(json);
	free(json);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_object_object_get_ex(o, "ended", &v));
	ASSERT_TRUE(json_object_object_get_ex(v, "reason", &v));
	EXPECT_STREQ("exited", json_object_get_string(v));
	/* the fork of pcopy became sleep: one exec followed */
	ASSERT_TRUE(json_object_object_get_ex(o, "execs", &v));
	EXPECT_EQ(1, json_object_get_int64(v));
	json_object_put(o);
	unlink("/tmp/pcopy-run-test.json");

	/* no such command: 127 and one line naming it */
	status = run_pcopy(missing, errf, NULL);
	out = read_file(errf);
	ASSERT_NE(NULL, out);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127) TH_LOG("%#x", status);
	EXPECT_STREQ("pcopy: run: /nonexistent/cmd: No such file or directory\n", out);
	free(out);
	/* nothing to run: a usage error */
	status = run_pcopy(nothing, errf, NULL);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	unlink(errf);
}

TEST_HARNESS_MAIN
