// SPDX-License-Identifier: GPL-2.0
/*
 * Auto-attach (PCOPY_CMD_SET_AUTO, kmod/auto.c): with it on, a process that
 * registers a userfaultfd range gets a session without being tracked, if
 * it passes the command-name and cgroup filter; off, nothing happens; the
 * cap refuses and counts; bad requests change nothing.  Each child here
 * registers once, waits until the module has decided (a session exists,
 * or a counter moved), then takes its faults: the counts are exact.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "kselftest_harness.h"
#include "lib.h"

/* pcopy runs and module reloads are slow on the KASAN kernel */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define NFAULTS 4
#define CG_ROOT "/tmp/pcopy-auto-cg"
#define CG_DIR CG_ROOT "/pcopy-auto"

/* A child named @name that registers a range, then faults on command. */
struct kid {
	pid_t pid;
	int go, done;
};

static int kid_start(struct kid *k, const char *name)
{
	int g[2], d[2];
	char c;

	if (pipe(g) || pipe(d))
		return -1;
	k->pid = fork();
	if (k->pid < 0)
		return -1;
	if (k->pid == 0) {
		struct uffd_msg m;
		int uffd, i, bad = 0;
		char *area;
		pid_t r;

		close(g[1]);
		close(d[0]);
		prctl(PR_SET_NAME, name);
		if (read(g[0], &c, 1) != 1 || c == 'x')
			_exit(0);
		/* the one registration */
		uffd = uffd_open(0);
		area = uffd < 0 ? NULL : uffd_area(uffd, NFAULTS * 4096UL);
		if (!area)
			_exit(2);
		if (write(d[1], "r", 1) != 1 || read(g[0], &c, 1) != 1 || c == 'x')
			_exit(0);
		r = fork();
		if (r == 0) {
			for (i = 0; i < NFAULTS; i++)
				if (uffd_read_msg(uffd, &m, 30000) ||
				    uffd_copy_page(uffd, m.arg.pagefault.address, 0x3c))
					_exit(1);
			_exit(0);
		}
		for (i = 0; i < NFAULTS; i++)
			bad += *(volatile char *)(area + i * 4096UL) != 0x3c;
		waitpid(r, NULL, 0);
		if (bad || write(d[1], "f", 1) != 1)
			_exit(4);
		read(g[0], &c, 1);
		_exit(0);
	}
	close(g[0]);
	close(d[1]);
	k->go = g[1];
	k->done = d[0];
	return 0;
}

/* One step: let the kid go on, and wait for its report. */
static int kid_step(struct kid *k)
{
	char c;

	return write(k->go, "g", 1) == 1 && read(k->done, &c, 1) == 1 ? 0 : -1;
}

static int kid_end(struct kid *k)
{
	int status = -1;

	if (write(k->go, "x", 1) != 1)
		kill(k->pid, SIGKILL);
	waitpid(k->pid, &status, 0);
	close(k->go);
	close(k->done);
	return status;
}

static int set_auto(struct nl_sock *sk, int fam, int on, const char *comm,
		    uint64_t cgroup, uint32_t max, struct nl_result *r)
{
	struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_SET_AUTO, 0);
	struct nl_result tmp;
	int ret;

	if (!msg)
		return -ENOMEM;
	if ((on >= 0 && nla_put_u8(msg, PCOPY_A_AUTO_ON, on)) ||
	    (comm && nla_put_string(msg, PCOPY_A_AUTO_COMM, comm)) ||
	    (cgroup && nla_put_u64(msg, PCOPY_A_AUTO_CGROUP, cgroup)) ||
	    (max && nla_put_u32(msg, PCOPY_A_AUTO_MAX, max))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = nl_xfer(sk, msg, r ? r : &tmp);
	nlmsg_free(msg);
	if (!r)
		nl_result_free(&tmp);
	return ret;
}

/* Wait up to 5 s for status @key to reach @val. */
static int wait_key(const char *key, long long val)
{
	return wait_status(key, val, 5000);
}

/* Wait up to 5 s for a session of @pid; 0 and @st, or -errno. */
static int wait_session(struct nl_sock *sk, int fam, pid_t pid, struct sess_stats *st)
{
	int i, ret = -ENOENT;

	for (i = 0; i < 500 && ret == -ENOENT; i++) {
		ret = sess_get_by(sk, fam, pid, 0, false, st, NULL);
		if (ret == -ENOENT)
			sleep_ms(10);
	}
	return ret;
}

FIXTURE(au) {
	struct nl_sock *sk;
	int fam;
	struct sess_stats st;
};

FIXTURE_SETUP(au)
{
	/* a fresh module: counters at 0, auto off */
	if (module_loaded())
		ASSERT_EQ(0, module_unload());
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	if (!(pcopy_status("sessions") == 0))
		TH_LOG("sessions left: %lld", pcopy_status("sessions"));
}

FIXTURE_TEARDOWN(au)
{
	set_auto(self->sk, self->fam, 0, NULL, 0, 0, NULL);
	nl_socket_free(self->sk);
}

/* On, by command name: the matching kid is tracked, the other is not. */
TEST_F(au, comm_filter)
{
	struct sess_stats *st = &self->st;
	struct kid yes, no;
	char *status;

	/* the name is compared on its first 15 characters, as the kernel keeps it */
	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, "pcopy-auto-yes-and-more", 0, 0, NULL));
	status = read_file(PCOPY_DEBUGFS "/status");
	ASSERT_NE(NULL, status);
	EXPECT_NE(NULL, strstr(status, "auto:\ton\nauto_comm:\tpcopy-auto-yes-\n")) TH_LOG("%s", status);
	free(status);

	ASSERT_EQ(0, kid_start(&no, "pcopy-auto-no"));
	ASSERT_EQ(0, kid_step(&no));		/* registered */
	ASSERT_EQ(0, wait_key("auto_filtered", 1));
	ASSERT_EQ(0, kid_start(&yes, "pcopy-auto-yes-and-more"));
	ASSERT_EQ(0, kid_step(&yes));
	ASSERT_EQ(0, wait_session(self->sk, self->fam, yes.pid, st));
	EXPECT_EQ(1, pcopy_status("auto_created"));

	ASSERT_EQ(0, kid_step(&yes));		/* faulted */
	ASSERT_EQ(0, kid_step(&no));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, yes.pid, 0, false, st, NULL));
	EXPECT_EQ(NFAULTS, st->faults);
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, no.pid, 0, false, NULL, NULL));
	EXPECT_EQ(1, pcopy_status("sessions"));
	EXPECT_EQ(1, pcopy_status("auto_filtered"));
	EXPECT_EQ(0, pcopy_status("auto_capped"));
	EXPECT_EQ(0, kid_end(&yes));
	EXPECT_EQ(0, kid_end(&no));
	EXPECT_EQ(0, wait_key("sessions", 0));
}

/* Off: a registration is not even looked at; on again, it is. */
TEST_F(au, off_does_nothing)
{
	struct kid a, b;

	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, set_auto(self->sk, self->fam, 0, NULL, 0, 0, NULL));
	ASSERT_EQ(0, kid_start(&a, "pcopy-auto-a"));
	ASSERT_EQ(0, kid_step(&a));
	/* any process, now */
	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, kid_start(&b, "pcopy-auto-b"));
	ASSERT_EQ(0, kid_step(&b));
	ASSERT_EQ(0, wait_session(self->sk, self->fam, b.pid, &self->st));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, a.pid, 0, false, NULL, NULL));
	EXPECT_EQ(1, pcopy_status("auto_created"));
	EXPECT_EQ(0, pcopy_status("auto_filtered"));
	ASSERT_EQ(0, kid_step(&b));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, b.pid, 0, false, &self->st, NULL));
	EXPECT_EQ(NFAULTS, self->st.faults);
	kid_end(&a);
	kid_end(&b);
}

/* The cap: the second kid is refused and counted, and the first kept. */
TEST_F(au, cap_refuses_and_counts)
{
	struct kid a, b;

	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, "pcopy-auto-cap", 0, 1, NULL));
	ASSERT_EQ(0, kid_start(&a, "pcopy-auto-cap"));
	ASSERT_EQ(0, kid_step(&a));
	ASSERT_EQ(0, wait_session(self->sk, self->fam, a.pid, &self->st));
	ASSERT_EQ(0, kid_start(&b, "pcopy-auto-cap"));
	ASSERT_EQ(0, kid_step(&b));
	ASSERT_EQ(0, wait_key("auto_capped", 1));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, b.pid, 0, false, NULL, NULL));
	EXPECT_EQ(1, pcopy_status("auto_created"));
	EXPECT_EQ(1, pcopy_status("sessions"));
	/* the agent shows it */
	{
		char cmd[256], *out = NULL;

		snprintf(cmd, sizeof(cmd), "%s status", src_path("agent/pcopy"));
		EXPECT_EQ(0, run_capture(cmd, &out));
		EXPECT_NE(NULL, strstr(out, "auto-attach:    on (command pcopy-auto-cap, at most 1 sessions); 1 sessions created, 0 processes filtered out, 1 REFUSED AT THE CAP\n"))
			TH_LOG("%s", out);
		free(out);
	}
	kid_end(&a);
	kid_end(&b);
}

/* A cgroup v2 subtree: the kid inside is tracked, the one outside not. */
TEST_F(au, cgroup_filter)
{
	struct kid in, out;
	char val[32];
	struct stat st;
	int fd;

	mkdir(CG_ROOT, 0755);
	if (mount("none", CG_ROOT, "cgroup2", 0, NULL) && errno != EBUSY) {
		int err = errno;

		/* a kernel without cgroups refuses the filter, cleanly */
		if (err == ENODEV)
			EXPECT_EQ(-EOPNOTSUPP,
				  set_auto(self->sk, self->fam, 1, NULL, 1, 0, NULL));
		rmdir(CG_ROOT);
		SKIP(return, "no cgroup2: %s", strerror(err));
	}
	if (mkdir(CG_DIR, 0755) && errno != EEXIST)
		SKIP(goto umount, "cannot make a cgroup: %s", strerror(errno));
	ASSERT_EQ(0, stat(CG_DIR, &st));
	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, NULL, st.st_ino, 0, NULL));

	ASSERT_EQ(0, kid_start(&in, "pcopy-auto-cg"));
	fd = open(CG_DIR "/cgroup.procs", O_WRONLY);
	ASSERT_LE(0, fd);
	snprintf(val, sizeof(val), "%d", in.pid);
	ASSERT_LT(0, write(fd, val, strlen(val)));
	close(fd);
	ASSERT_EQ(0, kid_start(&out, "pcopy-auto-cg"));
	ASSERT_EQ(0, kid_step(&out));
	ASSERT_EQ(0, wait_key("auto_filtered", 1));
	ASSERT_EQ(0, kid_step(&in));
	ASSERT_EQ(0, wait_session(self->sk, self->fam, in.pid, &self->st));
	EXPECT_EQ(-ENOENT, sess_get_by(self->sk, self->fam, out.pid, 0, false, NULL, NULL));
	kid_end(&in);
	kid_end(&out);
	EXPECT_EQ(0, wait_key("sessions", 0));
	rmdir(CG_DIR);
umount:
	umount(CG_ROOT);
	rmdir(CG_ROOT);
}

static void *idle_thread(void *arg)
{
	pause();
	return arg;
}

static int uffd_for_thread;

static void *resolve_thread(void *arg)
{
	struct uffd_msg m;
	int i;

	for (i = 0; i < NFAULTS; i++)
		if (uffd_read_msg(uffd_for_thread, &m, 30000) ||
		    uffd_copy_page(uffd_for_thread, m.arg.pagefault.address, 7))
			break;
	return arg;
}

/*
 * A process tracked with PCOPY_A_FOLLOW_FORKS: it starts a thread (no
 * session), forks a child that faults (a session of its own, linked to the
 * parent's, counting the child's faults only), and vfork()s a child that
 * execs sleep (tracked once it has exec'd).
 */
TEST_F(au, follow_forks)
{
	int pgo[2], pdone[2], cgo[2], cdone[2], i;
	struct sess_stats *st = &self->st;
	uint64_t parent_id;
	pid_t p, c, v;
	struct nl_result r;
	struct nl_msg *msg;
	char ch;

	ASSERT_EQ(0, pipe(pgo));
	ASSERT_EQ(0, pipe(pdone));
	ASSERT_EQ(0, pipe(cgo));
	ASSERT_EQ(0, pipe(cdone));
	p = fork();
	ASSERT_LE(0, p);
	if (p == 0) {
		pthread_t t;

		if (read(pgo[0], &ch, 1) != 1 ||
		    pthread_create(&t, NULL, idle_thread, NULL))
			_exit(1);
		c = fork();
		if (c == 0) {
			char *area;
			int uffd;

			if (read(cgo[0], &ch, 1) != 1)
				_exit(1);
			uffd = uffd_open(0);
			area = uffd < 0 ? NULL : uffd_area(uffd, NFAULTS * 4096UL);
			if (!area)
				_exit(2);
			/* a resolving thread: a fork would get a session too */
			uffd_for_thread = uffd;
			if (pthread_create(&t, NULL, resolve_thread, NULL))
				_exit(3);
			for (i = 0; i < NFAULTS; i++)
				(void)*(volatile char *)(area + i * 4096UL);
			pthread_join(t, NULL);
			if (write(cdone[1], "f", 1) != 1)
				_exit(3);
			read(cgo[0], &ch, 1);
			_exit(0);
		}
		if (write(pdone[1], &c, sizeof(c)) != sizeof(c))
			_exit(2);
		v = vfork();
		if (v == 0) {
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
		if (write(pdone[1], &v, sizeof(v)) != sizeof(v))
			_exit(2);
		read(pgo[0], &ch, 1);
		_exit(0);
	}

	msg = pcopy_msg(self->fam, PCOPY_CMD_SESSION_NEW, 0);
	ASSERT_EQ(0, nla_put_u32(msg, PCOPY_A_PID, p));
	ASSERT_EQ(0, nla_put_flag(msg, PCOPY_A_FOLLOW_FORKS));
	ASSERT_EQ(0, nl_xfer(self->sk, msg, &r));
	nlmsg_free(msg);
	ASSERT_NE(NULL, r.tb[PCOPY_A_FOLLOW_FORKS]);
	ASSERT_EQ(0, parse_session(r.tb, st));
	parent_id = st->session_id;
	nl_result_free(&r);

	ASSERT_EQ(1, write(pgo[1], "g", 1));
	ASSERT_EQ((ssize_t)sizeof(c), read(pdone[0], &c, sizeof(c)));
	ASSERT_EQ((ssize_t)sizeof(v), read(pdone[0], &v, sizeof(v)));
	ASSERT_EQ(0, wait_session(self->sk, self->fam, c, st));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, c, 0, false, NULL, &r));
	ASSERT_NE(NULL, r.tb[PCOPY_A_PARENT_ID]);
	EXPECT_EQ(parent_id, nla_get_u64(r.tb[PCOPY_A_PARENT_ID]));
	EXPECT_NE(NULL, r.tb[PCOPY_A_FOLLOW_FORKS]);
	nl_result_free(&r);
	/* the vfork()ed child: once it has exec'd */
	ASSERT_EQ(0, wait_session(self->sk, self->fam, v, st));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, v, 0, false, NULL, &r));
	ASSERT_NE(NULL, r.tb[PCOPY_A_PARENT_ID]);
	EXPECT_EQ(parent_id, nla_get_u64(r.tb[PCOPY_A_PARENT_ID]));
	nl_result_free(&r);

	ASSERT_EQ(1, write(cgo[1], "g", 1));
	ASSERT_EQ(1, read(cdone[0], &ch, 1));
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, c, 0, false, st, NULL));
	EXPECT_EQ(NFAULTS, st->faults);
	ASSERT_EQ(0, sess_get_by(self->sk, self->fam, p, 0, false, st, NULL));
	EXPECT_EQ(0, st->faults);
	/* the parent, the forked child and the vfork()ed one; no thread */
	EXPECT_EQ(3, pcopy_status("sessions"));
	EXPECT_EQ(2, pcopy_status("forks_followed"));
	EXPECT_EQ(0, pcopy_status("forks_lost"));

	kill(v, SIGKILL);
	ASSERT_EQ(1, write(cgo[1], "x", 1));
	ASSERT_EQ(1, write(pgo[1], "x", 1));
	waitpid(c, NULL, 0);
	waitpid(p, NULL, 0);
	EXPECT_EQ(0, wait_key("sessions", 0));
}

/* Bad requests: an errno, the attribute named, the setting unchanged. */
TEST_F(au, bad_requests)
{
	struct nl_result r;
	char *status;

	ASSERT_EQ(0, set_auto(self->sk, self->fam, 1, "keep-me", 0, 0, NULL));
	EXPECT_EQ(-EINVAL, set_auto(self->sk, self->fam, -1, "x", 0, 0, &r));
	EXPECT_TRUE(r.has_miss);
	EXPECT_EQ(PCOPY_A_AUTO_ON, r.miss_type);
	nl_result_free(&r);
	EXPECT_EQ(-ERANGE, set_auto(self->sk, self->fam, 2, NULL, 0, 0, &r));
	nl_result_free(&r);
	EXPECT_EQ(-ERANGE, set_auto(self->sk, self->fam, 1, NULL, 0, PCOPY_MAX_SESSIONS + 1, &r));
	nl_result_free(&r);
	EXPECT_EQ(-EINVAL, set_auto(self->sk, self->fam, 0, "x", 0, 0, &r));
	EXPECT_STREQ("a filter needs PCOPY_A_AUTO_ON 1", r.msg);
	nl_result_free(&r);
	status = read_file(PCOPY_DEBUGFS "/status");
	ASSERT_NE(NULL, status);
	EXPECT_NE(NULL, strstr(status, "auto:\ton\nauto_comm:\tkeep-me\n")) TH_LOG("%s", status);
	free(status);
}

TEST_HARNESS_MAIN
