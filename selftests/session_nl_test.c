// SPDX-License-Identifier: GPL-2.0
/*
 * The session commands over netlink: every command with a missing or
 * malformed attribute gets the right errno and extack; every command needs
 * CAP_NET_ADMIN; listing by dump.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

static const uint8_t pid_cmds[] = {
	PCOPY_CMD_SESSION_NEW, PCOPY_CMD_SESSION_DEL, PCOPY_CMD_SESSION_GET,
	PCOPY_CMD_SESSION_RESET, PCOPY_CMD_SET_VCPU,
};

FIXTURE(sn) {
	struct nl_sock *sk;
	int fam;
	struct nl_result r;
	struct nl_msg *msg;
};

FIXTURE_SETUP(sn)
{
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->msg = NULL;
	memset(&self->r, 0, sizeof(self->r));
}

FIXTURE_TEARDOWN(sn)
{
	nl_result_free(&self->r);
	if (self->msg)
		nlmsg_free(self->msg);
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, getpid(), &self->r);
	nl_result_free(&self->r);
	nl_socket_free(self->sk);
}

static void reset(struct nl_result *r, struct nl_msg **msg)
{
	nl_result_free(r);
	if (*msg)
		nlmsg_free(*msg);
	*msg = NULL;
}

TEST_F(sn, missing_pid)
{
	unsigned int i;

	for (i = 0; i < sizeof(pid_cmds); i++) {
		self->msg = pcopy_msg(self->fam, pid_cmds[i], 0);
		EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r)) TH_LOG("cmd %u", pid_cmds[i]);
		EXPECT_STREQ("PCOPY_A_PID is required", self->r.msg);
		EXPECT_TRUE(self->r.has_miss);
		EXPECT_EQ(PCOPY_A_PID, self->r.miss_type);
		reset(&self->r, &self->msg);
	}
}

TEST_F(sn, malformed_pid)
{
	struct nlattr *a;
	unsigned int i;

	for (i = 0; i < sizeof(pid_cmds); i++) {
		/* a u16 */
		self->msg = pcopy_msg(self->fam, pid_cmds[i], 0);
		nla_put_u16(self->msg, PCOPY_A_PID, 1);
		a = (struct nlattr *)genlmsg_attrdata(nlmsg_data(nlmsg_hdr(self->msg)), 0);
		EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
		EXPECT_STREQ("invalid attribute length", self->r.msg);
		EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
		reset(&self->r, &self->msg);

		/* pid 0 */
		self->msg = pcopy_msg(self->fam, pid_cmds[i], 0);
		nla_put_u32(self->msg, PCOPY_A_PID, 0);
		a = (struct nlattr *)genlmsg_attrdata(nlmsg_data(nlmsg_hdr(self->msg)), 0);
		EXPECT_EQ(-ERANGE, nl_xfer(self->sk, self->msg, &self->r));
		EXPECT_STREQ("integer out of range", self->r.msg);
		EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
		reset(&self->r, &self->msg);

		/* something only the module sends */
		self->msg = pcopy_msg(self->fam, pid_cmds[i], 0);
		nla_put_u32(self->msg, PCOPY_A_PID, getpid());
		a = nla_reserve(self->msg, PCOPY_A_STATS | NLA_F_NESTED, 0);
		EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
		EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
		reset(&self->r, &self->msg);
	}
}

TEST_F(sn, new_errors)
{
	int status;
	pid_t child;

	/* no such process */
	EXPECT_EQ(-ESRCH, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
				   4194304 + 7, &self->r));
	EXPECT_STREQ("no such process", self->r.msg);
	EXPECT_TRUE(self->r.has_offs);
	nl_result_free(&self->r);

	/* a kernel thread: kthreadd */
	EXPECT_EQ(-EINVAL, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
				    2, &self->r));
	EXPECT_STREQ("process has no address space (a kernel thread)", self->r.msg);
	nl_result_free(&self->r);

	/* a zombie */
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(0);
	{
		siginfo_t si;

		ASSERT_EQ(0, waitid(P_PID, child, &si, WEXITED | WNOWAIT));
	}
	EXPECT_EQ(-ESRCH, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
				   child, &self->r));
	EXPECT_STREQ("process is exiting", self->r.msg);
	nl_result_free(&self->r);
	waitpid(child, &status, 0);

	/* twice */
	EXPECT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
			      getpid(), &self->r));
	nl_result_free(&self->r);
	EXPECT_EQ(-EEXIST, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
				    getpid(), &self->r));
	EXPECT_STREQ("process is already tracked", self->r.msg);
}

static void *idle_thread(void *arg)
{
	*(pid_t *)arg = sys_gettid();
	pause();
	return NULL;
}

TEST_F(sn, new_with_thread_id)
{
	pthread_t th;
	pid_t tid = 0;

	ASSERT_EQ(0, pthread_create(&th, NULL, idle_thread, &tid));
	while (!tid)
		sleep_ms(1);
	EXPECT_EQ(-ESRCH, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
				   tid, &self->r));
	EXPECT_STREQ("no such process (a thread id is not a process id)", self->r.msg);
	pthread_cancel(th);
	pthread_join(th, NULL);
}

TEST_F(sn, not_tracked)
{
	static const uint8_t cmds[] = {
		PCOPY_CMD_SESSION_DEL, PCOPY_CMD_SESSION_GET, PCOPY_CMD_SESSION_RESET,
	};
	unsigned int i;

	for (i = 0; i < sizeof(cmds); i++) {
		EXPECT_EQ(-ENOENT, sess_cmd(self->sk, self->fam, cmds[i], getpid(), &self->r));
		EXPECT_STREQ("process is not tracked", self->r.msg);
		EXPECT_TRUE(self->r.has_offs);
		nl_result_free(&self->r);
	}
	EXPECT_EQ(-ENOENT, set_vcpu(self->sk, self->fam, getpid(), getpid(), 0, &self->r));
	EXPECT_STREQ("process is not tracked", self->r.msg);
}

TEST_F(sn, set_vcpu_errors)
{
	struct nlattr *a;
	pid_t child;
	int status;

	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, getpid(), &self->r));
	nl_result_free(&self->r);

	/* missing tid, missing vcpu */
	self->msg = pcopy_msg(self->fam, PCOPY_CMD_SET_VCPU, 0);
	nla_put_u32(self->msg, PCOPY_A_PID, getpid());
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("PCOPY_A_TID is required", self->r.msg);
	EXPECT_EQ(PCOPY_A_TID, self->r.miss_type);
	reset(&self->r, &self->msg);
	self->msg = pcopy_msg(self->fam, PCOPY_CMD_SET_VCPU, 0);
	nla_put_u32(self->msg, PCOPY_A_PID, getpid());
	nla_put_u32(self->msg, PCOPY_A_TID, getpid());
	EXPECT_EQ(-EINVAL, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("PCOPY_A_VCPU is required", self->r.msg);
	EXPECT_EQ(PCOPY_A_VCPU, self->r.miss_type);
	reset(&self->r, &self->msg);

	/* vCPU index out of range */
	self->msg = pcopy_msg(self->fam, PCOPY_CMD_SET_VCPU, 0);
	nla_put_u32(self->msg, PCOPY_A_PID, getpid());
	nla_put_u32(self->msg, PCOPY_A_TID, getpid());
	a = nla_reserve(self->msg, PCOPY_A_VCPU, 4);
	*(uint32_t *)nla_data(a) = PCOPY_MAX_VCPUS;
	EXPECT_EQ(-ERANGE, nl_xfer(self->sk, self->msg, &self->r));
	EXPECT_STREQ("vCPU index out of range", self->r.msg);
	EXPECT_EQ(attr_offset(self->msg, a), self->r.offs);
	reset(&self->r, &self->msg);

	/* a thread of another process */
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		pause();
		_exit(0);
	}
	EXPECT_EQ(-ESRCH, set_vcpu(self->sk, self->fam, getpid(), child, 1, &self->r));
	EXPECT_STREQ("thread does not belong to the tracked process", self->r.msg);
	nl_result_free(&self->r);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);

	/* accepted: the largest index, and "no vCPU" */
	EXPECT_EQ(0, set_vcpu(self->sk, self->fam, getpid(), getpid(),
			      PCOPY_MAX_VCPUS - 1, &self->r));
	nl_result_free(&self->r);
	EXPECT_EQ(0, set_vcpu(self->sk, self->fam, getpid(), getpid(),
			      PCOPY_VCPU_NONE, &self->r));
}

TEST_F(sn, get_and_dump)
{
	struct sess_stats *st = malloc(sizeof(*st));
	pid_t child;
	bool found;
	int status, n0;

	ASSERT_NE(NULL, st);
	n0 = sess_dump_count(self->sk, self->fam, getpid(), &found);
	ASSERT_LE(0, n0);
	EXPECT_FALSE(found);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, getpid(), &self->r));
	/* the NEW reply is the session */
	ASSERT_EQ(0, parse_session(self->r.tb, st));
	EXPECT_EQ((uint32_t)getpid(), st->pid);
	EXPECT_EQ(0, st->faults);
	nl_result_free(&self->r);

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		pause();
		_exit(0);
	}
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, child, &self->r));
	nl_result_free(&self->r);
	EXPECT_EQ(n0 + 2, sess_dump_count(self->sk, self->fam, child, &found));
	EXPECT_TRUE(found);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, getpid(), getpid(), 5, &self->r));
	nl_result_free(&self->r);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, getpid(), st));
	EXPECT_EQ(1, st->known_vcpus);
	ASSERT_EQ(1, st->nvcpus);
	EXPECT_EQ(5, st->vcpus[0].index);
	EXPECT_EQ((uint32_t)getpid(), st->vcpus[0].tid);
	EXPECT_TRUE(st->vcpus[0].explicit_map);
	EXPECT_FALSE(st->truncated);

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	free(st);
}

/* Every session command needs CAP_NET_ADMIN. */
TEST(unprivileged_session_commands)
{
	unsigned int i;
	int status;
	pid_t pid;

	ASSERT_EQ(0, module_ensure_loaded());
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		cap_t none = cap_init();
		struct nl_result r;
		struct nl_sock *sk;
		int fam;

		if (!none || cap_set_proc(none))
			_exit(10);
		sk = genl_open();
		fam = sk ? pcopy_family(sk) : -1;
		if (fam < 0)
			_exit(11);
		for (i = 0; i < sizeof(pid_cmds); i++)
			if (sess_cmd(sk, fam, pid_cmds[i], getpid(), &r) != -EPERM)
				_exit(20 + i);
		if (sess_dump_count(sk, fam, 0, NULL) >= 0)
			_exit(30);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
