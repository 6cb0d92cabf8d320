// SPDX-License-Identifier: GPL-2.0
/*
 * Session lifetime: a tracked process that exits with faults pending, and
 * rmmod with live sessions and pending faults.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGE 4096UL
#define NBLOCKED 3

struct blocked_child {
	pid_t pid;
	int cmd_w;		/* 'g': start faulting, 'r': resolve and exit */
};

static void *toucher(void *arg)
{
	return (void *)(unsigned long)*(volatile unsigned char *)arg;
}

/*
 * A child with NBLOCKED threads that fault on userfaultfd memory once told
 * to ('g'), and stay blocked until told to resolve ('r'); it then checks
 * what they read and exits 0.
 */
static struct blocked_child spawn_blocked(void)
{
	struct blocked_child bc = { -1, -1 };
	int p[2];

	if (pipe(p))
		return bc;
	bc.pid = fork();
	if (bc.pid == 0) {
		pthread_t th[NBLOCKED];
		struct uffd_msg msg;
		int uffd, i;
		char *area, c;

		close(p[1]);
		uffd = uffd_open(0);
		area = uffd >= 0 ? uffd_area(uffd, NBLOCKED * PAGE) : NULL;
		if (uffd < 0 || !area || read(p[0], &c, 1) != 1 || c != 'g')
			_exit(10);
		for (i = 0; i < NBLOCKED; i++)
			pthread_create(&th[i], NULL, toucher, area + i * PAGE);
		if (read(p[0], &c, 1) != 1 || c != 'r')
			_exit(11);
		for (i = 0; i < NBLOCKED; i++)
			if (uffd_read_msg(uffd, &msg, 20000) ||
			    uffd_copy_page(uffd, msg.arg.pagefault.address, 0x42))
				_exit(12);
		for (i = 0; i < NBLOCKED; i++) {
			void *v;

			pthread_join(th[i], &v);
			if ((unsigned long)v != 0x42)
				_exit(13);
		}
		_exit(0);
	}
	close(p[0]);
	bc.cmd_w = p[1];
	return bc;
}

FIXTURE(life) {
	struct nl_sock *sk;
	struct nl_sock *ev;
	int fam;
	struct sess_stats st;
};

FIXTURE_SETUP(life)
{
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->ev = events_open();
	ASSERT_NE(NULL, self->ev);
}

FIXTURE_TEARDOWN(life)
{
	nl_socket_free(self->ev);
	nl_socket_free(self->sk);
	module_ensure_loaded();
}

static char *session_dir(pid_t pid)
{
	static char path[128];

	snprintf(path, sizeof(path), PCOPY_DEBUGFS "/sessions/%d", pid);
	return path;
}

TEST_F(life, exit_with_pending_faults)
{
	long long base = file_key(PCOPY_DEBUGFS "/status", "sessions_allocated");
	struct blocked_child bc = spawn_blocked();
	struct nl_result r;
	uint64_t end;
	int status;
	bool found;

	ASSERT_LT(0, bc.pid);
	ASSERT_LE(0, base);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, bc.pid, &r));
	nl_result_free(&r);
	EXPECT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_NEW, bc.pid, 5000, NULL));
	EXPECT_EQ(0, access(session_dir(bc.pid), F_OK));
	ASSERT_EQ(1, write(bc.cmd_w, "g", 1));
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, bc.pid, NBLOCKED, 20000));

	ASSERT_EQ(0, kill(bc.pid, SIGKILL));
	ASSERT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_DEL, bc.pid, 20000, &self->st));
	EXPECT_EQ(PCOPY_END_EXITED, self->st.end_reason);
	/* the kill ended every blocked fault: counted, and as interrupted */
	EXPECT_EQ(NBLOCKED, self->st.faults);
	EXPECT_EQ(NBLOCKED, self->st.interrupted);
	EXPECT_EQ(0, self->st.outstanding);
	ASSERT_EQ(bc.pid, waitpid(bc.pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));

	EXPECT_EQ(-ENOENT, sess_get(self->sk, self->fam, bc.pid, &self->st));
	EXPECT_LE(0, sess_dump_count(self->sk, self->fam, bc.pid, &found));
	EXPECT_FALSE(found);
	EXPECT_NE(0, access(session_dir(bc.pid), F_OK));
	/* nothing leaks: the session's memory goes after an RCU grace period */
	end = now_ns() + 10000000000ull;
	while (file_key(PCOPY_DEBUGFS "/status", "sessions_allocated") != base &&
	       now_ns() < end)
		sleep_ms(10);
	EXPECT_EQ(base, file_key(PCOPY_DEBUGFS "/status", "sessions_allocated"));
	close(bc.cmd_w);
}

TEST_F(life, exit_of_idle_process)
{
	struct blocked_child bc = spawn_blocked();
	struct nl_result r;
	int status;

	ASSERT_LT(0, bc.pid);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, bc.pid, &r));
	nl_result_free(&r);
	close(bc.cmd_w);	/* the child exits 10 on EOF */
	ASSERT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_DEL, bc.pid, 20000, &self->st));
	EXPECT_EQ(PCOPY_END_EXITED, self->st.end_reason);
	EXPECT_EQ(0, self->st.faults);
	ASSERT_EQ(bc.pid, waitpid(bc.pid, &status, 0));
	EXPECT_EQ(10, WEXITSTATUS(status));
	EXPECT_EQ(-ENOENT, sess_get(self->sk, self->fam, bc.pid, &self->st));
}

TEST_F(life, delete_announces_end)
{
	struct blocked_child bc = spawn_blocked();
	struct nl_result r;
	int status;

	ASSERT_LT(0, bc.pid);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, bc.pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, bc.pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_DEL, bc.pid, 5000, &self->st));
	EXPECT_EQ(PCOPY_END_DELETED, self->st.end_reason);
	EXPECT_EQ(-ENOENT, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, bc.pid, &r));
	EXPECT_STREQ("process is not tracked", r.msg);
	nl_result_free(&r);
	kill(bc.pid, SIGKILL);
	waitpid(bc.pid, &status, 0);
	close(bc.cmd_w);
}

/* rmmod while a tracked process has threads blocked in userfaults. */
TEST_F(life, rmmod_with_live_sessions_and_pending_faults)
{
	struct blocked_child bc = spawn_blocked();
	struct blocked_child idle = spawn_blocked();
	struct nl_result r;
	int status;
	bool found;

	ASSERT_LT(0, bc.pid);
	ASSERT_LT(0, idle.pid);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, bc.pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, idle.pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(1, write(bc.cmd_w, "g", 1));
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, bc.pid, NBLOCKED, 20000));

	ASSERT_EQ(0, module_unload());
	/* both sessions were announced as ended by the unload */
	ASSERT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_DEL, bc.pid, 5000, &self->st));
	EXPECT_EQ(PCOPY_END_UNLOAD, self->st.end_reason);
	EXPECT_EQ(NBLOCKED, self->st.outstanding);
	ASSERT_EQ(0, events_wait(self->ev, PCOPY_CMD_SESSION_DEL, idle.pid, 5000, &self->st));
	EXPECT_EQ(PCOPY_END_UNLOAD, self->st.end_reason);

	/* the blocked threads come back through the (gone) probe safely */
	ASSERT_EQ(0, module_load());
	ASSERT_EQ(1, write(bc.cmd_w, "r", 1));
	ASSERT_EQ(bc.pid, waitpid(bc.pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	nl_socket_free(self->sk);
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	EXPECT_EQ(0, sess_dump_count(self->sk, self->fam, bc.pid, &found));
	EXPECT_EQ(0, file_key(PCOPY_DEBUGFS "/status", "sessions_allocated"));

	/* and the fresh module tracks as before */
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, idle.pid, &r));
	nl_result_free(&r);
	EXPECT_EQ(1, sess_dump_count(self->sk, self->fam, idle.pid, &found));
	EXPECT_TRUE(found);
	/* unload again, this time with a session and no fault */
	ASSERT_EQ(0, module_unload());
	ASSERT_EQ(0, module_load());
	close(idle.cmd_w);
	waitpid(idle.pid, &status, 0);
	close(bc.cmd_w);
}

TEST_HARNESS_MAIN
