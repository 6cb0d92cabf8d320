// SPDX-License-Identifier: GPL-2.0
/*
 * SESSION_NEW racing the target's exit (issue 8, bug 1): thousands of
 * children that exit, are killed, are zombies or are already reaped at
 * about the moment pcopy is asked to track them.  Every answer must be 0
 * or ESRCH (never EINVAL: an exiting process is not a kernel thread), every
 * session that was created must end by itself with exactly one
 * SESSION_NEW and one SESSION_DEL (reason EXITED) event, and at the end no
 * session is left, nothing is still allocated and the module unloads.
 *
 * Environment: PCOPY_EXIT_RACE_N (iterations, default 3000),
 * PCOPY_EXIT_RACE_SECS (time cap, default 25), PCOPY_EXIT_RACE_SEED.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

enum kind {
	K_ALIVE,	/* blocked on a pipe: must be tracked (0) */
	K_EXIT,		/* exits by itself after a spin, racing the request */
	K_KILL,		/* SIGKILLed just before the request */
	K_ZOMBIE,	/* exited, not reaped: ESRCH */
	K_REAPED,	/* exited and reaped: ESRCH */
	NKINDS
};

static const char *const kind_name[NKINDS] = {
	"alive", "exit", "kill", "zombie", "reaped",
};

/* A spin of 0 .. 2^16 iterations, log-uniform, to vary the overlap. */
static unsigned long spin_len(void)
{
	unsigned int bits = rnd() % 17;

	return bits ? rnd() & ((1ul << bits) - 1) : 0;
}

static void spin(unsigned long n)
{
	volatile unsigned long i;

	for (i = 0; i < n; i++)
		;
}

struct ev_count {
	int news, dels, dels_exited, other;
};

static int ev_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[PCOPY_A_MAX + 1];
	struct ev_count *c = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCOPY_A_MAX, NULL) ||
	    !tb[PCOPY_A_PID]) {
		c->other++;
		return NL_OK;
	}
	if (gh->cmd == PCOPY_CMD_SESSION_NEW) {
		c->news++;
	} else if (gh->cmd == PCOPY_CMD_SESSION_DEL) {
		c->dels++;
		if (tb[PCOPY_A_END_REASON] &&
		    nla_get_u32(tb[PCOPY_A_END_REASON]) == PCOPY_END_EXITED)
			c->dels_exited++;
	} else {
		c->other++;
	}
	return NL_OK;
}

static int seq_any(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

/* Read every event already queued on the (non-blocking) socket. */
static void ev_drain(struct nl_sock *ev, struct ev_count *c)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);

	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, ev_cb, c);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, seq_any, NULL);
	while (nl_recvmsgs(ev, cb) >= 0)
		;
	nl_cb_put(cb);
}

/* The session of @pid (a zombie at most) is gone within @ms: 0, or -1. */
static int wait_gone(struct nl_sock *sk, int fam, pid_t pid, int ms,
		     uint64_t *waited_ns)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)ms * 1000000;
	struct nl_result r;
	int ret;

	for (;;) {
		ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_GET, pid, &r);
		nl_result_free(&r);
		if (ret == -ENOENT) {
			*waited_ns = now_ns() - t0;
			return 0;
		}
		if (now_ns() >= end)
			return -1;
		sleep_ms(1);
	}
}

TEST(new_racing_exit)
{
	long long n = env_num("PCOPY_EXIT_RACE_N", 3000);
	long long secs = env_num("PCOPY_EXIT_RACE_SECS", 25);
	/* the debug lane, several times slower, asks for fewer */
	long long least = env_num("PCOPY_EXIT_RACE_MIN", 500);
	uint64_t seed = env_num("PCOPY_EXIT_RACE_SEED", 0x5e551011);
	int results[NKINDS][3] = { { 0 } };	/* 0, ESRCH, other */
	struct ev_count ev = { 0 };
	uint64_t end, max_wait = 0, waited;
	long long base_alloc, i;
	int fam, tracked = 0, bad = 0, lingering = 0;
	struct nl_sock *sk, *evs;
	struct nl_result r;

	ASSERT_EQ(0, module_ensure_loaded());
	sk = genl_open();
	ASSERT_NE(NULL, sk);
	ASSERT_EQ(0, sock_rcvtimeo(nl_socket_get_fd(sk), 10000));
	fam = pcopy_family(sk);
	ASSERT_LT(0, fam);
	evs = events_open();
	ASSERT_NE(NULL, evs);
	ASSERT_EQ(0, nl_socket_set_nonblocking(evs));
	ASSERT_EQ(0, pcopy_status("sessions"));
	base_alloc = pcopy_status("sessions_allocated");
	ASSERT_EQ(0, base_alloc);

	rnd_seed(seed ? seed : 1);
	TH_LOG("seed %#llx, up to %lld iterations in %lld s",
	       (unsigned long long)seed, n, secs);
	end = now_ns() + secs * 1000000000ull;
	for (i = 0; i < n && now_ns() < end; i++) {
		enum kind k = i % NKINDS;
		unsigned long cspin = spin_len(), pspin = spin_len();
		siginfo_t si;
		int p[2], ret, status, slot;
		pid_t pid;

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char c;

			close(p[1]);
			if (k == K_EXIT || k == K_KILL || k == K_ALIVE)
				read(p[0], &c, 1);
			spin(cspin);
			_exit(0);
		}
		close(p[0]);
		switch (k) {
		case K_ALIVE:
			break;
		case K_EXIT:
			close(p[1]);
			p[1] = -1;
			spin(pspin);
			break;
		case K_KILL:
			spin(pspin);
			kill(pid, SIGKILL);
			break;
		case K_ZOMBIE:
			ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
			break;
		case K_REAPED:
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			break;
		default:
			break;
		}

		ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, pid, &r);
		slot = ret == 0 ? 0 : ret == -ESRCH ? 1 : 2;
		results[k][slot]++;
		if (slot == 2 ||
		    (k == K_ALIVE && ret) ||
		    ((k == K_ZOMBIE || k == K_REAPED) && ret != -ESRCH)) {
			if (bad++ < 10)
				TH_LOG("iteration %lld (%s, spins %lu/%lu): SESSION_NEW %d (%s) \"%s\"",
				       i, kind_name[k], cspin, pspin, ret,
				       strerror(-ret), r.msg);
		}
		nl_result_free(&r);
		if (ret == 0)
			tracked++;

		if (p[1] >= 0)
			close(p[1]);	/* K_ALIVE and K_KILL: let it go */
		if (k != K_REAPED) {
			/* a zombie keeps its pid: the session must be gone */
			ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
			if (wait_gone(sk, fam, pid, 5000, &waited)) {
				if (lingering++ < 10)
					TH_LOG("iteration %lld (%s): session of exited pid %d still there after 5 s",
					       i, kind_name[k], pid);
			} else if (waited > max_wait) {
				max_wait = waited;
			}
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
		}
		ev_drain(evs, &ev);
	}

	for (int k = 0; k < NKINDS; k++)
		TH_LOG("%-6s: %d tracked, %d ESRCH, %d other", kind_name[k],
		       results[k][0], results[k][1], results[k][2]);
	TH_LOG("%lld iterations, %d sessions created, longest wait for an end %llu us",
	       i, tracked, (unsigned long long)(max_wait / 1000));
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, lingering);
	/* the time cap must leave a real number of races */
	EXPECT_LE(n < least ? n : least, i);
	/* a live, blocked child is always tracked; a dead one never */
	EXPECT_EQ(results[K_ALIVE][0], (i + NKINDS - 1 - K_ALIVE) / NKINDS);
	EXPECT_EQ(0, results[K_ZOMBIE][0]);
	EXPECT_EQ(0, results[K_REAPED][0]);

	/* exactly one NEW and one DEL (exited) event per session created */
	end = now_ns() + 5000000000ull;
	while (ev.dels < tracked && now_ns() < end) {
		sleep_ms(10);
		ev_drain(evs, &ev);
	}
	EXPECT_EQ(tracked, ev.news);
	EXPECT_EQ(tracked, ev.dels);
	EXPECT_EQ(tracked, ev.dels_exited);
	EXPECT_EQ(0, ev.other);

	/* nothing left: no session, nothing allocated, the module unloads */
	EXPECT_EQ(0, pcopy_status("sessions"));
	EXPECT_EQ(0, wait_status("sessions_allocated", base_alloc, 10000));
	EXPECT_EQ(0, sess_dump_count(sk, fam, 0, NULL));
	nl_socket_free(evs);
	ASSERT_EQ(0, module_unload());
	EXPECT_FALSE(module_loaded());
	ASSERT_EQ(0, module_load());
	fam = pcopy_family(sk);
	ASSERT_LT(0, fam);
	{
		struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_GET_INFO, 0);

		EXPECT_EQ(0, nl_xfer(sk, msg, &r));
		EXPECT_NE(NULL, r.tb[PCOPY_A_ABI_VERSION]);
		nl_result_free(&r);
		nlmsg_free(msg);
	}
	nl_socket_free(sk);
}

/* A kernel thread has no address space, and is not exiting: EINVAL. */
TEST(kernel_thread_is_einval)
{
	struct nl_result r;
	struct nl_sock *sk;
	int fam;

	ASSERT_EQ(0, module_ensure_loaded());
	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk) TH_LOG("cannot reach the pcopy family");
	/* pid 2 is kthreadd */
	EXPECT_EQ(-EINVAL, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, 2, &r));
	EXPECT_STREQ("process has no address space (a kernel thread)", r.msg);
	nl_result_free(&r);
	EXPECT_EQ(0, pcopy_status("sessions"));
	nl_socket_free(sk);
}

TEST_HARNESS_MAIN
