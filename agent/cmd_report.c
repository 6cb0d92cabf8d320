// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy report FILE: what a `pcopy record` file holds.  The file is read
 * once, front to back, and refused with one line at the first thing that
 * breaks the format (Documentation/record-format.rst); the figures come
 * from report.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent.h"
#include "common/jsonb.h"
#include "observe/rec.h"
#include "observe/recfile.h"
#include "observe/report.h"
#include "observe/stats.h"

/* What the trailer's counters say about the records, next to the file's. */
struct check {
	uint64_t delivered;		/* reached the agent */
	uint64_t lost;			/* LOST records + pending at the end */
	uint64_t produced;		/* the module's count */
	uint64_t lost_gfns;		/* LOST records + pending at the end */
	bool consistent;		/* delivered + lost == produced */
	bool gfns_consistent;		/* lost_gfns == the module's total */
};

static void make_check(const struct report *rp, const struct recr *rr, struct check *c)
{
	const struct recfile_trailer *t = &rr->trailer;
	size_t i;

	/* the module counts every record it writes but LOST (and PAD) */
	c->delivered = rr->unknown + t->skipped_unknown + t->skipped_malformed;
	for (i = 0; i < ARRAY_SIZE(rp->by_type); i++)
		if (i != PCOPY_REC_PAD && i != PCOPY_REC_LOST)
			c->delivered += rp->by_type[i];
	c->lost = rp->lost_records + t->lost_records_pending;
	c->produced = t->records + t->lost_records;
	c->lost_gfns = rp->lost_gfns + t->lost_gfns_pending;
	c->consistent = c->delivered + c->lost == c->produced;
	c->gfns_consistent = c->lost_gfns == t->lost_gfns;
}

static const char *reason_name(uint32_t reason, char *buf, size_t len)
{
	switch (reason) {
	case PCOPY_REASON_MISSING:
		return "missing";
	case PCOPY_REASON_WP:
		return "wp";
	case PCOPY_REASON_MINOR:
		return "minor";
	}
	snprintf(buf, len, "%#" PRIx32, reason);
	return buf;
}

/* A record time as seconds from the start of the recording, signed. */
static const char *rel_time(char *buf, size_t len, uint64_t ns, uint64_t start)
{
	uint64_t d = ns >= start ? ns - start : start - ns;

	snprintf(buf, len, "%c%" PRIu64 ".%09" PRIu64, ns >= start ? '+' : '-',
		 d / NSEC_PER_SEC, d % NSEC_PER_SEC);
	return buf;
}

/* -v: one line per record. */
static void print_record(const struct pcopy_rec_hdr *rec, uint64_t start)
{
	const struct pcopy_rec_fault *f = (const void *)rec;
	const struct pcopy_rec_dirty *d = (const void *)rec;
	const struct pcopy_rec_lost *l = (const void *)rec;
	const struct pcopy_rec_dirty_reset *x = (const void *)rec;
	char t[32], vcpu[16], rs[16], lat[16];
	uint32_t i;

	switch (rec->type) {
	case PCOPY_REC_FAULT_BEGIN:
	case PCOPY_REC_FAULT_END:
		if (f->vcpu == PCOPY_VCPU_NONE)
			snprintf(vcpu, sizeof(vcpu), "-");
		else
			snprintf(vcpu, sizeof(vcpu), "%" PRIu32, f->vcpu);
		printf("%-20s %-11s tid=%" PRIu32 " vcpu=%s addr=%#" PRIx64 " reason=%s",
		       rel_time(t, sizeof(t), rec->type == PCOPY_REC_FAULT_END ?
				f->end_ns : f->start_ns, start),
		       rec_type_name(rec->type), f->tid, vcpu, (uint64_t)f->addr,
		       reason_name(f->reason, rs, sizeof(rs)));
		if (rec->type == PCOPY_REC_FAULT_END)
			printf(" latency=%s", fmt_duration(lat, sizeof(lat), f->latency_ns));
		if (rec->flags & PCOPY_REC_F_NOWAIT)
			printf(" nowait");
		if (rec->flags & PCOPY_REC_F_INTERRUPTED)
			printf(" interrupted");
		putchar('\n');
		break;
	case PCOPY_REC_DIRTY:
		printf("%-20s %-11s vcpu=%" PRIu32 " count=%" PRIu32 " gfns(slot:offset/seq)=",
		       rel_time(t, sizeof(t), d->time_ns, start), "DIRTY", d->vcpu, d->count);
		for (i = 0; i < d->count; i++)
			printf("%s%#" PRIx32 ":%#" PRIx64 "/%" PRIu32, i ? "," : "",
			       d->gfns[i].slot, (uint64_t)d->gfns[i].offset, d->gfns[i].seq);
		putchar('\n');
		break;
	case PCOPY_REC_LOST:
		printf("%-20s %-11s records=%" PRIu64 " gfns=%" PRIu64 "\n", "-", "LOST",
		       (uint64_t)l->records, (uint64_t)l->gfns);
		break;
	case PCOPY_REC_DIRTY_RESET:
		printf("%-20s %-11s vcpu=%" PRIu32 " reset_index=%" PRIu32 "\n",
		       rel_time(t, sizeof(t), x->time_ns, start), "DIRTY_RESET", x->vcpu,
		       x->reset_index);
		break;
	}
}

static void print_check(const struct check *c, const struct recfile_trailer *t)
{
	if (c->consistent) {
		printf("records: %" PRIu64 " delivered + %" PRIu64 " lost = %" PRIu64 " produced\n",
		       c->delivered, c->lost, c->produced);
	} else {
		printf("records: %" PRIu64 " delivered + %" PRIu64 " lost = %" PRIu64
		       ", but the module counted %" PRIu64 " produced\n",
		       c->delivered, c->lost, c->delivered + c->lost, c->produced);
		if (t->stop != RECFILE_STOP_EOF && c->delivered + c->lost < c->produced)
			printf("  (the recording stopped while the session ran: the last %" PRIu64
			       " came after the final drain)\n",
			       c->produced - c->delivered - c->lost);
		else
			printf("  warning: the counts disagree\n");
	}
	if (!c->gfns_consistent)
		printf("  warning: LOST records and pending count %" PRIu64 " lost GFNs, the module %" PRIu64 "\n",
		       c->lost_gfns, t->lost_gfns);
}

static void print_text(const char *path, const struct recr *rr, const struct report *rp,
		       const struct check *c)
{
	const struct recfile_header *h = &rr->hdr;
	const struct recfile_trailer *t = &rr->trailer;
	char a[16], b[16], e[16], f[16], when[64];
	time_t secs = (time_t)(h->start_real_ns / NSEC_PER_SEC);
	struct tm tm;
	size_t i;

	if (!localtime_r(&secs, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(when, sizeof(when), "%" PRIu64 " s after the epoch", (uint64_t)secs);

	printf("file:     %s (format %" PRIu32 ", ABI %" PRIu32 ", ring version %" PRIu32 ")\n",
	       path, h->version, h->abi_version, h->ring_version);
	printf("pid:      %" PRIu32 "\n", h->pid);
	printf("recorded: %s for %s, stopped: %s\n", when,
	       fmt_duration(a, sizeof(a), t->end_mono_ns - h->start_mono_ns), recfile_stop_text(t->stop));
	printf("ring:     %s, watermark %" PRIu32 " bytes, %s%s%s\n",
	       fmt_bytes(b, sizeof(b), h->ring_data_size), h->watermark,
	       h->bind_flags & PCOPY_RING_BIND_FAULTS ? "faults" : "",
	       (h->bind_flags & PCOPY_RING_BIND_FAULTS) && (h->bind_flags & PCOPY_RING_BIND_DIRTY) ?
	       "+" : "", h->bind_flags & PCOPY_RING_BIND_DIRTY ? "dirty" : "");
	printf("\nrecords:  FAULT_BEGIN %" PRIu64 ", FAULT_END %" PRIu64 ", DIRTY %" PRIu64
	       ", DIRTY_RESET %" PRIu64 ", LOST %" PRIu64 ", unknown %" PRIu64 "\n",
	       rp->by_type[PCOPY_REC_FAULT_BEGIN], rp->by_type[PCOPY_REC_FAULT_END],
	       rp->by_type[PCOPY_REC_DIRTY], rp->by_type[PCOPY_REC_DIRTY_RESET],
	       rp->by_type[PCOPY_REC_LOST], rr->unknown);
	printf("faults:   %" PRIu64 " blocking (%" PRIu64 " interrupted), %" PRIu64 " nowait\n",
	       rp->faults, rp->interrupted, rp->nowait);
	if (rp->faults)
		printf("latency:  avg %s, p50 %s, p99 %s, max %s\n",
		       fmt_duration(a, sizeof(a), stats_avg(rp->latency_sum_ns, rp->faults)),
		       fmt_duration(b, sizeof(b), report_percentile(rp, 50)),
		       fmt_duration(e, sizeof(e), report_percentile(rp, 99)),
		       fmt_duration(f, sizeof(f), rp->latency_max_ns));
	printf("dirty:    %" PRIu64 " GFNs in %" PRIu64 " DIRTY records", rp->gfns,
	       rp->by_type[PCOPY_REC_DIRTY]);
	if (rp->high_vcpu_gfns)
		printf(" (%" PRIu64 " from vCPU ids above %d)", rp->high_vcpu_gfns,
		       PCOPY_MAX_VCPUS - 1);
	putchar('\n');

	printf("\n%5s %10s %9s %9s %12s\n", "vCPU", "FAULTS", "AVG LAT", "MAX LAT", "DIRTY GFNS");
	for (i = 0; i <= PCOPY_MAX_VCPUS; i++) {
		const struct report_vcpu *v = i < PCOPY_MAX_VCPUS ? &rp->vcpu[i] : &rp->nonvcpu;

		if (!v->faults && !v->dirty_gfns)
			continue;
		if (i < PCOPY_MAX_VCPUS)
			snprintf(e, sizeof(e), "%zu", i);
		else
			snprintf(e, sizeof(e), "other");
		printf("%5s %10" PRIu64 " %9s %9s %12" PRIu64 "\n", e, v->faults,
		       v->faults ? fmt_duration(a, sizeof(a),
						stats_avg(v->latency_sum_ns, v->faults)) : "-",
		       v->faults ? fmt_duration(b, sizeof(b), v->latency_max_ns) : "-",
		       v->dirty_gfns);
	}

	if (rp->nslots) {
		printf("\n%5s %5s %14s %12s\n", "AS", "SLOT", "DISTINCT GFNS", "GFNS");
		for (i = 0; i < rp->nslots; i++)
			printf("%5" PRIu32 " %5" PRIu32 " %14" PRIu64 " %12" PRIu64 "\n",
			       rp->slots[i].slot >> 16, rp->slots[i].slot & 0xffff,
			       rp->slots[i].distinct, rp->slots[i].gfns);
	}

	printf("\nlost:     %" PRIu64 " records, %" PRIu64 " GFNs (LOST records: %" PRIu64
	       " records, %" PRIu64 " GFNs; pending at the end: %" PRIu64 " records, %" PRIu64 " GFNs)\n",
	       c->lost, c->lost_gfns, rp->lost_records, rp->lost_gfns,
	       t->lost_records_pending, t->lost_gfns_pending);
	if (t->skipped_unknown || t->skipped_malformed)
		printf("skipped:  %" PRIu64 " of unknown types, %" PRIu64
		       " malformed (taken off the ring, not written)\n",
		       t->skipped_unknown, t->skipped_malformed);
	if (t->consumer_errors)
		printf("consumer errors: %" PRIu64 " (the module refused the agent's position)\n",
		       t->consumer_errors);
	print_check(c, t);
}

static struct json_object *vcpu_json(struct jb *b, const struct report_vcpu *v)
{
	struct json_object *o = json_object_new_object();

	jadd(b, o, "faults", ju64(v->faults));
	jadd(b, o, "latency_avg_ns", ju64(stats_avg(v->latency_sum_ns, v->faults)));
	jadd(b, o, "latency_max_ns", ju64(v->latency_max_ns));
	jadd(b, o, "dirty_gfns", ju64(v->dirty_gfns));
	return o;
}

static struct json_object *to_json(const char *path, const struct recr *rr,
				   const struct report *rp, const struct check *c)
{
	const struct recfile_header *h = &rr->hdr;
	const struct recfile_trailer *t = &rr->trailer;
	struct json_object *o = json_object_new_object(), *x, *a;
	struct jb b = { 0 };
	uint64_t distinct = 0;
	size_t i;

	jadd(&b, o, "file", json_object_new_string(path));
	jadd(&b, o, "format_version", ju64(h->version));
	jadd(&b, o, "abi_version", ju64(h->abi_version));
	jadd(&b, o, "ring_version", ju64(h->ring_version));
	jadd(&b, o, "pid", ju64(h->pid));
	jadd(&b, o, "page_size", ju64(h->page_size));
	jadd(&b, o, "ring_data_size", ju64(h->ring_data_size));
	jadd(&b, o, "watermark", ju64(h->watermark));
	jadd(&b, o, "recorded_faults",
	     json_object_new_boolean(h->bind_flags & PCOPY_RING_BIND_FAULTS));
	jadd(&b, o, "recorded_dirty",
	     json_object_new_boolean(h->bind_flags & PCOPY_RING_BIND_DIRTY));
	jadd(&b, o, "start_monotonic_ns", ju64(h->start_mono_ns));
	jadd(&b, o, "start_realtime_ns", ju64(h->start_real_ns));
	jadd(&b, o, "end_monotonic_ns", ju64(t->end_mono_ns));
	jadd(&b, o, "duration_ns", ju64(t->end_mono_ns - h->start_mono_ns));
	jadd(&b, o, "stop_reason", json_object_new_string(recfile_stop_key(t->stop)));

	x = json_object_new_object();
	jadd(&b, x, "fault_begin", ju64(rp->by_type[PCOPY_REC_FAULT_BEGIN]));
	jadd(&b, x, "fault_end", ju64(rp->by_type[PCOPY_REC_FAULT_END]));
	jadd(&b, x, "dirty", ju64(rp->by_type[PCOPY_REC_DIRTY]));
	jadd(&b, x, "dirty_reset", ju64(rp->by_type[PCOPY_REC_DIRTY_RESET]));
	jadd(&b, x, "lost", ju64(rp->by_type[PCOPY_REC_LOST]));
	jadd(&b, x, "unknown", ju64(rr->unknown));
	jadd(&b, o, "records", x);

	x = json_object_new_object();
	jadd(&b, x, "count", ju64(rp->faults));
	jadd(&b, x, "interrupted", ju64(rp->interrupted));
	jadd(&b, x, "nowait", ju64(rp->nowait));
	jadd(&b, x, "latency_avg_ns", ju64(stats_avg(rp->latency_sum_ns, rp->faults)));
	jadd(&b, x, "latency_p50_ns", ju64(report_percentile(rp, 50)));
	jadd(&b, x, "latency_p99_ns", ju64(report_percentile(rp, 99)));
	jadd(&b, x, "latency_max_ns", ju64(rp->latency_max_ns));
	jadd(&b, o, "faults", x);

	a = json_object_new_array();
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		const struct report_vcpu *v = &rp->vcpu[i];

		if (!v->faults && !v->dirty_gfns)
			continue;
		x = vcpu_json(&b, v);
		jadd(&b, x, "index", ju64(i));
		jpush(&b, a, x);
	}
	jadd(&b, o, "vcpus", a);
	jadd(&b, o, "nonvcpu", vcpu_json(&b, &rp->nonvcpu));

	a = json_object_new_array();
	for (i = 0; i < rp->nslots; i++) {
		const struct report_slot *s = &rp->slots[i];

		x = json_object_new_object();
		jadd(&b, x, "slot", ju64(s->slot));
		jadd(&b, x, "as_id", ju64(s->slot >> 16));
		jadd(&b, x, "id", ju64(s->slot & 0xffff));
		jadd(&b, x, "distinct_gfns", ju64(s->distinct));
		jadd(&b, x, "gfns", ju64(s->gfns));
		jpush(&b, a, x);
		distinct += s->distinct;
	}
	jadd(&b, o, "slots", a);

	x = json_object_new_object();
	jadd(&b, x, "gfns", ju64(rp->gfns));
	jadd(&b, x, "distinct_gfns", ju64(distinct));
	jadd(&b, x, "high_vcpu_gfns", ju64(rp->high_vcpu_gfns));
	jadd(&b, o, "dirty", x);

	x = json_object_new_object();
	jadd(&b, x, "records", ju64(c->lost));
	jadd(&b, x, "gfns", ju64(c->lost_gfns));
	jadd(&b, x, "reported_records", ju64(rp->lost_records));
	jadd(&b, x, "reported_gfns", ju64(rp->lost_gfns));
	jadd(&b, x, "pending_records", ju64(t->lost_records_pending));
	jadd(&b, x, "pending_gfns", ju64(t->lost_gfns_pending));
	jadd(&b, o, "lost", x);

	x = json_object_new_object();
	jadd(&b, x, "ring_flags", ju64(t->ring_flags));
	jadd(&b, x, "records", ju64(t->records));
	jadd(&b, x, "lost_records", ju64(t->lost_records));
	jadd(&b, x, "lost_gfns", ju64(t->lost_gfns));
	jadd(&b, x, "lost_records_pending", ju64(t->lost_records_pending));
	jadd(&b, x, "lost_gfns_pending", ju64(t->lost_gfns_pending));
	jadd(&b, x, "consumer_errors", ju64(t->consumer_errors));
	jadd(&b, x, "skipped_unknown", ju64(t->skipped_unknown));
	jadd(&b, x, "skipped_malformed", ju64(t->skipped_malformed));
	jadd(&b, o, "trailer", x);

	x = json_object_new_object();
	jadd(&b, x, "delivered", ju64(c->delivered));
	jadd(&b, x, "lost", ju64(c->lost));
	jadd(&b, x, "produced", ju64(c->produced));
	jadd(&b, x, "consistent", json_object_new_boolean(c->consistent));
	jadd(&b, x, "gfns_consistent", json_object_new_boolean(c->gfns_consistent));
	jadd(&b, o, "check", x);
	return jb_done(&b, o);
}

enum { OPT_PLOT = 256 };

struct report_opts {
	bool verbose;
	const char *plot;		/* --plot OUT.svg|OUT.png */
};

static void report_opt(int c, const char *arg, void *ctx)
{
	struct report_opts *ro = ctx;

	if (c == 'v')
		ro->verbose = true;
	else if (c == OPT_PLOT)
		ro->plot = arg;
}

int cmd_report(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ NULL, 0, NULL, 0 },
	};
	struct report_opts ro = { 0 };
	const struct pcopy_rec_hdr *rec;
	struct report *rp;
	struct opts o = *go;
	struct check c;
	struct recr rr;
	const char *path;
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, "FILE [-v|--verbose] [--plot OUT.svg|OUT.png]", lopts,
			 "v", report_opt, &ro);
	if (argc - i != 1)
		usage_error("report: expected one FILE");
	if (ro.verbose && o.json)
		usage_error("report: -v lists records in the text output only");
	if (ro.plot && (strlen(ro.plot) <= 4 ||
			(strcmp(ro.plot + strlen(ro.plot) - 4, ".svg") &&
			 strcmp(ro.plot + strlen(ro.plot) - 4, ".png"))))
		usage_error("report: --plot %s: the name must end in .svg or .png", ro.plot);
	path = argv[i];

	/* the per-vCPU table makes it large for the stack */
	rp = calloc(1, sizeof(*rp));
	if (!rp) {
		fprintf(stderr, "pcopy: report %s: out of memory\n", path);
		return -ENOMEM;
	}
	ret = recr_open(&rr, path);
	if (ret) {
		fprintf(stderr, "pcopy: report %s: %s\n", path, rr.why);
		goto out_free;
	}
	while ((ret = recr_next(&rr, &rec)) > 0) {
		if (ro.verbose)
			print_record(rec, rr.hdr.start_mono_ns);
		ret = report_add(rp, rec);
		if (ret) {
			snprintf(rr.why, sizeof(rr.why), "out of memory");
			break;
		}
	}
	if (ret) {
		fflush(stdout);
		fprintf(stderr, "pcopy: report %s: %s\n", path, rr.why);
		goto out;
	}
	report_finish(rp);
	make_check(rp, &rr, &c);

	if (o.json) {
		struct json_object *obj = to_json(path, &rr, rp, &c);

		if (!obj) {
			fprintf(stderr, "pcopy: report %s: out of memory\n", path);
			ret = -ENOMEM;
			goto out;
		}
		print_json(obj);
		json_object_put(obj);
	} else {
		if (ro.verbose)
			putchar('\n');
		print_text(path, &rr, rp, &c);
	}
	/* the picture: pcopy-plot, which alone loads cairo (helper.c) */
	if (ro.plot) {
		const char *args[] = { path, ro.plot, NULL };

		fflush(stdout);
		ret = helper_run("plot", args) ? -EIO : 0;
	}
out:
	recr_close(&rr);
out_free:
	report_free(rp);
	free(rp);
	return ret;
}
