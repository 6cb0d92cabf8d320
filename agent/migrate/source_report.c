// SPDX-License-Identifier: GPL-2.0
/* The source engine (source.h): progress line and summary (text and JSON). */
#include <inttypes.h>
#include <stdio.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "observe/stats.h"
#include "source.h"
#include "util.h"

/* @n per second over @ns; 0 if no time passed. */
static uint64_t per_sec(uint64_t n, uint64_t ns)
{
	return ns ? (uint64_t)((double)n / ((double)ns / 1e9)) : 0;
}

uint64_t src_tx_bytes(struct source *s)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < s->nw; i++)
		n += __atomic_load_n(&s->w[i].conn.tx_bytes, __ATOMIC_RELAXED);
	if (s->urg_ok)
		n += __atomic_load_n(&s->urg.tx_bytes, __ATOMIC_RELAXED);
	return n;
}

static const char *eta(char *buf, size_t len, uint64_t left, double pps)
{
	if (pps < 1)
		snprintf(buf, len, "?");
	else
		fmt_duration(buf, len, (uint64_t)((double)left / pps * 1e9));
	return buf;
}

void src_progress(struct source *s)
{
	uint64_t now = mig_now_ns(), bytes = src_tx_bytes(s);
	uint64_t pages = __atomic_load_n(&s->pages_sent, __ATOMIC_RELAXED);
	uint64_t done = __atomic_load_n(&s->round_pages, __ATOMIC_RELAXED);
	struct mig_dirty_stats st = { 0 };
	char b1[24], b2[24], b3[24];

	if (s->tracking)
		dirty_stats(&s->dirty, &st);
	if (now - s->rate_t >= NSEC_PER_SEC / 2) {
		double dt = (double)(now - s->rate_t) / 1e9;

		if (s->rate_t) {
			s->bps = (double)(bytes - s->rate_bytes) / dt;
			s->pps = (double)(pages - s->rate_pages) / dt;
			s->dps = (double)(st.newly_dirty - s->rate_dirty) / dt;
		}
		s->rate_t = now;
		s->rate_bytes = bytes;
		s->rate_pages = pages;
		s->rate_dirty = st.newly_dirty;
	}
	fmt_bytes(b1, sizeof(b1), bytes);
	fmt_bytes(b2, sizeof(b2), (uint64_t)s->bps);
	switch (s->phase) {
	case PH_PRECOPY: {
		uint64_t left = s->job_pages > done ? s->job_pages - done : 0;

		mig_progress("precopy round %u: %" PRIu64 "/%" PRIu64 " pages, %s sent, %s/s, dirty %" PRIu64 " pages at %.0f pages/s, round ETA %s",
			     s->nrounds + 1, done, s->job_pages, b1, b2, dirty_count(&s->dirty),
			     s->dps, eta(b3, sizeof(b3), left, s->pps));
		break;
	}
	case PH_SWITCHOVER:
		mig_progress("switchover: source paused for %s, %" PRIu64 "/%" PRIu64 " final pages, %s sent",
			     fmt_duration(b3, sizeof(b3), now - s->t_pause), done, s->job_pages,
			     b1);
		break;
	case PH_POSTCOPY: {
		int64_t left = __atomic_load_n(&s->post_left, __ATOMIC_RELAXED);

		mig_progress("postcopy: %" PRId64 "/%" PRIu64 " pages left, %" PRIu64 " requests answered, %s sent, %s/s, ETA %s",
			     left > 0 ? left : 0, s->post_pages,
			     __atomic_load_n(&s->requests, __ATOMIC_RELAXED), b1, b2,
			     eta(b3, sizeof(b3), left > 0 ? (uint64_t)left : 0, s->pps));
		break;
	}
	default:
		break;
	}
}

static bool have_downtime(const struct source *s)
{
	return s->vmm.live && s->resumed && (s->resumed_msg.flags & MIG_RESUMED_VMM);
}

struct json_object *src_summary_json(struct source *s)
{
	const struct mig_done *d = &s->done_msg;
	struct json_object *o = json_object_new_object(), *a, *x, *m;
	uint64_t total = s->t_end - s->t_start;
	struct mig_dirty_stats st;
	struct jb b = { 0 };
	unsigned int i;

	jadd(&b, o, "result", json_object_new_string("ok"));
	jadd(&b, o, "mode", json_object_new_string(s->tracking ? "precopy+postcopy" : "postcopy-only"));
	if (s->tracking)
		json_object_object_add(o, "postcopy_only_reason", NULL);
	else
		jadd(&b, o, "postcopy_only_reason", json_object_new_string(s->postcopy_why));
	jadd(&b, o, "source", json_object_new_string(s->vmm.live ? "vmm" : "file"));
	if (s->vmm.live)
		jadd(&b, o, "vmm_pid", ju64((uint64_t)vmm_pid(&s->vmm)));
	jadd(&b, o, "to", json_object_new_string(s->o->to));
	jadd(&b, o, "page_size", ju64(PS));
	jadd(&b, o, "pages", ju64(s->npages));
	jadd(&b, o, "mem_bytes", ju64(s->size));
	jadd(&b, o, "channels", ju64(s->nw));
	jadd(&b, o, "urgent_channel", json_object_new_boolean(!s->o->no_urgent));
	jadd(&b, o, "hints", json_object_new_boolean(!s->o->no_hint));
	jadd(&b, o, "total_time_ns", ju64(total));
	if (have_downtime(s))
		jadd(&b, o, "downtime_ns", ju64(s->t_resumed - s->t_pause));
	else
		json_object_object_add(o, "downtime_ns", NULL);
	jadd(&b, o, "pause_ns", ju64(s->t_paused - s->t_pause));
	jadd(&b, o, "switchover_ns", ju64(s->t_state_sent - s->t_pause));
	jadd(&b, o, "rounds", ju64(s->nrounds));
	if (s->switch_why)
		jadd(&b, o, "switchover_reason", json_object_new_string(s->switch_why));
	else
		json_object_object_add(o, "switchover_reason", NULL);
	a = json_object_new_array();
	for (i = 0; i < s->nrounds; i++) {
		const struct round_stat *r = &s->rounds[i];

		x = json_object_new_object();
		jadd(&b, x, "round", ju64(r->round));
		jadd(&b, x, "pages", ju64(r->pages));
		jadd(&b, x, "zero_pages", ju64(r->zero));
		jadd(&b, x, "bytes", ju64(r->bytes));
		jadd(&b, x, "time_ns", ju64(r->time_ns));
		jadd(&b, x, "dirty_pages_after", ju64(r->dirty_after));
		jadd(&b, x, "dirty_rate", ju64(r->dirty_rate));
		jpush(&b, a, x);
	}
	jadd(&b, o, "round_stats", a);
	jadd(&b, o, "dirty_at_switchover", ju64(s->dirty_at_switch));
	jadd(&b, o, "final_pages", ju64(s->final_pages));
	jadd(&b, o, "postcopy_pages", ju64(s->post_pages));
	jadd(&b, o, "late_detected", ju64(s->late));
	jadd(&b, o, "requests", ju64(s->requests));
	jadd(&b, o, "answers_urgent", ju64(s->answers_urgent));
	jadd(&b, o, "answers_bulk", ju64(s->answers_bulk));
	jadd(&b, o, "hints_set", ju64(s->hints_set));
	jadd(&b, o, "hints_consumed", ju64(s->hints_consumed));
	jadd(&b, o, "pages_sent", ju64(s->pages_sent));
	jadd(&b, o, "zero_pages_sent", ju64(s->zero_sent));
	jadd(&b, o, "bytes_sent", ju64(src_tx_bytes(s)));
	jadd(&b, o, "state_bytes", ju64(s->state_len));
	jadd(&b, o, "throughput_bytes_per_s", ju64(per_sec(src_tx_bytes(s), total)));
	jadd(&b, o, "peak_rss_bytes", ju64(mig_peak_rss()));
	if (s->tracking) {
		dirty_stats(&s->dirty, &st);
		x = json_object_new_object();
		jadd(&b, x, "records", ju64(st.records));
		jadd(&b, x, "gfns", ju64(st.gfns));
		jadd(&b, x, "resets", ju64(st.resets));
		jadd(&b, x, "lost_gfns", ju64(st.lost_gfns));
		jadd(&b, x, "lost_records", ju64(st.lost_records));
		jadd(&b, x, "bad_gfns", ju64(st.bad_gfns));
		jadd(&b, x, "barriers", ju64(st.barriers));
		jadd(&b, x, "kept_dirty", ju64(st.kept));
		jadd(&b, x, "trust_bitmap", json_object_new_boolean(s->dirty.trust_bitmap));
		jadd(&b, o, "dirty_tracking", x);
	} else {
		json_object_object_add(o, "dirty_tracking", NULL);
	}
	x = json_object_new_object();
	jadd(&b, x, "placed", ju64(d->placed));
	jadd(&b, x, "placed_buffer", ju64(d->placed_buffer));
	jadd(&b, x, "placed_zero", ju64(d->placed_zero));
	jadd(&b, x, "eexist", ju64(d->eexist));
	jadd(&b, x, "requests", ju64(d->requests));
	jadd(&b, x, "faults", ju64(d->faults));
	jadd(&b, x, "latency_samples", ju64(d->samples));
	jadd(&b, x, "latency_p50_ns", ju64(d->lat_p50_ns));
	jadd(&b, x, "latency_p99_ns", ju64(d->lat_p99_ns));
	jadd(&b, x, "latency_max_ns", ju64(d->lat_max_ns));
	if (d->flags & MIG_DONE_MODULE) {
		m = json_object_new_object();
		jadd(&b, m, "faults", ju64(d->mod_faults));
		jadd(&b, m, "blocktime_ns", ju64(d->mod_blocktime_ns));
		jadd(&b, m, "hist_us", ju64_array(&b, d->mod_hist_us, MIG_HIST_US));
		jadd(&b, x, "module", m);
	} else {
		json_object_object_add(x, "module", NULL);
	}
	jadd(&b, o, "destination", x);
	return jb_done(&b, o);
}

void src_summary_text(struct source *s, FILE *f)
{
	const struct mig_done *d = &s->done_msg;
	uint64_t total = s->t_end - s->t_start;
	char b1[24], b2[24], b3[24], b4[24];
	unsigned int i;

	fprintf(f, "migrated %s (%" PRIu64 " pages) to %s in %s: %s\n",
	       fmt_bytes(b1, sizeof(b1), s->size), s->npages, s->o->to,
	       fmt_duration(b2, sizeof(b2), total),
	       s->tracking ? "precopy + postcopy" : "postcopy only");
	if (!s->tracking)
		fprintf(f, "  no precopy: %s\n", s->postcopy_why);
	if (have_downtime(s))
		fprintf(f, "  downtime: %s (source paused -> destination resumed; pause took %s, switchover sent in %s)\n",
		       fmt_duration(b1, sizeof(b1), s->t_resumed - s->t_pause),
		       fmt_duration(b2, sizeof(b2), s->t_paused - s->t_pause),
		       fmt_duration(b3, sizeof(b3), s->t_state_sent - s->t_pause));
	else
		fprintf(f, "  downtime: n/a (%s)\n", s->vmm.live ? "the destination resumed no VMM (no --vmm-control)" :
		       "no running source VM");
	fprintf(f, "  sent: %" PRIu64 " pages (%" PRIu64 " zero), %s over %u bulk channels + urgent, %s/s; device state %s\n",
	       s->pages_sent, s->zero_sent, fmt_bytes(b1, sizeof(b1), src_tx_bytes(s)), s->nw,
	       fmt_bytes(b2, sizeof(b2), per_sec(src_tx_bytes(s), total)),
	       fmt_bytes(b3, sizeof(b3), s->state_len));
	for (i = 0; i < s->nrounds; i++) {
		const struct round_stat *r = &s->rounds[i];

		fprintf(f, "  round %u: %" PRIu64 " pages (%" PRIu64 " zero) in %s, %s/s; then %" PRIu64 " dirty, %" PRIu64 " pages/s dirtied\n",
		       r->round, r->pages, r->zero, fmt_duration(b1, sizeof(b1), r->time_ns),
		       fmt_bytes(b2, sizeof(b2), per_sec(r->bytes, r->time_ns)),
		       r->dirty_after, r->dirty_rate);
	}
	if (s->switch_why)
		fprintf(f, "  switchover: %s\n", s->switch_why);
	fprintf(f, "  switchover: %" PRIu64 " pages to send at the pause (dirty or never sent), %" PRIu64 " sent with the device state; late-detected %" PRIu64 "\n",
	       s->dirty_at_switch, s->final_pages, s->late);
	fprintf(f, "  postcopy: %" PRIu64 " pages streamed; %" PRIu64 " requests (%" PRIu64 " answered on the urgent channel, %" PRIu64 " on bulk); hints %" PRIu64 " set, %" PRIu64 " taken\n",
	       s->post_pages, s->requests, s->answers_urgent, s->answers_bulk, s->hints_set,
	       s->hints_consumed);
	fprintf(f, "  destination: %" PRIu64 " pages placed (%" PRIu64 " from the precopy buffer, %" PRIu64 " zero), %" PRIu64 " already present; %" PRIu64 " faults, latency p50 %s, p99 %s, max %s (%" PRIu64 " measured)\n",
	       d->placed, d->placed_buffer, d->placed_zero, d->eexist, d->faults,
	       fmt_duration(b1, sizeof(b1), d->lat_p50_ns),
	       fmt_duration(b2, sizeof(b2), d->lat_p99_ns),
	       fmt_duration(b4, sizeof(b4), d->lat_max_ns), d->samples);
	if (d->flags & MIG_DONE_MODULE) {
		fprintf(f, "  destination pcopy.ko: %" PRIu64 " blocking faults, blocktime %s\n",
		       d->mod_faults, fmt_duration(b1, sizeof(b1), d->mod_blocktime_ns));
		hist_print(f, "  fault latency (us), destination VMM:", d->mod_hist_us, MIG_HIST_US, true);
	}
}
