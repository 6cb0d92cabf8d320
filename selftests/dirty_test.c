// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel dirty harvest against a real KVM VMM (tools/minivm): the ring
 * delivers exactly the (vCPU, slot, offset) entries minivm itself reaps
 * from KVM's dirty rings, reset records cover every push, overflow is
 * counted exactly, and the per-vCPU counters agree.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define MAX_ENTRIES 65536
#define MAX_V 64		/* vCPUs followed per test */

struct entry {
	uint32_t vcpu, slot;
	uint64_t offset;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->vcpu != y->vcpu)
		return x->vcpu < y->vcpu ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

struct collect {
	struct entry *e;
	int n;
	int overflow;
	uint32_t last_reset[MAX_V];
	uint32_t pushes[MAX_V];
	int records;		/* DIRTY records */
	int seq_uncovered;	/* a DIRTY seq not below a later reset index */
	int resets;
};

static void collect_cb(const struct pcopy_rec_hdr *h, void *arg)
{
	struct collect *c = arg;
	uint32_t i;

	if (h->type == PCOPY_REC_DIRTY) {
		const struct pcopy_rec_dirty *d = (const void *)h;

		c->records++;
		for (i = 0; i < d->count; i++) {
			if (c->n == MAX_ENTRIES) {
				c->overflow++;
				continue;
			}
			c->e[c->n++] = (struct entry){ d->vcpu, d->gfns[i].slot,
						       d->gfns[i].offset };
			if (d->vcpu < MAX_V) {
				/* pushes of a vCPU come in ring order */
				if (d->gfns[i].seq != c->pushes[d->vcpu])
					c->seq_uncovered++;
				c->pushes[d->vcpu]++;
			}
		}
	} else if (h->type == PCOPY_REC_DIRTY_RESET) {
		const struct pcopy_rec_dirty_reset *r = (const void *)h;

		c->resets++;
		if (r->vcpu < MAX_V) {
			/* a reset never covers a push not yet delivered */
			if ((int32_t)(r->reset_index - c->pushes[r->vcpu]) > 0)
				c->seq_uncovered++;
			c->last_reset[r->vcpu] = r->reset_index;
		}
	}
}

struct mvm {
	pid_t pid;
	char sock[64], harvest[64], json[64];
};

/* Start minivm paused with a control socket; wait until it listens. */
static int mvm_start(struct mvm *m, const char *args)
{
	char cmd[1024];
	int i;

	snprintf(m->sock, sizeof(m->sock), "/tmp/mvm-%d.sock", getpid());
	snprintf(m->harvest, sizeof(m->harvest), "/tmp/mvm-%d.harvest", getpid());
	snprintf(m->json, sizeof(m->json), "/tmp/mvm-%d.json", getpid());
	unlink(m->sock);
	snprintf(cmd, sizeof(cmd),
		 "exec \"$PCOPY_SRC/tools/minivm/minivm\" %s --control %s --paused "
		 "--harvest-out %s --json --quiet > %s", args, m->sock, m->harvest,
		 m->json);
	m->pid = fork();
	if (m->pid < 0)
		return -errno;
	if (m->pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		if (access(m->sock, F_OK) == 0)
			return 0;
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

static int ctl(struct mvm *m, const char *what)
{
	char cmd[256], *out;
	int rc;

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/tools/minivm/ctltest\" %s %s 2>&1",
		 m->sock, what);
	rc = run_capture(cmd, &out);
	if (rc)
		fprintf(stderr, "ctltest %s: %s\n", what, out);
	free(out);
	return rc;
}

static int64_t json_path(const char *file, const char *path)
{
	char cmd[256], *out;
	int64_t v = -1;

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/tools/minivm/ctltest\" json %s %s",
		 file, path);
	if (run_capture(cmd, &out) == 0)
		v = strtoll(out, NULL, 0);
	free(out);
	return v;
}

static int read_harvest(const char *file, struct entry *e, int max)
{
	FILE *f = fopen(file, "r");
	unsigned long long off;
	unsigned int v, s;
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fscanf(f, "%u %u %llu", &v, &s, &off) == 3)
		e[n++] = (struct entry){ v, s, off };
	fclose(f);
	return n;
}

static int track(struct nl_sock *sk, int fam, pid_t pid)
{
	struct nl_result r;
	int ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, pid, &r);

	nl_result_free(&r);
	return ret;
}

FIXTURE(dirty) {
	struct nl_sock *sk;
	int fam;
	struct mvm m;
	struct test_ring r;
	struct ring_counts c;
	struct collect col;
	struct entry *mine;
};

FIXTURE_SETUP(dirty)
{
	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	memset(&self->r, 0, sizeof(self->r));
	self->r.fd = -1;
	memset(&self->c, 0, sizeof(self->c));
	memset(&self->col, 0, sizeof(self->col));
	self->col.e = calloc(MAX_ENTRIES, sizeof(struct entry));
	self->mine = calloc(MAX_ENTRIES, sizeof(struct entry));
	ASSERT_NE(NULL, self->col.e);
	ASSERT_NE(NULL, self->mine);
	self->m.pid = 0;
}

FIXTURE_TEARDOWN(dirty)
{
	int status;

	if (self->m.pid > 0) {
		kill(self->m.pid, SIGKILL);
		waitpid(self->m.pid, &status, 0);
		unlink(self->m.sock);
		unlink(self->m.harvest);
		unlink(self->m.json);
	}
	test_ring_close(&self->r);
	free(self->col.e);
	free(self->mine);
	if (self->sk)
		nl_socket_free(self->sk);
}

/* Drain until the session's EOF (minivm exited) and nothing is left. */
static void drain_to_eof(struct test_ring *r, struct ring_counts *c,
			 struct collect *col)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	int i;

	for (i = 0; i < 600; i++) {
		ring_drain(r, c, collect_cb, col);
		if ((r->hdr->flags & PCOPY_RING_F_EOF) &&
		    r->cons->consumer_pos == r->hdr->producer_pos)
			return;
		poll(&pfd, 1, 100);
	}
}

/*
 * @nv vCPUs with @mem_mb MiB write pages 3, 7 and 100..120 of their
 * regions, two passes: the ring holds exactly what minivm reaped, per vCPU.
 */
static void exact_harvest(struct __test_metadata *_metadata,
			  FIXTURE_DATA(dirty) *self, int nv, int mem_mb)
{
	static const int pages[] = { 3, 7, 100, 101, 102, 103, 104, 105, 106, 107,
		108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120 };
	const int npages = sizeof(pages) / sizeof(pages[0]);
	/* minivm: data from page 0x100, split evenly between the vCPUs */
	const uint64_t region_pages = (((uint64_t)mem_mb << 20) / 4096 - 256) / nv;
	struct sess_stats *st = malloc(sizeof(*st));
	struct entry *uniq;
	char args[160];
	int64_t total;
	int n, i, v, status, nu;

	ASSERT_NE(NULL, st);
	ASSERT_LE(nv, MAX_V);
	snprintf(args, sizeof(args), "--mem %d --vcpus %d --workload pages "
		 "--pages 3,7,100-120 --passes 2 --dirty-ring 1024", mem_mb, nv);
	ASSERT_EQ(0, mvm_start(&self->m, args));
	ASSERT_EQ(0, track(self->sk, self->fam, self->m.pid));
	ASSERT_EQ(0, ring_bind(&self->r, self->m.pid, 64, 4096, PCOPY_RING_BIND_DIRTY));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, ctl(&self->m, "resume"));
	ASSERT_EQ(0, ctl(&self->m, "wait finished 120"));
	/* minivm pauses for a final reap, so its counts are complete */
	ASSERT_EQ(0, ctl(&self->m, "pause"));
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->m.pid, st));
	ASSERT_EQ(0, ctl(&self->m, "quit"));
	ASSERT_EQ(self->m.pid, waitpid(self->m.pid, &status, 0));
	self->m.pid = -self->m.pid;
	ASSERT_EQ(0, WEXITSTATUS(status));
	drain_to_eof(&self->r, &self->c, &self->col);

	total = json_path(self->m.json, "dirty.entries_total");
	ASSERT_LT(0, total);
	EXPECT_EQ(0, self->c.bad);
	EXPECT_EQ(0, self->c.lost_gfns);
	EXPECT_EQ(0, self->r.hdr->lost_gfns);
	EXPECT_EQ(0, self->col.overflow);
	/* the count equals minivm's own harvested count */
	EXPECT_EQ(total, self->col.n);
	EXPECT_EQ((uint64_t)total, st->dirty);
	for (v = 0; v < nv; v++) {
		char path[64];
		const struct vcpu_stat *vs = find_vcpu(st, v);

		snprintf(path, sizeof(path), "vcpu.%d.dirty_entries", v);
		ASSERT_NE(NULL, vs);
		EXPECT_EQ(json_path(self->m.json, path), (int64_t)self->col.pushes[v]);
		EXPECT_EQ(vs->dirty, self->col.pushes[v]);
		/* every push was reset before minivm went away */
		EXPECT_EQ(self->col.pushes[v], self->col.last_reset[v]);
	}
	EXPECT_EQ(0, self->col.seq_uncovered);
	EXPECT_LT(0, self->col.resets);

	/* exactly the same entries as minivm reaped, as a multiset */
	n = read_harvest(self->m.harvest, self->mine, MAX_ENTRIES);
	ASSERT_EQ(total, n);
	qsort(self->mine, n, sizeof(struct entry), cmp_entry);
	qsort(self->col.e, self->col.n, sizeof(struct entry), cmp_entry);
	EXPECT_EQ(0, memcmp(self->mine, self->col.e, n * sizeof(struct entry)));

	/*
	 * The distinct set holds every page the guest wrote, each under the
	 * vCPU that owns its region.  It may hold more: on x86 with TDP, KVM
	 * logs a page when it maps it writable, which a read fault can do,
	 * and the guest reads its whole region for the final checksum.
	 */
	uniq = calloc(n, sizeof(*uniq));
	nu = 0;
	for (i = 0; i < n; i++)
		if (!nu || cmp_entry(&uniq[nu - 1], &self->col.e[i]))
			uniq[nu++] = self->col.e[i];
	for (v = 0; v < nv; v++)
		for (i = 0; i < npages; i++) {
			struct entry want = { v, 0, 0x100 + v * region_pages + pages[i] };

			EXPECT_NE(NULL, bsearch(&want, uniq, nu, sizeof(*uniq), cmp_entry))
				TH_LOG("vcpu %d page %d was written but not harvested",
				       v, pages[i]);
		}
	for (i = 0; i < nu; i++) {
		uint64_t lo = 0x100 + uniq[i].vcpu * region_pages;

		EXPECT_EQ(0, uniq[i].slot);
		EXPECT_TRUE(uniq[i].vcpu < (uint32_t)nv &&
			    ((uniq[i].offset >= lo && uniq[i].offset < lo + region_pages) ||
			     uniq[i].offset < 0x100))
			TH_LOG("vcpu %u harvested gfn %#llx outside its region", uniq[i].vcpu,
			       (unsigned long long)uniq[i].offset);
	}
	free(uniq);
	free(st);
	TH_LOG("%d vCPUs: %d GFNs in %d DIRTY records", nv, self->col.n,
	       self->col.records);
}

TEST_F(dirty, exact_harvest)
{
	exact_harvest(_metadata, self, 2, 8);
}

/* More vCPUs than anything the producer could share a batch between. */
TEST_F(dirty, exact_harvest_32_vcpus)
{
	exact_harvest(_metadata, self, 32, 32);
	/*
	 * Batches stay per vCPU: they fill up to 32 GFNs and are cut only by
	 * a tick-old entry, a ring reset or the end (measured: ~21 a record).
	 */
	EXPECT_LE(self->col.records * 4, self->col.n);
}

/* A one-page ring under a whole-region write: every GFN is accounted for. */
TEST_F(dirty, overflow_exact)
{
	int64_t total;
	int status;

	ASSERT_EQ(0, mvm_start(&self->m, "--mem 8 --vcpus 2 --workload seq "
			       "--passes 2 --dirty-ring 1024"));
	ASSERT_EQ(0, track(self->sk, self->fam, self->m.pid));
	ASSERT_EQ(0, ring_bind(&self->r, self->m.pid, 1, 4096, PCOPY_RING_BIND_DIRTY));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, ctl(&self->m, "resume"));
	/* nobody drains while the guest runs */
	ASSERT_EQ(0, ctl(&self->m, "wait finished 120"));
	ASSERT_EQ(0, ctl(&self->m, "quit"));
	ASSERT_EQ(self->m.pid, waitpid(self->m.pid, &status, 0));
	self->m.pid = -self->m.pid;
	ASSERT_EQ(0, WEXITSTATUS(status));
	drain_to_eof(&self->r, &self->c, &self->col);

	total = json_path(self->m.json, "dirty.entries_total");
	ASSERT_LT(4096 / 16, total);
	EXPECT_EQ(0, self->c.bad);
	EXPECT_LT(0, self->r.hdr->lost_gfns);
	/* delivered + LOST + still pending == produced, exactly */
	EXPECT_EQ(total, (int64_t)(self->c.gfns + self->c.lost_gfns +
				   self->r.hdr->lost_gfns_pending));
	EXPECT_EQ(self->r.hdr->lost_gfns, self->c.lost_gfns + self->r.hdr->lost_gfns_pending);
}

/* The per-vCPU dirty rate is visible while the guest dirties memory. */
TEST_F(dirty, rate_while_dirtying)
{
	struct sess_stats *st = malloc(sizeof(*st));
	int status, i, seen = 0;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, mvm_start(&self->m, "--mem 4 --vcpus 2 --workload seq --loop "
			       "--rate 400 --dirty-ring 1024"));
	ASSERT_EQ(0, track(self->sk, self->fam, self->m.pid));
	ASSERT_EQ(0, ctl(&self->m, "resume"));
	for (i = 0; i < 100 && seen < 2; i++) {
		sleep_ms(200);
		ASSERT_EQ(0, sess_get(self->sk, self->fam, self->m.pid, st));
		seen = 0;
		for (int v = 0; v < 2; v++) {
			const struct vcpu_stat *vs = find_vcpu(st, v);

			seen += vs && vs->dirty > 0 && vs->dirty_rate > 0;
		}
	}
	EXPECT_EQ(2, seen);
	EXPECT_LT(0, st->dirty);

	/* pcopy watch shows the same session, one JSON line per refresh */
	{
		char cmd[256], *out, *line, *save;
		int lines = 0;

		snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" watch %d "
			 "--interval 0.5 --count 2 -j", self->m.pid);
		ASSERT_EQ(0, run_capture(cmd, &out)) TH_LOG("%s", out);
		for (line = strtok_r(out, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			struct json_object *o = json_tokener_parse(line), *v;

			ASSERT_NE(NULL, o) TH_LOG("not JSON: %s", line);
			ASSERT_TRUE(json_object_object_get_ex(o, "dirty_pages", &v));
			EXPECT_LT(0, json_object_get_int64(v));
			ASSERT_TRUE(json_object_object_get_ex(o, "vcpus", &v));
			EXPECT_EQ(2, json_object_array_length(v));
			json_object_put(o);
			lines++;
		}
		EXPECT_EQ(2, lines);
		free(out);
	}
	ASSERT_EQ(0, ctl(&self->m, "quit"));
	ASSERT_EQ(self->m.pid, waitpid(self->m.pid, &status, 0));
	self->m.pid = -self->m.pid;
	free(st);
}

/* pcopy record + pcopy report on a real guest: nothing lost, counts agree. */
TEST_F(dirty, agent_record_and_report)
{
	struct json_object *root, *o, *v;
	char cmd[512], file[64], *out;
	int64_t total;
	pid_t rec;
	int status;

	snprintf(file, sizeof(file), "/tmp/rec-%d.pcopyrec", getpid());
	ASSERT_EQ(0, mvm_start(&self->m, "--mem 8 --vcpus 2 --workload seq --dirty-ring 1024"));
	ASSERT_EQ(0, track(self->sk, self->fam, self->m.pid));
	rec = fork();
	ASSERT_LE(0, rec);
	if (rec == 0) {
		snprintf(cmd, sizeof(cmd), "%s/agent/pcopy", getenv("PCOPY_SRC"));
		snprintf(file, sizeof(file), "/tmp/rec-%d.pcopyrec", getppid());
		{
			char pid[16];

			snprintf(pid, sizeof(pid), "%d", self->m.pid);
			execl(cmd, "pcopy", "record", pid, "-o", file, "--pages", "64",
			      (char *)NULL);
		}
		_exit(127);
	}
	/* the recorder binds before the guest runs */
	for (int i = 0; i < 500; i++) {
		if (run_capture("ls -l /proc/*/fd 2>/dev/null | grep -q /dev/pcopy", &out) == 0) {
			free(out);
			break;
		}
		free(out);
		sleep_ms(20);
	}
	ASSERT_EQ(0, ctl(&self->m, "resume"));
	ASSERT_EQ(0, ctl(&self->m, "wait finished 120"));
	ASSERT_EQ(0, ctl(&self->m, "quit"));
	ASSERT_EQ(self->m.pid, waitpid(self->m.pid, &status, 0));
	self->m.pid = -self->m.pid;
	/* the session ends with minivm: the recorder sees EOF and exits 0 */
	ASSERT_EQ(rec, waitpid(rec, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	total = json_path(self->m.json, "dirty.entries_total");
	ASSERT_LT(0, total);
	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" report -j %s", file);
	ASSERT_EQ(0, run_capture(cmd, &out)) TH_LOG("%s", out);
	root = json_tokener_parse(out);
	ASSERT_NE(NULL, root) TH_LOG("%s", out);
	ASSERT_TRUE(json_object_object_get_ex(root, "check", &o));
	ASSERT_TRUE(json_object_object_get_ex(o, "consistent", &v));
	EXPECT_TRUE(json_object_get_boolean(v)) TH_LOG("%s", out);
	ASSERT_TRUE(json_object_object_get_ex(root, "dirty", &o));
	ASSERT_TRUE(json_object_object_get_ex(o, "gfns", &v));
	EXPECT_EQ(total, json_object_get_int64(v)) TH_LOG("%s", out);
	json_object_put(root);
	free(out);
	unlink(file);
}

TEST_HARNESS_MAIN
