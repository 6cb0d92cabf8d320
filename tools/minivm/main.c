// SPDX-License-Identifier: GPL-2.0
/*
 * minivm: a minimal KVM VMM for pcopy tests.  Options, the main event loop
 * and the final summary.  See Documentation/minivm.rst.
 *
 * Exit status: 0 success, 1 runtime error (including a guest/host checksum
 * mismatch or a failed vCPU), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <json-c/json.h>

#include "minivm.h"

static bool g_quiet;

uint64_t mvm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mvm_log(const struct mvm_vm *vm, const char *fmt, ...)
{
	va_list ap;

	(void)vm;
	if (g_quiet)
		return;
	va_start(ap, fmt);
	fputs("minivm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void mvm_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("minivm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *const wl_names[] = {
	[MVM_WL_SEQ] = "seq",
	[MVM_WL_RANDOM] = "random",
	[MVM_WL_HOT] = "hot",
	[MVM_WL_SCAN] = "scan",
	[MVM_WL_PAGES] = "pages",
};

static const char *wl_name(unsigned int wl)
{
	return wl >= MVM_WL_SEQ && wl <= MVM_WL_PAGES ? wl_names[wl] : "?";
}

static void usage(FILE *f)
{
	fputs(
"usage: minivm [options]\n"
"  --mem SIZE           guest RAM: MiB, or with a K/M/G suffix (default 64);\n"
"                       a multiple of 4 KiB, 2 MiB .. 3 GiB\n"
"  --vcpus N            vCPUs, 1..64 (default 1)\n"
"  --workload NAME      seq | random | hot | scan | pages (default seq)\n"
"  --passes N           seq/scan/pages: passes over the region (default 1)\n"
"  --count N            random/hot: page writes per vCPU (default: region pages)\n"
"  --hot K              hot: size of the hot page set (default 16)\n"
"  --pages LIST         pages: region-relative pages, e.g. 3,7,100-120\n"
"  --rate N             limit each vCPU to N pages/s (default 0: unlimited);\n"
"                       with --incoming it overrides the imported rate\n"
"  --fill N             dwords written per page write, power of 2, 1..1024\n"
"                       (default 1; 1024 rewrites whole pages)\n"
"  --batch N            guest reports progress every N pages (power of 2;\n"
"                       default 32/fill with the dirty ring, else 256)\n"
"  --loop               rerun the workload until STOP/quit/SIGINT\n"
"  --seed N             data seed (default 0x5eed)\n"
"  --dirty-ring N       dirty ring entries per vCPU, power of 2, 0 = off\n"
"                       (default 4096)\n"
"  --reap-ms N          dirty ring reaper period in ms (default 10)\n"
"  --harvest-out FILE   write each harvested entry as 'vcpu slot offset'\n"
"  --control PATH       control socket (SOCK_SEQPACKET)\n"
"  --paused             do not run the vCPUs until RESUME (needs --control)\n"
"  --incoming PATH      postcopy destination: hand a uffd to the handler\n"
"                       listening at PATH (needs --control)\n"
"  --blob-size N        device blob bytes (default 4096, max 32768)\n"
"  --json               print a JSON summary on stdout at exit\n"
"  --quiet              only errors on stderr\n"
"  --help\n", f);
}

static int usage_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("minivm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see --help)\n", stderr);
	va_end(ap);
	return 2;
}

static int parse_num(const char *opt, const char *s, uint64_t max,
		     uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return usage_err("%s: bad number '%s'", opt, s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return usage_err("%s: bad number '%s'", opt, s);
	if (v > max)
		return usage_err("%s: %llu is too large (max %llu)", opt, v,
				 (unsigned long long)max);
	*out = v;
	return 0;
}

static int parse_mem(const char *s, uint64_t *out)
{
	unsigned long long v, mul = 1ull << 20;
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return usage_err("--mem: bad size '%s'", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return usage_err("--mem: bad size '%s'", s);
	if (*end) {
		switch (*end) {
		case 'k': case 'K':
			mul = 1ull << 10;
			break;
		case 'm': case 'M':
			mul = 1ull << 20;
			break;
		case 'g': case 'G':
			mul = 1ull << 30;
			break;
		default:
			return usage_err("--mem: bad size '%s'", s);
		}
		if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
			return usage_err("--mem: bad size '%s'", s);
	}
	if (v > MVM_MAX_MEM / mul + 1)
		return usage_err("--mem %s: more than 3 GiB", s);
	v *= mul;
	if (v % MVM_PAGE_SIZE)
		return usage_err("--mem %s: not a multiple of the 4 KiB page size",
				 s);
	if (v < MVM_MIN_MEM || v > MVM_MAX_MEM)
		return usage_err("--mem %s: must be between 2 MiB and 3 GiB", s);
	*out = v;
	return 0;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

enum {
	OPT_MEM = 256, OPT_VCPUS, OPT_WORKLOAD, OPT_PASSES, OPT_COUNT, OPT_HOT,
	OPT_PAGES, OPT_RATE, OPT_BATCH, OPT_FILL, OPT_LOOP, OPT_SEED, OPT_RING,
	OPT_REAP, OPT_HARVEST, OPT_CONTROL, OPT_PAUSED, OPT_INCOMING,
	OPT_BLOB, OPT_JSON, OPT_QUIET, OPT_HELP,
};

static const struct option long_opts[] = {
	{ "mem",	 required_argument, NULL, OPT_MEM },
	{ "vcpus",	 required_argument, NULL, OPT_VCPUS },
	{ "workload",	 required_argument, NULL, OPT_WORKLOAD },
	{ "passes",	 required_argument, NULL, OPT_PASSES },
	{ "count",	 required_argument, NULL, OPT_COUNT },
	{ "hot",	 required_argument, NULL, OPT_HOT },
	{ "pages",	 required_argument, NULL, OPT_PAGES },
	{ "rate",	 required_argument, NULL, OPT_RATE },
	{ "batch",	 required_argument, NULL, OPT_BATCH },
	{ "fill",	 required_argument, NULL, OPT_FILL },
	{ "loop",	 no_argument,	    NULL, OPT_LOOP },
	{ "seed",	 required_argument, NULL, OPT_SEED },
	{ "dirty-ring",	 required_argument, NULL, OPT_RING },
	{ "reap-ms",	 required_argument, NULL, OPT_REAP },
	{ "harvest-out", required_argument, NULL, OPT_HARVEST },
	{ "control",	 required_argument, NULL, OPT_CONTROL },
	{ "paused",	 no_argument,	    NULL, OPT_PAUSED },
	{ "incoming",	 required_argument, NULL, OPT_INCOMING },
	{ "blob-size",	 required_argument, NULL, OPT_BLOB },
	{ "json",	 no_argument,	    NULL, OPT_JSON },
	{ "quiet",	 no_argument,	    NULL, OPT_QUIET },
	{ "help",	 no_argument,	    NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Returns 0, 2 (usage error) or -1 (--help printed). */
static int parse_args(int argc, char **argv, struct mvm_config *c)
{
	const char *pages = NULL;
	bool hot_set = false, passes_set = false, count_set = false;
	uint64_t v, region_pages;
	char err[160];
	unsigned int i;
	int opt, r;

	memset(c, 0, sizeof(*c));
	c->mem_size = MVM_DEFAULT_MEM;
	c->nvcpus = 1;
	c->workload = MVM_WL_SEQ;
	c->passes = 1;
	c->hot_k = 16;
	c->seed = 0x5eed;
	c->ring_entries = MVM_DEFAULT_RING;
	c->reap_ms = 10;
	c->blob_size = MVM_DEFAULT_BLOB;
	c->fill = 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		r = 0;
		switch (opt) {
		case OPT_MEM:
			r = parse_mem(optarg, &c->mem_size);
			break;
		case OPT_VCPUS:
			r = parse_num("--vcpus", optarg, 1024, &v);
			if (!r && (v < 1 || v > MVM_MAX_VCPUS))
				return usage_err("--vcpus %s: must be 1..%d",
						 optarg, MVM_MAX_VCPUS);
			c->nvcpus = (unsigned int)v;
			break;
		case OPT_WORKLOAD:
			for (i = MVM_WL_SEQ; i <= MVM_WL_PAGES; i++)
				if (!strcmp(optarg, wl_names[i]))
					break;
			if (i > MVM_WL_PAGES)
				return usage_err("--workload: unknown workload '%s' (seq, random, hot, scan, pages)",
						 optarg);
			c->workload = i;
			break;
		case OPT_PASSES:
			r = parse_num("--passes", optarg, UINT32_MAX, &v);
			if (!r && !v)
				return usage_err("--passes must be at least 1");
			c->passes = (uint32_t)v;
			passes_set = true;
			break;
		case OPT_COUNT:
			r = parse_num("--count", optarg, UINT32_MAX, &v);
			if (!r && !v)
				return usage_err("--count must be at least 1");
			c->count = (uint32_t)v;
			count_set = true;
			break;
		case OPT_HOT:
			r = parse_num("--hot", optarg, UINT32_MAX, &v);
			if (!r && !v)
				return usage_err("--hot must be at least 1");
			c->hot_k = (uint32_t)v;
			hot_set = true;
			break;
		case OPT_PAGES:
			pages = optarg;
			break;
		case OPT_RATE:
			r = parse_num("--rate", optarg, 100000000, &v);
			c->rate = (uint32_t)v;
			c->rate_set = true;
			break;
		case OPT_BATCH:
			r = parse_num("--batch", optarg, 65536, &v);
			if (!r && !is_pow2(v))
				return usage_err("--batch %s: must be a power of 2",
						 optarg);
			c->batch = (uint32_t)v;
			break;
		case OPT_FILL:
			r = parse_num("--fill", optarg, 1024, &v);
			if (!r && !is_pow2(v))
				return usage_err("--fill %s: must be a power of 2, 1..1024",
						 optarg);
			c->fill = (uint32_t)v;
			break;
		case OPT_LOOP:
			c->loop = true;
			break;
		case OPT_SEED:
			r = parse_num("--seed", optarg, UINT32_MAX, &v);
			c->seed = (uint32_t)v;
			break;
		case OPT_RING:
			r = parse_num("--dirty-ring", optarg, MVM_MAX_RING, &v);
			if (!r && v && (!is_pow2(v) || v < MVM_MIN_RING))
				return usage_err("--dirty-ring %s: must be 0 or a power of 2, %d..%d",
						 optarg, MVM_MIN_RING,
						 MVM_MAX_RING);
			c->ring_entries = (uint32_t)v;
			break;
		case OPT_REAP:
			r = parse_num("--reap-ms", optarg, 10000, &v);
			if (!r && !v)
				return usage_err("--reap-ms must be at least 1");
			c->reap_ms = (unsigned int)v;
			break;
		case OPT_HARVEST:
			c->harvest_out = optarg;
			break;
		case OPT_CONTROL:
			c->control = optarg;
			break;
		case OPT_PAUSED:
			c->start_paused = true;
			break;
		case OPT_INCOMING:
			c->incoming = optarg;
			break;
		case OPT_BLOB:
			r = parse_num("--blob-size", optarg, MVM_MAX_BLOB, &v);
			if (!r && v < sizeof(struct mvm_blob_hdr))
				return usage_err("--blob-size must be at least %zu",
						 sizeof(struct mvm_blob_hdr));
			c->blob_size = (uint32_t)v;
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_QUIET:
			c->quiet = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return -1;
		case ':':
			return usage_err("option %s needs an argument",
					 argv[optind - 1]);
		default:
			return usage_err("unknown option '%s'",
					 argv[optind - 1]);
		}
		if (r)
			return r;
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);

	region_pages = (c->mem_size - MVM_GPA_DATA) / MVM_PAGE_SIZE / c->nvcpus;
	if (c->workload == MVM_WL_PAGES && !pages)
		return usage_err("--workload pages needs --pages LIST");
	if (pages && c->workload != MVM_WL_PAGES)
		return usage_err("--pages needs --workload pages");
	if (pages) {
		if (mvm_parse_ranges(pages, c->ranges, MVM_MAX_RANGES,
				     &c->nranges, err, sizeof(err)))
			return usage_err("%s", err);
		for (i = 0; i < c->nranges; i++)
			if (c->ranges[i].end > region_pages)
				return usage_err("--pages: page %u is outside the %llu-page vCPU region",
						 c->ranges[i].end - 1,
						 (unsigned long long)region_pages);
	}
	if (hot_set && c->workload != MVM_WL_HOT)
		return usage_err("--hot needs --workload hot");
	if (c->workload == MVM_WL_HOT && c->hot_k > region_pages)
		return usage_err("--hot %u: larger than the %llu-page vCPU region",
				 c->hot_k, (unsigned long long)region_pages);
	if (count_set && c->workload != MVM_WL_RANDOM &&
	    c->workload != MVM_WL_HOT)
		return usage_err("--count needs --workload random or hot");
	if (passes_set && (c->workload == MVM_WL_RANDOM ||
			   c->workload == MVM_WL_HOT))
		return usage_err("--passes does not apply to random/hot (use --count)");
	if (c->harvest_out && !c->ring_entries)
		return usage_err("--harvest-out needs the dirty ring (--dirty-ring N)");
	if (c->start_paused && !c->control)
		return usage_err("--paused needs --control");
	if (c->incoming && !c->control)
		return usage_err("--incoming needs --control (state import, resume)");
	if (!c->batch) {
		uint32_t want = MVM_DEFAULT_BATCH;

		if (c->ring_entries)
			want = MVM_RING_SAFE_STORES / c->fill;
		if (c->rate && c->rate / 50 < want)
			want = c->rate / 50;	/* >= 50 rate checks per s */
		c->batch = 1;
		while (c->batch * 2 <= want)
			c->batch *= 2;
	}
	g_quiet = c->quiet;
	return 0;
}

static const char *vm_state_name(int st)
{
	switch (st) {
	case MVM_VM_RUNNING: return "running";
	case MVM_VM_PAUSED: return "paused";
	case MVM_VM_FINISHED: return "finished";
	case MVM_VM_INCOMING: return "incoming";
	case MVM_VM_FAILED: return "failed";
	}
	return "?";
}

static const char *vcpu_state_name(int st)
{
	switch (st) {
	case MVM_VCPU_INIT: return "init";
	case MVM_VCPU_RUNNING: return "running";
	case MVM_VCPU_PAUSED: return "paused";
	case MVM_VCPU_FINISHED: return "finished";
	case MVM_VCPU_FAILED: return "failed";
	}
	return "?";
}

static bool all_finished(struct mvm_vm *vm)
{
	unsigned int i;
	bool r = true;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].state != MVM_VCPU_FINISHED)
			r = false;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static void log_progress(struct mvm_vm *vm)
{
	char line[512];
	uint64_t total;
	size_t off = 0;
	unsigned int i;

	line[0] = '\0';
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nvcpus && off < sizeof(line) - 40; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off,
					" vcpu%u=%llu", i,
					(unsigned long long)vm->vcpus[i].progress);
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_lock(&vm->dirty.lock);
	total = vm->dirty.total;
	pthread_mutex_unlock(&vm->dirty.lock);
	mvm_log(vm, "progress (pages):%s, dirty entries %llu", line,
		(unsigned long long)total);
}

enum { LOOP_DONE = 0, LOOP_FAILED = 1 };

/*
 * Wait for the vCPUs to finish (no --control), for QUIT (--control), for
 * SIGINT/SIGTERM, or for a failure; reap the dirty rings meanwhile.
 */
static int event_loop(struct mvm_vm *vm, struct mvm_ctl *ctl, int sfd)
{
	struct pollfd pfd[2 + 16];
	uint64_t last_progress = mvm_now_ns();
	bool told_finished = false;
	int n, nctl = 0, timeout, r;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = vm->event_fd;
		pfd[1].events = POLLIN;
		n = 2;
		if (ctl) {
			nctl = mvm_ctl_pollfds(ctl, pfd + 2, 16);
			n += nctl;
		}
		timeout = vm->dirty.enabled ? (int)vm->cfg->reap_ms : 1000;
		r = poll(pfd, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			mvm_err("poll: %s", strerror(errno));
			return LOOP_FAILED;
		}
		mvm_dirty_reap(vm, NULL, NULL);
		if (r <= 0)
			goto periodic;

		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				mvm_log(vm, "signal %u: stopping", si.ssi_signo);
			return LOOP_DONE;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t cnt;

			if (read(vm->event_fd, &cnt, sizeof(cnt)) < 0 &&
			    errno != EAGAIN)
				mvm_err("eventfd read: %s", strerror(errno));
		}
		if (vm->failed)
			return LOOP_FAILED;
		if (all_finished(vm)) {
			if (!ctl)
				return LOOP_DONE;
			if (!told_finished)
				mvm_log(vm, "all vCPUs finished; waiting for QUIT");
			told_finished = true;
		}
		if (ctl && mvm_ctl_service(ctl, pfd + 2, nctl) == 1) {
			mvm_log(vm, "quit requested");
			return LOOP_DONE;
		}
periodic:
		if (mvm_now_ns() - last_progress >= 2000000000ull) {
			last_progress = mvm_now_ns();
			if (mvm_vm_state(vm) == MVM_VM_RUNNING)
				log_progress(vm);
		}
	}
}

/*
 * Fill in host checksums that were not computed at report time (vCPUs that
 * finished on a migration source), then check every reported checksum.
 */
static bool finish_checksums(struct mvm_vm *vm)
{
	bool ok = true;
	unsigned int i;

	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		if ((v->vs_flags & MVM_VS_CSUM_VALID) &&
		    !(v->vs_flags & MVM_VS_HOST_CSUM_VALID) &&
		    (v->vs_flags & MVM_VS_FINISHED)) {
			v->host_csum = mvm_region_csum(vm, i);
			v->vs_flags |= MVM_VS_HOST_CSUM_VALID;
			if (v->host_csum != v->guest_csum) {
				v->vs_flags |= MVM_VS_CSUM_MISMATCH;
				mvm_err("vcpu %u: checksum MISMATCH: guest 0x%08x host 0x%08x",
					i, v->guest_csum, v->host_csum);
			}
		}
		if (v->vs_flags & MVM_VS_CSUM_MISMATCH)
			ok = false;
	}
	return ok;
}

static void print_summary(struct mvm_vm *vm, bool csum_ok)
{
	struct mvm_dirty *d = &vm->dirty;
	uint64_t end = vm->t_done_ns ? vm->t_done_ns : mvm_now_ns();
	double run_s = vm->ever_ran ? (double)(end - vm->t_run_ns) / 1e9 : 0.0;
	uint64_t ring_full = 0;
	unsigned int i;

	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		ring_full += v->ring_full_exits;
		mvm_log(vm, "vcpu %u: %s, runs %u, guest csum 0x%08x, host csum 0x%08x%s, %llu pages, %llu dirty entries",
			i, vcpu_state_name(v->state), v->csum_reports,
			v->guest_csum, v->host_csum,
			!(v->vs_flags & MVM_VS_CSUM_VALID) ? " (none yet)" :
			(v->vs_flags & MVM_VS_CSUM_MISMATCH) ? " MISMATCH" :
			" ok", (unsigned long long)v->progress,
			(unsigned long long)v->dirty_entries);
	}
	mvm_log(vm, "%s in %.3f s; dirty: %llu entries, %llu distinct GFNs, %llu ring-full exits",
		vm_state_name(mvm_vm_state(vm)), run_s,
		(unsigned long long)d->total, (unsigned long long)d->distinct,
		(unsigned long long)ring_full);
	if (d->invalid || d->reset_mismatch)
		mvm_err("dirty ring: %llu entries outside slot 0, %llu reset count mismatches",
			(unsigned long long)d->invalid,
			(unsigned long long)d->reset_mismatch);

	if (vm->cfg->json) {
		struct json_object *o = json_object_new_object();
		struct json_object *va = json_object_new_array();
		struct json_object *dj = json_object_new_object();
		struct json_object *per = json_object_new_array();
		struct json_object *bj = json_object_new_object();

		json_object_object_add(o, "state",
			json_object_new_string(vm_state_name(mvm_vm_state(vm))));
		json_object_object_add(o, "vcpus", json_object_new_int((int)vm->nvcpus));
		json_object_object_add(o, "mem_bytes", json_object_new_uint64(vm->mem_size));
		json_object_object_add(o, "page_size", json_object_new_int(MVM_PAGE_SIZE));
		json_object_object_add(o, "workload",
			json_object_new_string(wl_name(vm->workload)));
		json_object_object_add(o, "incoming", json_object_new_boolean(vm->incoming));
		json_object_object_add(o, "run_time_s", json_object_new_double(run_s));
		json_object_object_add(o, "csum_ok", json_object_new_boolean(csum_ok));
		for (i = 0; i < vm->nvcpus; i++) {
			struct mvm_vcpu *v = &vm->vcpus[i];
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "id", json_object_new_int((int)i));
			json_object_object_add(j, "state",
				json_object_new_string(vcpu_state_name(v->state)));
			json_object_object_add(j, "region_gpa",
				json_object_new_uint64(mvm_region_gpa(vm, i)));
			json_object_object_add(j, "region_pages",
				json_object_new_uint64(vm->region_pages));
			json_object_object_add(j, "csum_valid",
				json_object_new_boolean(v->vs_flags & MVM_VS_CSUM_VALID));
			json_object_object_add(j, "guest_csum", json_object_new_uint64(v->guest_csum));
			json_object_object_add(j, "host_csum", json_object_new_uint64(v->host_csum));
			json_object_object_add(j, "csum_match",
				json_object_new_boolean((v->vs_flags & MVM_VS_CSUM_VALID) &&
							!(v->vs_flags & MVM_VS_CSUM_MISMATCH)));
			json_object_object_add(j, "csum_reports", json_object_new_uint64(v->csum_reports));
			json_object_object_add(j, "scan_csum", json_object_new_uint64(v->scan_csum));
			json_object_object_add(j, "progress", json_object_new_uint64(v->progress));
			json_object_object_add(j, "exits", json_object_new_uint64(v->exits));
			json_object_object_add(j, "dirty_entries", json_object_new_uint64(v->dirty_entries));
			json_object_object_add(j, "ring_full_exits", json_object_new_uint64(v->ring_full_exits));
			json_object_array_add(va, j);
			json_object_array_add(per, json_object_new_uint64(v->dirty_entries));
		}
		json_object_object_add(o, "vcpu", va);
		json_object_object_add(dj, "enabled", json_object_new_boolean(d->enabled));
		json_object_object_add(dj, "ring_entries", json_object_new_uint64(d->enabled ? d->entries : 0));
		json_object_object_add(dj, "cap", json_object_new_string(
			!d->enabled ? "none" : d->cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL ?
			"KVM_CAP_DIRTY_LOG_RING_ACQ_REL" : "KVM_CAP_DIRTY_LOG_RING"));
		json_object_object_add(dj, "entries_total", json_object_new_uint64(d->total));
		json_object_object_add(dj, "entries_per_vcpu", per);
		json_object_object_add(dj, "distinct_gfns", json_object_new_uint64(d->distinct));
		json_object_object_add(dj, "invalid_entries", json_object_new_uint64(d->invalid));
		json_object_object_add(dj, "resets", json_object_new_uint64(d->resets));
		json_object_object_add(dj, "reset_count_mismatches", json_object_new_uint64(d->reset_mismatch));
		json_object_object_add(dj, "overflows", json_object_new_uint64(d->overflows));
		json_object_object_add(dj, "ring_full_exits", json_object_new_uint64(ring_full));
		json_object_object_add(o, "dirty", dj);
		json_object_object_add(bj, "size", json_object_new_uint64(vm->blob_size));
		json_object_object_add(bj, "fnv",
			json_object_new_uint64(mvm_fnv_bytes(vm->blob, vm->blob_size)));
		json_object_object_add(o, "device_blob", bj);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		fflush(stdout);
		json_object_put(o);
	}
}

static void kick_handler(int sig)
{
	(void)sig;
}

static int setup_signals(int *sfdp)
{
	struct sigaction sa;
	sigset_t set;
	int sfd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;	/* no SA_RESTART: KVM_RUN gets EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);

	/* Blocked here and inherited by every thread; vCPUs unblock SIGUSR1. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	sigdelset(&set, SIGUSR1);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	*sfdp = sfd;
	return 0;
}

int main(int argc, char **argv)
{
	static struct mvm_config cfg;
	static struct mvm_vm vm;
	struct mvm_ctl *ctl = NULL;
	bool csum_ok;
	int r, sfd, status = 1;

	r = parse_args(argc, argv, &cfg);
	if (r == -1)
		return 0;
	if (r)
		return 2;

	if (setup_signals(&sfd)) {
		mvm_err("signal setup: %s", strerror(errno));
		return 1;
	}
	if (mvm_vm_create(&vm, &cfg))
		goto err_sig;
	if (cfg.control && mvm_ctl_open(&ctl, &vm, cfg.control))
		goto err_vm;
	mvm_log(&vm, "workload %s%s, fill %u, batch %u%s", wl_name(cfg.workload),
		cfg.loop ? " (loop)" : "", cfg.fill, cfg.batch,
		cfg.incoming ? ", incoming: waiting for state import" :
		cfg.start_paused ? ", paused" : "");
	if (mvm_vm_start(&vm))
		goto err_stop;

	r = event_loop(&vm, ctl, sfd);
	mvm_vm_stop(&vm);
	/* Reading RAM could block forever on the faults that stuck a vCPU. */
	csum_ok = vm.stuck ? false : finish_checksums(&vm);
	print_summary(&vm, csum_ok);
	if (vm.dirty.overflows)
		mvm_err("dirty ring overflowed: the harvest is not exact");
	status = (r == LOOP_DONE && csum_ok && !vm.failed && !vm.stuck &&
		  !vm.dirty.overflows) ? 0 : 1;
	mvm_ctl_close(ctl);
	if (vm.stuck)		/* exit() takes the stuck threads down */
		return 1;
	mvm_vm_destroy(&vm);
	close(sfd);
	return status;

err_stop:
	mvm_vm_stop(&vm);
	mvm_ctl_close(ctl);
	if (vm.stuck)
		return 1;
err_vm:
	mvm_vm_destroy(&vm);
err_sig:
	close(sfd);
	return status;
}
