// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-check: a bpftrace kprobe/kretprobe pair on handle_userfault, run
 * beside the module, counts exactly the faults the module reports.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

#define PAGE 4096UL
#define THREADS 3
#define PAGES 7

struct toucher {
	pthread_t th;
	char *base;
	unsigned long sum;
};

static void *touch(void *arg)
{
	struct toucher *t = arg;
	int i;

	for (i = 0; i < PAGES; i++)
		t->sum += *(volatile char *)(t->base + i * PAGE);
	return NULL;
}

struct resolver {
	int uffd;
	int n;
	int err;
};

static void *resolve(void *arg)
{
	struct resolver *r = arg;
	struct uffd_msg msg;
	int i;

	for (i = 0; i < r->n && !r->err; i++) {
		r->err = uffd_read_msg(r->uffd, &msg, 60000);
		if (!r->err)
			r->err = uffd_copy_page(r->uffd, msg.arg.pagefault.address, 1);
	}
	return NULL;
}

/* The value of "@name: N" in bpftrace's output, or -1. */
static long map_value(const char *out, const char *name)
{
	const char *p = strstr(out, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

TEST(bpftrace_counts_match)
{
	struct resolver res = { .n = THREADS * PAGES };
	struct sess_stats *st = malloc(sizeof(*st));
	struct toucher t[THREADS];
	char prog[512], line[256], *out;
	size_t len = 0, cap = 65536;
	int pipefd[2], i, status;
	struct nl_result r;
	struct nl_sock *sk;
	pthread_t rth;
	pid_t bt;
	FILE *f;
	char *area;
	int fam;

	ASSERT_NE(NULL, st);
	if (system("command -v bpftrace >/dev/null 2>&1"))
		SKIP(return, "bpftrace is not installed");
	ASSERT_EQ(0, module_ensure_loaded());
	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk) TH_LOG("cannot reach the pcopy family");
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, getpid(), &r));
	nl_result_free(&r);

	/* BEGIN runs once every probe is attached */
	snprintf(prog, sizeof(prog),
		 "BEGIN { printf(\"READY\\n\"); }"
		 " kprobe:handle_userfault /pid == %d/ { @entries = count(); }"
		 " kretprobe:handle_userfault /pid == %d/ { @returns = count(); }",
		 getpid(), getpid());
	ASSERT_EQ(0, pipe(pipefd));
	bt = fork();
	ASSERT_LE(0, bt);
	if (bt == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execlp("bpftrace", "bpftrace", "-e", prog, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f) && !strstr(line, "READY"))
		TH_LOG("bpftrace: %s", line);

	res.uffd = uffd_open(0);
	ASSERT_LE(0, res.uffd);
	area = uffd_area(res.uffd, THREADS * PAGES * PAGE);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, pthread_create(&rth, NULL, resolve, &res));
	for (i = 0; i < THREADS; i++) {
		t[i] = (struct toucher){ .base = area + i * PAGES * PAGE };
		ASSERT_EQ(0, pthread_create(&t[i].th, NULL, touch, &t[i]));
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i].th, NULL);
		EXPECT_EQ(PAGES, t[i].sum);
	}
	pthread_join(rth, NULL);
	ASSERT_EQ(0, res.err);

	kill(bt, SIGINT);
	out = calloc(1, cap);
	while (len < cap - 1 && fgets(out + len, cap - len, f))
		len += strlen(out + len);
	fclose(f);
	waitpid(bt, &status, 0);

	ASSERT_EQ(0, sess_get(sk, fam, getpid(), st));
	EXPECT_EQ(THREADS * PAGES, st->faults);
	EXPECT_EQ(0, st->nowait);
	EXPECT_EQ((long)st->faults, map_value(out, "@returns: ")) TH_LOG("bpftrace said:\n%s", out);
	EXPECT_EQ((long)(st->faults + st->nowait), map_value(out, "@entries: "))
		TH_LOG("bpftrace said:\n%s", out);

	free(out);
	free(st);
	sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, getpid(), &r);
	nl_result_free(&r);
	nl_socket_free(sk);
}

TEST_HARNESS_MAIN
