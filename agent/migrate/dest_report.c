// SPDX-License-Identifier: GPL-2.0
/* The destination engine (dest.h): progress line and summary (text and JSON). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "observe/stats.h"
#include "dest.h"
#include "util.h"

static uint64_t rx_bytes(struct dest *d)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < d->nch; i++)
		if (d->ch[i].ok)
			n += __atomic_load_n(&d->ch[i].conn.rx_bytes, __ATOMIC_RELAXED);
	return n;
}

void dst_progress(struct dest *d)
{
	uint64_t now = mig_now_ns(), bytes = rx_bytes(d), settled = place_settled(&d->pl);
	struct place_stats st;
	char b1[24], b2[24], b3[24], phase[32];

	if (now - d->rate_t >= NSEC_PER_SEC / 2) {
		double dt = (double)(now - d->rate_t) / 1e9;

		if (d->rate_t) {
			d->bps = (double)(bytes - d->rate_bytes) / dt;
			d->sps = (double)(settled - d->rate_settled) / dt;
		}
		d->rate_t = now;
		d->rate_bytes = bytes;
		d->rate_settled = settled;
	}
	/* placement only runs ahead once the manifest is in: no ETA before */
	if (d->manifest_done && d->sps >= 1)
		fmt_duration(b3, sizeof(b3),
			     (uint64_t)((double)(d->npages - settled) / d->sps * 1e9));
	else
		snprintf(b3, sizeof(b3), "?");
	place_stats(&d->pl, &st);
	if (d->switched)
		snprintf(phase, sizeof(phase), d->resumed || !d->have_vmm ? "postcopy" : "switchover");
	else if (d->round)
		snprintf(phase, sizeof(phase), "precopy round %u", d->round);
	else
		snprintf(phase, sizeof(phase), "starting");
	mig_progress("%s: %" PRIu64 "/%" PRIu64 " pages placed, %" PRIu64 " precopied versions, %" PRIu64 " pages faulted, %s received, %s/s, ETA %s",
		     phase, settled, d->npages, st.precopy_rx, st.faulted,
		     fmt_bytes(b1, sizeof(b1), bytes), fmt_bytes(b2, sizeof(b2), (uint64_t)d->bps),
		     b3);
}

struct json_object *dst_summary_json(struct dest *d)
{
	struct json_object *o = json_object_new_object(), *x, *a;
	struct place_stats st;
	struct jb b = { 0 };
	unsigned int i;

	place_stats(&d->pl, &st);
	jadd(&b, o, "result", json_object_new_string("ok"));
	jadd(&b, o, "vmm_pid", ju64((uint64_t)d->h.pid));
	a = json_object_new_array();
	for (i = 0; i < d->h.n; i++) {
		x = json_object_new_object();
		jadd(&b, x, "base_host_virt_addr", ju64(d->h.r[i].base));
		jadd(&b, x, "size", ju64(d->h.r[i].size));
		jadd(&b, x, "offset", ju64(d->h.r[i].offset));
		jadd(&b, x, "page_size", ju64(d->h.r[i].page_size));
		jpush(&b, a, x);
	}
	jadd(&b, o, "regions", a);
	jadd(&b, o, "page_size", ju64(PS));
	jadd(&b, o, "pages", ju64(d->npages));
	jadd(&b, o, "mem_bytes", ju64(d->npages * PS));
	jadd(&b, o, "channels", ju64(d->nbulk));
	jadd(&b, o, "placed", ju64(st.placed));
	jadd(&b, o, "placed_buffer", ju64(st.placed_buffer));
	jadd(&b, o, "placed_zero", ju64(st.placed_zero));
	jadd(&b, o, "placed_network", ju64(st.placed - st.placed_buffer));
	jadd(&b, o, "eexist", ju64(st.eexist));
	jadd(&b, o, "placed_twice", ju64(st.twice));
	jadd(&b, o, "placed_exactly_once",
	     json_object_new_boolean(st.placed == d->npages && !st.eexist && !st.twice));
	jadd(&b, o, "final_duplicates", ju64(st.final_dups));
	jadd(&b, o, "place_ioctls", ju64(st.ioctls));
	jadd(&b, o, "placer_pages", ju64(st.placer_pages));
	jadd(&b, o, "placer_ioctls", ju64(st.placer_ioctls));
	x = json_object_new_object();
	jadd(&b, x, "source", json_object_new_string(d->use_ring ? "ring" : "uffd"));
	jadd(&b, x, "pages_faulted", ju64(st.faulted));
	jadd(&b, x, "ring_records", ju64(d->fst.ring_records));
	jadd(&b, x, "ring_lost", ju64(d->fst.ring_lost));
	jadd(&b, x, "uffd_messages", ju64(d->fst.uffd_msgs));
	jadd(&b, x, "requests", ju64(d->fst.requests));
	jadd(&b, x, "local", ju64(st.local));
	jadd(&b, x, "outside", ju64(d->fst.outside));
	jadd(&b, x, "latency_samples", ju64(d->nlat));
	jadd(&b, x, "latency_p50_ns", ju64(d->p50));
	jadd(&b, x, "latency_p99_ns", ju64(d->p99));
	jadd(&b, x, "latency_max_ns", ju64(d->pmax));
	jadd(&b, o, "faults", x);
	x = json_object_new_object();
	jadd(&b, x, "rounds", ju64(d->round));
	jadd(&b, x, "versions_received", ju64(st.precopy_rx));
	jadd(&b, x, "replaced", ju64(st.precopy_newer));
	jadd(&b, x, "older_dropped", ju64(st.precopy_older));
	jadd(&b, x, "after_placed", ju64(st.precopy_late));
	jadd(&b, x, "manifest_final", ju64(d->manifest_final));
	jadd(&b, x, "late_pages", ju64(d->late));
	jadd(&b, x, "postcopy_pages", ju64(d->post_pages));
	jadd(&b, o, "precopy", x);
	jadd(&b, o, "state_bytes", ju64(d->state_total));
	jadd(&b, o, "resumed", json_object_new_boolean(d->resumed));
	jadd(&b, o, "import_resume_ns", ju64(d->import_ns));
	if (d->resumed && d->t_switch)
		jadd(&b, o, "switchover_to_resume_ns", ju64(d->t_resumed - d->t_switch));
	else
		json_object_object_add(o, "switchover_to_resume_ns", NULL);
	jadd(&b, o, "bytes_received", ju64(rx_bytes(d)));
	jadd(&b, o, "peak_rss_bytes", ju64(mig_peak_rss()));
	jadd(&b, o, "total_time_ns", ju64(d->t_end - d->t_connected));
	if (d->ms_ok)
		jadd(&b, o, "module", stats_to_json(&d->ms));
	else
		json_object_object_add(o, "module", NULL);
	return jb_done(&b, o);
}

void dst_summary_text(struct dest *d, FILE *f)
{
	char b1[24], b2[24], b3[24];
	struct place_stats st;

	place_stats(&d->pl, &st);
	fprintf(f, "received %s (%" PRIu64 " pages) in %s over %u bulk channels + urgent, %s in all\n",
	       fmt_bytes(b1, sizeof(b1), d->npages * PS), d->npages,
	       fmt_duration(b2, sizeof(b2), d->t_end - d->t_connected), d->nbulk,
	       fmt_bytes(b3, sizeof(b3), rx_bytes(d)));
	if (d->resumed)
		fprintf(f, "  VM resumed %s after the switchover began (IMPORT + RESUME took %s)\n",
		       fmt_duration(b1, sizeof(b1), d->t_resumed - d->t_switch),
		       fmt_duration(b2, sizeof(b2), d->import_ns));
	fprintf(f, "  placed: %" PRIu64 " of %" PRIu64 " pages%s (%" PRIu64 " from the precopy buffer, %" PRIu64 " zero); %" PRIu64 " already present\n",
	       st.placed, d->npages,
	       st.placed == d->npages && !st.eexist && !st.twice ? ", each exactly once" : "",
	       st.placed_buffer, st.placed_zero, st.eexist);
	fprintf(f, "  faults (%s): %" PRIu64 " pages, %" PRIu64 " requested, %" PRIu64 " placed from the buffer; latency p50 %s, p99 %s, max %s (%" PRIu64 " measured)\n",
	       d->use_ring ? "pcopy.ko ring" : "userfaultfd", st.faulted, d->fst.requests, st.local,
	       fmt_duration(b1, sizeof(b1), d->p50), fmt_duration(b2, sizeof(b2), d->p99),
	       fmt_duration(b3, sizeof(b3), d->pmax), d->nlat);
	fprintf(f, "  precopy: %u rounds, %" PRIu64 " versions received (%" PRIu64 " replaced by newer ones), %" PRIu64 " pages final from precopy, %" PRIu64 " late-detected\n",
	       d->round, st.precopy_rx, st.precopy_newer, d->manifest_final, d->late);
	if (d->ms_ok) {
		fprintf(f, "  pcopy.ko, pid %u: %" PRIu64 " blocking faults, blocktime %s, average latency %s\n",
		       d->ms.pid, d->ms.faults, fmt_duration(b1, sizeof(b1), d->ms.blocktime_ns),
		       fmt_duration(b2, sizeof(b2), stats_avg(d->ms.latency_sum_ns, d->ms.faults)));
		hist_print(f, "  fault latency (us):", d->ms.hist_us, PCOPY_HIST_US_BUCKETS, true);
	}
}
