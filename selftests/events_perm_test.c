// SPDX-License-Identifier: GPL-2.0
/*
 * Who may listen to the "events" multicast group (issue 8, bug 6): a
 * listener without CAP_NET_ADMIN cannot join it, a privileged one receives
 * exactly the events of a session (one SESSION_NEW, one SESSION_DEL, the
 * right pid and reason), and a listener in another network namespace
 * receives nothing: events name host pids and go to the initial namespace
 * only.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

struct ev {
	uint8_t cmd;
	uint32_t pid;
	uint32_t reason;	/* ~0u: none */
};

#define MAX_EV 64

/*
 * Collect every pcopy message arriving on raw socket @fd for @ms
 * milliseconds (or until @stop_after events); returns the number kept in
 * @out, or -errno.  Anything that is not a well-formed pcopy event counts
 * as -EPROTO.
 */
static int collect(int fd, int fam, int ms, struct ev *out, int stop_after)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	char buf[16384];
	int n = 0;

	for (;;) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t len;

		if (left <= 0 || n >= stop_after)
			return n;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0)
			return errno == EAGAIN ? n : -errno;
		for (nlh = (void *)buf; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			struct nlattr *tb[PCOPY_A_MAX + 1];
			struct genlmsghdr *gh = NLMSG_DATA(nlh);

			if (nlh->nlmsg_type != fam ||
			    nla_parse(tb, PCOPY_A_MAX, (void *)((char *)gh + GENL_HDRLEN),
				      nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, NULL) ||
			    !tb[PCOPY_A_PID])
				return -EPROTO;
			if (n < MAX_EV)
				out[n++] = (struct ev){
					gh->cmd, nla_get_u32(tb[PCOPY_A_PID]),
					tb[PCOPY_A_END_REASON] ?
					nla_get_u32(tb[PCOPY_A_END_REASON]) : ~0u,
				};
		}
	}
}

/* A raw generic netlink socket and the events group id; 0 or -errno. */
static int raw_open(int *fd, int *fam, int *grp)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nl_sock *sk = genl_open();

	if (!sk)
		return -ENOTCONN;
	*fam = pcopy_family(sk);
	*grp = genl_ctrl_resolve_grp(sk, PCOPY_GENL_NAME, PCOPY_MCGRP_EVENTS);
	nl_socket_free(sk);
	if (*fam < 0 || *grp < 0)
		return -ENOENT;
	*fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (*fd < 0)
		return -errno;
	/*
	 * Bind to get a port id: multicast skips sockets whose port id is the
	 * sender's, and the kernel sends as port 0.
	 */
	return bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
}

static int join(int fd, int grp)
{
	return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
			  sizeof(grp)) ? -errno : 0;
}

/* A child that waits on a pipe; the target of the sessions. */
static pid_t idle_child(int *wfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;

		close(p[1]);
		read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

/* Create and delete a session of @pid; 0 or -errno. */
static int new_and_del(pid_t pid)
{
	struct nl_sock *sk = genl_open();
	struct nl_result r;
	int fam, ret;

	if (!sk)
		return -ENOTCONN;
	fam = pcopy_family(sk);
	ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, pid, &r);
	nl_result_free(&r);
	if (!ret)
		ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, pid, &r);
	nl_result_free(&r);
	nl_socket_free(sk);
	return ret;
}

/*
 * The listener runs in a child set up by @how: 'c' drops every capability,
 * 'n' becomes nobody, 'N' moves to a new network namespace (as root).  It
 * reports the join's errno and what it then received while the parent made
 * and deleted a session.
 */
struct report {
	int join_err;
	int received;
	int setup_err;
};

static void listener(char how, int ready_w, int go_r, int rep_w)
{
	struct report rep = { 0 };
	struct ev evs[MAX_EV];
	int fd, fam, grp;
	char c;

	if (how == 'c')
		rep.setup_err = drop_admin_caps();
	else if (how == 'n')
		rep.setup_err = setresgid(65534, 65534, 65534) ||
				setresuid(65534, 65534, 65534) ? -errno : 0;
	else if (how == 'N')
		rep.setup_err = unshare(CLONE_NEWNET) ? -errno : 0;
	if (!rep.setup_err)
		rep.setup_err = raw_open(&fd, &fam, &grp);
	if (!rep.setup_err) {
		rep.join_err = join(fd, grp);
		write(ready_w, "r", 1);
		/* wait for the parent's session to be made and deleted */
		read(go_r, &c, 1);
		rep.received = collect(fd, fam, 1000, evs, MAX_EV);
	} else {
		write(ready_w, "r", 1);
	}
	write(rep_w, &rep, sizeof(rep));
	_exit(0);
}

static void run_listener(struct __test_metadata *_metadata, char how,
			 struct report *rep)
{
	int ready[2], go[2], res[2], fd, fam, grp, wfd, status, i, n;
	struct ev evs[MAX_EV];
	pid_t l, target;
	char c;

	ASSERT_EQ(0, module_ensure_loaded());
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	l = fork();
	ASSERT_LE(0, l);
	if (l == 0)
		listener(how, ready[1], go[0], res[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	/* a privileged listener in our namespace sees the same session */
	ASSERT_EQ(0, raw_open(&fd, &fam, &grp));
	ASSERT_EQ(0, join(fd, grp));
	target = idle_child(&wfd);
	ASSERT_LT(0, target);
	ASSERT_EQ(0, new_and_del(target));
	ASSERT_EQ(1, write(go[1], "g", 1));
	n = collect(fd, fam, 1000, evs, 2);
	ASSERT_EQ(2, n);
	EXPECT_EQ(PCOPY_CMD_SESSION_NEW, evs[0].cmd);
	EXPECT_EQ((uint32_t)target, evs[0].pid);
	EXPECT_EQ(PCOPY_CMD_SESSION_DEL, evs[1].cmd);
	EXPECT_EQ((uint32_t)target, evs[1].pid);
	EXPECT_EQ(PCOPY_END_DELETED, evs[1].reason);

	ASSERT_EQ(sizeof(*rep), read(res[0], rep, sizeof(*rep)));
	ASSERT_EQ(l, waitpid(l, &status, 0));
	EXPECT_EQ(0, rep->setup_err);
	close(wfd);
	waitpid(target, &status, 0);
	close(fd);
	for (i = 0; i < 2; i++) {
		close(ready[i]);
		close(go[i]);
		close(res[i]);
	}
}

TEST(unprivileged_listener_cannot_join)
{
	struct report rep;

	run_listener(_metadata, 'c', &rep);
	EXPECT_EQ(-EPERM, rep.join_err);
	/* not a member: nothing arrives */
	EXPECT_EQ(0, rep.received);
}

TEST(nobody_cannot_join)
{
	struct report rep;

	run_listener(_metadata, 'n', &rep);
	EXPECT_EQ(-EPERM, rep.join_err);
	EXPECT_EQ(0, rep.received);
}

TEST(other_netns_receives_nothing)
{
	struct report rep;

	run_listener(_metadata, 'N', &rep);
	/* root may join there, and still gets no event of a host pid */
	EXPECT_EQ(0, rep.join_err);
	EXPECT_EQ(0, rep.received);
}

/* A session that ends by exit: NEW, then DEL with reason EXITED, once. */
TEST(privileged_listener_exact_events)
{
	struct ev evs[MAX_EV];
	int fd, fam, grp, wfd, status, n;
	struct nl_result r;
	struct nl_sock *sk;
	pid_t target;

	ASSERT_EQ(0, module_ensure_loaded());
	ASSERT_EQ(0, raw_open(&fd, &fam, &grp));
	ASSERT_EQ(0, join(fd, grp));
	sk = genl_open();
	ASSERT_NE(NULL, sk);
	target = idle_child(&wfd);
	ASSERT_LT(0, target);
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, target, &r));
	nl_result_free(&r);
	/* tracking it twice is refused, and announces nothing */
	EXPECT_EQ(-EEXIST, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, target, &r));
	nl_result_free(&r);
	close(wfd);
	ASSERT_EQ(target, waitpid(target, &status, 0));
	/* everything for 1.5 s: exactly the two events */
	n = collect(fd, fam, 1500, evs, MAX_EV);
	ASSERT_EQ(2, n);
	EXPECT_EQ(PCOPY_CMD_SESSION_NEW, evs[0].cmd);
	EXPECT_EQ((uint32_t)target, evs[0].pid);
	EXPECT_EQ(~0u, evs[0].reason);
	EXPECT_EQ(PCOPY_CMD_SESSION_DEL, evs[1].cmd);
	EXPECT_EQ((uint32_t)target, evs[1].pid);
	EXPECT_EQ(PCOPY_END_EXITED, evs[1].reason);
	EXPECT_EQ(-ENOENT, sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, target, &r));
	nl_result_free(&r);
	nl_socket_free(sk);
	close(fd);
}

TEST_HARNESS_MAIN
