// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy watch PID: a live, top-like view of one session from
 * PCOPY_CMD_SESSION_GET, refreshed every interval.  Rates and interval
 * latencies are differences between two replies over the module's own
 * elapsed time, so a slow refresh does not skew them; the dirty rates are
 * the module's.  The first refresh, and the first after a reset, covers
 * the time since tracking began (or the reset).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "common/jsonb.h"
#include "observe/session.h"

#define USAGE		"PID [--interval SECONDS] [--count N]"
#define MAX_INTERVAL_S	3600

enum {
	OPT_INTERVAL = 256,
	OPT_COUNT,
};

struct watch_opts {
	uint64_t interval_ns;
	uint32_t count;			/* refreshes to show; 0: no limit */
};

static void watch_opt(int c, const char *arg, void *ctx)
{
	struct watch_opts *wo = ctx;

	switch (c) {
	case OPT_INTERVAL:
		wo->interval_ns = seconds_arg("watch", "--interval", arg, MAX_INTERVAL_S);
		break;
	case OPT_COUNT:
		if (parse_u32(arg, 1, UINT32_MAX, &wo->count))
			usage_error("watch: --count %s is not a positive integer", arg);
		break;
	}
}

/* Differences between two replies: what happened during one interval. */
struct span {
	uint64_t ns;			/* the module's elapsed time between them */
	uint64_t faults;
	uint64_t latency_sum_ns;
	uint64_t blocktime_ns;
};

static uint64_t rate(uint64_t n, uint64_t ns)
{
	return ns ? (uint64_t)((double)n * NSEC_PER_SEC / (double)ns + 0.5) : 0;
}

/* Counters that went down mean a reset: start again from zero. */
static bool was_reset(const struct session_stats *prev, const struct session_stats *cur)
{
	return cur->elapsed_ns < prev->elapsed_ns || cur->faults < prev->faults ||
	       cur->latency_sum_ns < prev->latency_sum_ns ||
	       cur->nonvcpu_faults < prev->nonvcpu_faults ||
	       cur->blocktime_ns < prev->blocktime_ns;
}

static void span_session(const struct session_stats *prev, const struct session_stats *cur,
			 struct span *sp)
{
	sp->ns = cur->elapsed_ns - (prev ? prev->elapsed_ns : 0);
	sp->faults = cur->faults - (prev ? prev->faults : 0);
	sp->latency_sum_ns = cur->latency_sum_ns - (prev ? prev->latency_sum_ns : 0);
	sp->blocktime_ns = cur->blocktime_ns - (prev ? prev->blocktime_ns : 0);
}

static void span_nonvcpu(const struct session_stats *prev, const struct session_stats *cur,
			 uint64_t ns, struct span *sp)
{
	sp->ns = ns;
	sp->faults = cur->nonvcpu_faults - (prev ? prev->nonvcpu_faults : 0);
	sp->latency_sum_ns = cur->nonvcpu_latency_sum_ns -
			     (prev ? prev->nonvcpu_latency_sum_ns : 0);
	sp->blocktime_ns = 0;
}

/* A vCPU's interval; one new since @prev, or whose counters fell, starts at 0. */
static void span_vcpu(const struct session_stats *prev, const struct vcpu_stats *v,
		      uint64_t ns, struct span *sp)
{
	const struct vcpu_stats *p = NULL;
	unsigned int i;

	for (i = 0; prev && i < prev->nr_vcpus; i++) {
		if (prev->vcpus[i].index == v->index) {
			p = &prev->vcpus[i];
			break;
		}
	}
	if (p && (v->faults < p->faults || v->latency_sum_ns < p->latency_sum_ns ||
		  v->blocktime_ns < p->blocktime_ns))
		p = NULL;
	sp->ns = ns;
	sp->faults = v->faults - (p ? p->faults : 0);
	sp->latency_sum_ns = v->latency_sum_ns - (p ? p->latency_sum_ns : 0);
	sp->blocktime_ns = v->blocktime_ns - (p ? p->blocktime_ns : 0);
}

static void print_text(FILE *f, const struct session_stats *prev,
		       const struct session_stats *cur, const struct watch_opts *wo,
		       bool tty)
{
	char a[16], b[16], c[16], pct[16];
	struct span s, sp;
	unsigned int i;

	span_session(prev, cur, &s);
	if (tty)
		fputs("\033[H\033[2J", f);
	fprintf(f, "pcopy watch: pid %" PRIu32 ", every %s, over the last %s%s\n",
		cur->pid, fmt_duration(a, sizeof(a), wo->interval_ns),
		fmt_duration(b, sizeof(b), s.ns), prev ? "" : " (since tracking began or the last reset)");
	fprintf(f, "faults %" PRIu64 ", %" PRIu64 "/s, avg latency %s, outstanding %" PRIu32
		", blocktime %s\n", cur->faults, rate(s.faults, s.ns),
		s.faults ? fmt_duration(c, sizeof(c), stats_avg(s.latency_sum_ns, s.faults)) : "-",
		cur->outstanding, fmt_duration(a, sizeof(a), cur->blocktime_ns));
	fprintf(f, "dirty %" PRIu64 " pages, %" PRIu64 " pages/s\n\n", cur->dirty_pages,
		cur->dirty_rate);

	fprintf(f, "%5s  %-8s %10s %9s %9s %8s %10s\n", "vCPU", "TID", "DIRTY/s",
		"FAULTS/s", "AVG LAT", "BLOCKED", "BLOCKTIME");
	for (i = 0; i < cur->nr_vcpus; i++) {
		const struct vcpu_stats *v = &cur->vcpus[i];

		span_vcpu(prev, v, s.ns, &sp);
		snprintf(pct, sizeof(pct), "%.1f%%",
			 sp.ns ? 100.0 * (double)sp.blocktime_ns / (double)sp.ns : 0.0);
		fprintf(f, "%5" PRIu32 "  %-8" PRIu32 " %10" PRIu64 " %9" PRIu64 " %9s %8s %10s\n",
			v->index, v->tid, v->dirty_rate, rate(sp.faults, sp.ns),
			sp.faults ? fmt_duration(a, sizeof(a),
						 stats_avg(sp.latency_sum_ns, sp.faults)) : "-",
			pct, fmt_duration(b, sizeof(b), v->blocktime_ns));
	}
	span_nonvcpu(prev, cur, s.ns, &sp);
	fprintf(f, "%5s  %-8s %10s %9" PRIu64 " %9s %8s %10s\n", "other", "-", "-",
		rate(sp.faults, sp.ns),
		sp.faults ? fmt_duration(a, sizeof(a), stats_avg(sp.latency_sum_ns, sp.faults)) : "-",
		"-", "-");
	if (!cur->nr_vcpus)
		fprintf(f, "(no vCPU known yet)\n");
	if (!tty)
		fputc('\n', f);
	fflush(f);
}

static struct json_object *span_json(struct jb *b, struct json_object *o,
				     const struct span *sp)
{
	jadd(b, o, "fault_rate", ju64(rate(sp->faults, sp->ns)));
	jadd(b, o, "latency_avg_ns", ju64(stats_avg(sp->latency_sum_ns, sp->faults)));
	return o;
}

static int print_json_line(FILE *f, const struct session_stats *prev,
			   const struct session_stats *cur)
{
	struct json_object *o = json_object_new_object(), *a, *x;
	struct jb b = { 0 };
	struct timespec now;
	struct span s, sp;
	unsigned int i;

	clock_gettime(CLOCK_REALTIME, &now);
	span_session(prev, cur, &s);
	jadd(&b, o, "pid", ju64(cur->pid));
	jadd(&b, o, "realtime_ns", ju64((uint64_t)now.tv_sec * NSEC_PER_SEC +
					(uint64_t)now.tv_nsec));
	jadd(&b, o, "elapsed_ns", ju64(cur->elapsed_ns));
	jadd(&b, o, "interval_ns", ju64(s.ns));
	jadd(&b, o, "faults", ju64(cur->faults));
	span_json(&b, o, &s);
	jadd(&b, o, "nowait_faults", ju64(cur->nowait_faults));
	jadd(&b, o, "outstanding", ju64(cur->outstanding));
	jadd(&b, o, "blocktime_ns", ju64(cur->blocktime_ns));
	jadd(&b, o, "dirty_pages", ju64(cur->dirty_pages));
	jadd(&b, o, "dirty_rate", ju64(cur->dirty_rate));

	span_nonvcpu(prev, cur, s.ns, &sp);
	x = json_object_new_object();
	jadd(&b, x, "faults", ju64(cur->nonvcpu_faults));
	jadd(&b, o, "nonvcpu", span_json(&b, x, &sp));

	a = json_object_new_array();
	for (i = 0; i < cur->nr_vcpus; i++) {
		const struct vcpu_stats *v = &cur->vcpus[i];

		span_vcpu(prev, v, s.ns, &sp);
		x = json_object_new_object();
		jadd(&b, x, "index", ju64(v->index));
		jadd(&b, x, "tid", ju64(v->tid));
		jadd(&b, x, "faults", ju64(v->faults));
		span_json(&b, x, &sp);
		jadd(&b, x, "blocktime_ns", ju64(v->blocktime_ns));
		jadd(&b, x, "blocked_ns", ju64(sp.blocktime_ns));
		jadd(&b, x, "dirty_pages", ju64(v->dirty_pages));
		jadd(&b, x, "dirty_rate", ju64(v->dirty_rate));
		jpush(&b, a, x);
	}
	jadd(&b, o, "vcpus", a);
	o = jb_done(&b, o);
	if (!o)
		return -ENOMEM;
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(f);
	json_object_put(o);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Sleep until @deadline; true if SIGINT or SIGTERM came instead. */
static bool sleep_until(uint64_t deadline, const sigset_t *sigs)
{
	for (;;) {
		uint64_t now = mono_ns();
		struct timespec ts;

		if (now >= deadline)
			return false;
		ts.tv_sec = (time_t)((deadline - now) / NSEC_PER_SEC);
		ts.tv_nsec = (long)((deadline - now) % NSEC_PER_SEC);
		if (sigtimedwait(sigs, NULL, &ts) > 0)
			return true;
		/* EAGAIN: the time is up; EINTR: another signal, sleep on */
	}
}

int cmd_watch(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ NULL, 0, NULL, 0 },
	};
	struct watch_opts wo = { .interval_ns = NSEC_PER_SEC };
	struct session_stats ss[2], *prev = NULL, *cur = &ss[0];
	char what[32], notrk[48], why[160] = "";
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	bool tty = isatty(STDOUT_FILENO);
	sigset_t sigs, old;
	struct opts o = *go;
	uint64_t deadline;
	struct pnl p;
	uint32_t pid, n;
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", watch_opt, &wo);
	pid = pid_arg(argc, argv, i, "watch");
	snprintf(what, sizeof(what), "watch %" PRIu32, pid);
	snprintf(notrk, sizeof(notrk), "pid %" PRIu32 " is not tracked", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	/* taken by sigtimedwait() between refreshes, never lost in between */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, &old);

	deadline = mono_ns();
	for (n = 0;; n++) {
		ret = session_call(&p, PCOPY_CMD_SESSION_GET, pid, cur, why, sizeof(why));
		if (ret == -ENOENT && n) {
			fprintf(stderr, "pcopy: %s: the session ended\n", what);
			ret = 0;
			break;
		}
		if (ret) {
			session_perror(what, ret, texts, why);
			break;
		}
		if (prev && was_reset(prev, cur)) {
			session_stats_free(prev);
			prev = NULL;
		}
		if (o.json) {
			ret = print_json_line(stdout, prev, cur);
			if (ret) {
				session_perror(what, ret, NULL, NULL);
				session_stats_free(cur);
				break;
			}
		} else {
			print_text(stdout, prev, cur, &wo, tty);
		}
		if (prev)
			session_stats_free(prev);
		prev = cur;
		cur = cur == &ss[0] ? &ss[1] : &ss[0];
		if (wo.count && n + 1 == wo.count)
			break;

		/* keep to the interval's grid; after a stall, restart it */
		deadline += wo.interval_ns;
		if (deadline < mono_ns())
			deadline = mono_ns() + wo.interval_ns;
		if (sleep_until(deadline, &sigs))
			break;
	}
	if (prev)
		session_stats_free(prev);
	sigprocmask(SIG_SETMASK, &old, NULL);
	pnl_close(&p);
	return ret;
}
