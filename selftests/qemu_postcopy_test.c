// SPDX-License-Identifier: GPL-2.0
/*
 * A real VMM: QEMU (bookworm's 7.2, the host's own binary) migrates a
 * running guest with postcopy between two QEMUs in the test VM, over
 * loopback, while pcopy.ko tracks the destination QEMU and a bpftrace
 * probe on handle_userfault() counts the same process's faults.  Run with
 * and without postcopy-preempt.
 *
 * The guest (qemu_guest.s, a multiboot kernel with interrupts off) fills
 * 32 MiB with a pattern and then reads every page of it in a loop.  The
 * source is slowed down (max-bandwidth, max-postcopy-bandwidth) and told
 * to switch to postcopy at once, so the destination's vCPU reads pages
 * that have not arrived: blocking userfaults of its vCPU thread.
 *
 * Asserted: pcopy's blocking faults equal bpftrace's count of blocking
 * entries (FAULT_FLAG_ALLOW_RETRY without RETRY_NOWAIT, the module's own
 * definition) and its blocking plus nowait faults equal bpftrace's
 * entries; none missed; the thread pcopy learned as vCPU 0 is the one
 * QEMU's query-cpus-fast names; the guest's memory on the destination is
 * the pattern, dword for dword.  QEMU's own postcopy-blocktime is printed
 * beside pcopy's (they measure from different moments, Documentation/
 * stats.rst).  The 6.12 lane has no QEMU in its rootfs: it skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 900

/* qemu_guest.s */
#define REGION		0x01000000u
#define REGION_END	0x03000000u
#define SEED		0x5ca1ab1eu
#define MARK		0x8000u

#define QEMU		"qemu-system-x86_64"
#define BW		(24u << 20)	/* bytes/s, both phases */

struct qmp {
	FILE *in, *out;
	char err[256];
};

static int qmp_open(struct qmp *q, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[4096];
	int fd, i;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (i = 0; i < 600; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(fd);
		fd = -1;
		sleep_ms(100);
	}
	if (fd < 0)
		return -ETIMEDOUT;
	q->in = fdopen(fd, "r");
	q->out = fdopen(dup(fd), "w");
	if (!q->in || !q->out || !fgets(line, sizeof(line), q->in))
		return -EIO;	/* the greeting */
	return 0;
}

static void qmp_close(struct qmp *q)
{
	if (q->in)
		fclose(q->in);
	if (q->out)
		fclose(q->out);
	q->in = q->out = NULL;
}

/*
 * Execute a command (JSON text after "execute"); the "return" member (a
 * new reference; the empty object for {}), or NULL with q->err set.
 */
static struct json_object *qmp(struct qmp *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct json_object *qmp(struct qmp *q, const char *fmt, ...)
{
	struct json_object *o, *ret;
	char line[65536];
	va_list ap;

	fputs("{\"execute\": ", q->out);
	va_start(ap, fmt);
	vfprintf(q->out, fmt, ap);
	va_end(ap);
	fputs("}\n", q->out);
	fflush(q->out);
	while (fgets(line, sizeof(line), q->in)) {
		o = json_tokener_parse(line);
		if (!o)
			continue;
		if (json_object_object_get_ex(o, "return", &ret)) {
			json_object_get(ret);
			json_object_put(o);
			return ret;
		}
		if (json_object_object_get_ex(o, "error", &ret)) {
			snprintf(q->err, sizeof(q->err), "%s", json_object_to_json_string(ret));
			json_object_put(o);
			return NULL;
		}
		json_object_put(o);	/* an event */
	}
	snprintf(q->err, sizeof(q->err), "QMP connection closed");
	return NULL;
}

/* A command whose return is not looked at: 0, or -1 (q->err). */
static int qmp_do(struct qmp *q, const char *cmd)
{
	struct json_object *r = qmp(q, "%s", cmd);

	if (!r)
		return -1;
	json_object_put(r);
	return 0;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static long long jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static pid_t qemu_start(const char *dir, const char *name, bool incoming)
{
	char qmp_arg[256], log[256];
	pid_t pid;
	int fd;

	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s/%s.qmp,server=on,wait=off", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	pid = fork();
	if (pid)
		return pid;
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (incoming)
		execlp(QEMU, QEMU, "-accel", "kvm", "-cpu", "host,-xsave", "-m", "256",
		       "-smp", "1", "-display", "none", "-nodefaults", "-no-user-config",
		       "-kernel", src_path("selftests/qemu_guest.elf"), "-qmp", qmp_arg,
		       "-incoming", "defer", (char *)NULL);
	else
		execlp(QEMU, QEMU, "-accel", "kvm", "-cpu", "host,-xsave", "-m", "256",
		       "-smp", "1", "-display", "none", "-nodefaults", "-no-user-config",
		       "-kernel", src_path("selftests/qemu_guest.elf"), "-qmp", qmp_arg,
		       (char *)NULL);
	_exit(127);
}

/* Read guest-physical memory through QMP pmemsave; 0 or -1. */
static int guest_read(struct qmp *q, const char *dir, uint32_t gpa, void *buf, size_t len)
{
	char path[256], cmd[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/pmem.bin", dir);
	snprintf(cmd, sizeof(cmd),
		 "\"pmemsave\", \"arguments\": {\"val\": %u, \"size\": %zu, \"filename\": \"%s\"}",
		 gpa, len, path);
	if (qmp_do(q, cmd))
		return -1;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	unlink(path);
	return n == (ssize_t)len ? 0 : -1;
}

/* "@name: N" in bpftrace's output, or -1. */
static long map_value(const char *out, const char *name)
{
	const char *p = strstr(out, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

FIXTURE(qp) {
	char dir[64];
	bool mounted;
	pid_t src, dst, bt;
	struct qmp qs, qd;
	struct nl_sock *sk;
	int fam;
	FILE *bt_out;
};

FIXTURE_VARIANT(qp) {
	bool preempt;
};

FIXTURE_VARIANT_ADD(qp, postcopy) { .preempt = false };
FIXTURE_VARIANT_ADD(qp, postcopy_preempt) { .preempt = true };

FIXTURE_SETUP(qp)
{
	if (system("command -v " QEMU " >/dev/null 2>&1"))
		SKIP(return, "no " QEMU " here (the 6.12 lane's rootfs has none)");
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	if (system("command -v bpftrace >/dev/null 2>&1"))
		SKIP(return, "bpftrace is not installed");
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcopy-qemu.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	/* pmemsave's files on the guest's own tmpfs, not on the 9p root */
	self->mounted = !mount("pcopy-qemu", self->dir, "tmpfs", 0, "size=96m");
}

FIXTURE_TEARDOWN(qp)
{
	char path[128];

	if (self->bt > 0) {
		kill(self->bt, SIGKILL);
		waitpid(self->bt, NULL, 0);
	}
	if (self->bt_out)
		fclose(self->bt_out);
	qmp_close(&self->qs);
	qmp_close(&self->qd);
	if (self->src > 0) {
		kill(self->src, SIGKILL);
		waitpid(self->src, NULL, 0);
	}
	if (self->dst > 0) {
		kill(self->dst, SIGKILL);
		waitpid(self->dst, NULL, 0);
	}
	if (self->sk)
		nl_socket_free(self->sk);
	if (!self->dir[0])
		return;
	if (self->mounted)
		umount(self->dir);
	snprintf(path, sizeof(path), "rm -rf %s", self->dir);
	if (system(path))
		TH_LOG("could not remove %s", self->dir);
}

TEST_F_TIMEOUT(qp, migrate, 900)
{
	const char *caps = variant->preempt ?
		"{\"capability\": \"postcopy-ram\", \"state\": true},"
		" {\"capability\": \"postcopy-preempt\", \"state\": true}" :
		"{\"capability\": \"postcopy-ram\", \"state\": true}";
	struct sess_stats *st = calloc(1, sizeof(*st));
	struct json_object *r, *cpu;
	const struct vcpu_stat *v0;
	char cmd[512], line[512], *out, path[128], *status;
	long blocking, entries;
	size_t len = 0, cap = 65536;
	int pipefd[2], port, i, bad = 0;
	uint32_t mark = 0, *mem;
	long long qemu_bt = -1, tid;
	struct nl_result nr;
	uint64_t t0;

	ASSERT_NE(NULL, st);
	port = 20000 + getpid() % 20000;

	self->src = qemu_start(self->dir, "src", false);
	self->dst = qemu_start(self->dir, "dst", true);
	snprintf(path, sizeof(path), "%s/src.qmp", self->dir);
	ASSERT_EQ(0, qmp_open(&self->qs, path));
	snprintf(path, sizeof(path), "%s/dst.qmp", self->dir);
	ASSERT_EQ(0, qmp_open(&self->qd, path));
	ASSERT_EQ(0, qmp_do(&self->qs, "\"qmp_capabilities\"")) TH_LOG("%s", self->qs.err);
	ASSERT_EQ(0, qmp_do(&self->qd, "\"qmp_capabilities\"")) TH_LOG("%s", self->qd.err);

	/* the guest has filled its memory and reads it */
	for (i = 0; i < 600 && mark < 2; i++) {
		ASSERT_EQ(0, guest_read(&self->qs, self->dir, MARK, &mark, 4)) TH_LOG("%s", self->qs.err);
		if (mark < 2)
			sleep_ms(100);
	}
	ASSERT_LE(2, mark) TH_LOG("the source guest did not start (MARK %u)", mark);

	/* the destination, tracked, and bpftrace on the same process */
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, self->dst, &nr));
	nl_result_free(&nr);
	snprintf(cmd, sizeof(cmd),
		 "BEGIN { printf(\"READY\\n\"); }"
		 " kprobe:handle_userfault /pid == %d/ { @entries = count();"
		 " if ((((struct vm_fault *)arg0)->flags & 12) == 4) { @blocking = count(); } }",
		 self->dst);
	ASSERT_EQ(0, pipe(pipefd));
	self->bt = fork();
	ASSERT_LE(0, self->bt);
	if (self->bt == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execlp("bpftrace", "bpftrace", "-e", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	self->bt_out = fdopen(pipefd[0], "r");
	ASSERT_NE(NULL, self->bt_out);
	while (fgets(line, sizeof(line), self->bt_out) && !strstr(line, "READY"))
		TH_LOG("bpftrace: %s", line);

	snprintf(cmd, sizeof(cmd),
		 "\"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [%s,"
		 " {\"capability\": \"postcopy-blocktime\", \"state\": true}]}", caps);
	ASSERT_EQ(0, qmp_do(&self->qd, cmd)) TH_LOG("%s", self->qd.err);
	snprintf(cmd, sizeof(cmd),
		 "\"migrate-incoming\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:%d\"}", port);
	ASSERT_EQ(0, qmp_do(&self->qd, cmd)) TH_LOG("%s", self->qd.err);
	snprintf(cmd, sizeof(cmd),
		 "\"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [%s]}", caps);
	ASSERT_EQ(0, qmp_do(&self->qs, cmd)) TH_LOG("%s", self->qs.err);
	snprintf(cmd, sizeof(cmd),
		 "\"migrate-set-parameters\", \"arguments\": {\"max-bandwidth\": %u,"
		 " \"max-postcopy-bandwidth\": %u}", BW, BW);
	ASSERT_EQ(0, qmp_do(&self->qs, cmd)) TH_LOG("%s", self->qs.err);

	/* one connection for the whole sequence: postcopy right away */
	t0 = now_ns();
	snprintf(cmd, sizeof(cmd), "\"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:%d\"}",
		 port);
	ASSERT_EQ(0, qmp_do(&self->qs, cmd)) TH_LOG("%s", self->qs.err);
	ASSERT_EQ(0, qmp_do(&self->qs, "\"migrate-start-postcopy\"")) TH_LOG("%s", self->qs.err);

	for (;;) {
		r = qmp(&self->qs, "\"query-migrate\"");
		ASSERT_NE(NULL, r) TH_LOG("%s", self->qs.err);
		status = strdup(jstr(r, "status"));
		json_object_put(r);
		if (!strcmp(status, "completed") || !strcmp(status, "failed") ||
		    now_ns() - t0 > 600 * 1000000000ull)
			break;
		free(status);
		sleep_ms(250);
	}
	ASSERT_STREQ("completed", status) TH_LOG("source migration: %s", status);
	free(status);
	TH_LOG("%s migration completed in %.1f s", variant->preempt ? "postcopy-preempt" : "postcopy",
	       (now_ns() - t0) / 1e9);
	/* the destination has its last page when it says completed */
	for (i = 0; i < 600; i++) {
		r = qmp(&self->qd, "\"query-migrate\"");
		ASSERT_NE(NULL, r) TH_LOG("%s", self->qd.err);
		if (!strcmp(jstr(r, "status"), "completed")) {
			qemu_bt = jint(r, "postcopy-blocktime");
			json_object_put(r);
			break;
		}
		json_object_put(r);
		sleep_ms(100);
	}
	ASSERT_GT(600, i) TH_LOG("the destination never completed");

	/* QEMU's vCPU 0 thread */
	r = qmp(&self->qd, "\"query-cpus-fast\"");
	ASSERT_NE(NULL, r) TH_LOG("%s", self->qd.err);
	ASSERT_EQ(1, json_object_array_length(r));
	cpu = json_object_array_get_idx(r, 0);
	tid = jint(cpu, "thread-id");
	EXPECT_EQ(0, jint(cpu, "cpu-index"));
	json_object_put(r);

	/* bpftrace's counts, then pcopy's */
	kill(self->bt, SIGINT);
	out = calloc(1, cap);
	ASSERT_NE(NULL, out);
	while (len < cap - 1 && fgets(out + len, cap - len, self->bt_out))
		len += strlen(out + len);
	waitpid(self->bt, NULL, 0);
	self->bt = 0;
	blocking = map_value(out, "@blocking: ");
	entries = map_value(out, "@entries: ");
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->dst, st));
	TH_LOG("pcopy: %llu blocking faults (%llu vCPU, %llu non-vCPU), %llu nowait, blocktime %.3f ms;"
	       " bpftrace: %ld blocking, %ld entries; QEMU postcopy-blocktime %lld ms",
	       (unsigned long long)st->faults, (unsigned long long)st->vcpu_faults,
	       (unsigned long long)st->nonvcpu_faults, (unsigned long long)st->nowait,
	       st->blocktime / 1e6, blocking, entries, qemu_bt);
	EXPECT_LT(0, (long)st->faults) TH_LOG("no postcopy fault at all: the migration converged in precopy?");
	EXPECT_EQ((long)st->faults, blocking) TH_LOG("bpftrace said:\n%s", out);
	EXPECT_EQ((long)(st->faults + st->nowait), entries) TH_LOG("bpftrace said:\n%s", out);
	EXPECT_EQ(0, st->missed);
	EXPECT_EQ(0, st->outstanding);
	free(out);
	v0 = find_vcpu(st, 0);
	ASSERT_NE(NULL, v0) TH_LOG("pcopy learned no vCPU 0");
	EXPECT_EQ(tid, (long long)v0->tid);
	EXPECT_LT(0, (long)v0->faults);

	/* the guest's memory, intact, and it ran on the destination */
	ASSERT_EQ(0, guest_read(&self->qd, self->dir, MARK, &mark, 4)) TH_LOG("%s", self->qd.err);
	ASSERT_EQ(0, qmp_do(&self->qd, "\"stop\"")) TH_LOG("%s", self->qd.err);
	mem = malloc(REGION_END - REGION);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, guest_read(&self->qd, self->dir, REGION, mem, REGION_END - REGION))
		TH_LOG("%s", self->qd.err);
	for (i = 0; i < (int)((REGION_END - REGION) / 4); i++) {
		uint32_t want = (REGION + 4 * (uint32_t)i) ^ SEED;

		if (mem[i] != want && bad++ < 5)
			TH_LOG("guest dword at %#x: %#x, not %#x", REGION + 4 * i, mem[i], want);
	}
	EXPECT_EQ(0, bad);
	free(mem);
	EXPECT_LT(2u, mark) TH_LOG("the guest made no round on the destination");
	qmp_do(&self->qs, "\"quit\"");
	qmp_do(&self->qd, "\"quit\"");
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->dst, &nr);
	nl_result_free(&nr);
	free(st);
}

TEST_HARNESS_MAIN
