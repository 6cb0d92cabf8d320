// SPDX-License-Identifier: GPL-2.0
/* The source engine (source.h): when to switch over (the policy) and the switchover itself. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/defs.h"
#include "source.h"
#include "util.h"

/* After round @k: go on, or switch over and say why in s->switch_why. */
bool src_should_switch(struct source *s, unsigned int k, uint64_t dirty, double bw,
		       double rate, uint64_t prev_dirty)
{
	double budget = bw * (double)s->o->downtime_ns / 1e9 / PS;

	if (s->dirty.lost_for_good) {
		snprintf(s->switch_buf, sizeof(s->switch_buf), "dirty tracking broke: %s", s->dirty.why);
	} else if ((double)dirty <= budget) {
		snprintf(s->switch_buf, sizeof(s->switch_buf),
			 "converged: %" PRIu64 " dirty pages fit the %" PRIu64 " ms downtime at the measured bandwidth",
			 dirty, s->o->downtime_ns / NSEC_PER_MSEC);
	} else if (k >= s->o->max_rounds) {
		snprintf(s->switch_buf, sizeof(s->switch_buf), "round limit (%u) reached with %" PRIu64 " dirty pages",
			 s->o->max_rounds, dirty);
	} else if (k >= 2 && rate * PS >= 0.8 * bw) {
		snprintf(s->switch_buf, sizeof(s->switch_buf),
			 "the dirty rate (%.0f pages/s) is at least 80%% of the bandwidth (%.0f pages/s): precopy cannot converge",
			 rate, bw / PS);
	} else if (k >= 3 && dirty >= prev_dirty) {
		snprintf(s->switch_buf, sizeof(s->switch_buf),
			 "the dirty set stopped shrinking (%" PRIu64 " pages after round %u)", dirty, k);
	} else {
		return false;
	}
	s->switch_why = s->switch_buf;
	return true;
}

int src_switchover(struct source *s)
{
	uint64_t *dset = bm_alloc(s->npages), *fin = bm_alloc(s->npages);
	uint64_t *first = bm_alloc(s->npages), p, nd, budget = 0, nfirst = 0;
	struct mig_switchover so;
	double bw = 0;
	unsigned int i;
	int ret = -ENOMEM;

	if (!dset || !fin || !first)
		goto out;
	s->phase = PH_SWITCHOVER;
	s->t_pause = mig_now_ns();
	if (s->vmm.live) {
		s->vmm.quiet = true;
		ret = vmm_pause(&s->vmm);
		s->vmm.quiet = false;
		if (ret) {
			mig_fail("the source VM could not be paused (%s): migration abandoned, the source keeps running",
				 s->vmm.err);
			goto out;
		}
	}
	s->t_paused = mig_now_ns();
	__atomic_store_n(&s->post_live, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->lock);
	s->paused = true;
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->lock);

	/* the final dirty set: every push up to the pause */
	if (s->tracking) {
		ret = dirty_drain(&s->dirty);
		if (ret)
			mig_note("draining the dirty ring after the pause failed (%s): every page counts as dirty",
				 s->dirty.why);
		nd = dirty_take(&s->dirty, dset);
		if (ret || s->dirty.lost_for_good) {
			memset(dset, 0xff, BM_WORDS(s->npages) * sizeof(uint64_t));
			nd = s->npages;
		}
	} else {
		nd = 0;
	}
	/* pages never precopied belong to the final set too */
	for (p = 0; p < s->npages; p++)
		if (!s->sent_round[p] && bm_set(dset, p))
			nd++;
	s->dirty_at_switch = nd;

	/* what fits the downtime target goes before the device state */
	if (s->tracking && s->nrounds) {
		uint64_t bytes = 0, ns = 0;

		for (i = 0; i < s->nrounds; i++) {
			bytes += s->rounds[i].bytes;
			ns += s->rounds[i].time_ns;
		}
		bw = ns ? (double)bytes / ((double)ns / 1e9) : 0;
		budget = (uint64_t)(bw * (double)s->o->downtime_ns / 1e9 / PS);
	}
	for (p = 0; p < s->npages; p++) {
		if (!bm_test(dset, p))
			continue;
		if (nfirst < budget) {
			bm_set(first, p);
			nfirst++;
		} else {
			src_post_add(s, p);
		}
	}
	s->final_pages = nfirst;
	so.final_pages = htole64(nfirst);
	so.postcopy_pages = htole64(nd - nfirst);
	ret = mig_send(&s->ctl, MIG_T_SWITCHOVER, &so, sizeof(so), NULL, 0);
	if (ret) {
		mig_fail("control: sending SWITCHOVER: %s", strerror(-ret));
		goto out;
	}
	/* a memory file's state was read before connecting (source_run()) */
	if (s->vmm.live) {
		s->vmm.quiet = true;
		ret = vmm_export(&s->vmm, &s->state, &s->state_len);
		s->vmm.quiet = false;
		if (ret) {
			mig_fail("the source VM's state could not be exported: %s", s->vmm.err);
			goto out;
		}
	}

	/* the final pages and the device state, over the bulk channels */
	s->state_hash = s->state_len ? mig_hash(s->state, s->state_len) : 0;
	s->job.bm = first;
	s->job.round = MIG_ROUND_FINAL;
	s->job.wrap = false;
	s->job.cursor = 0;
	s->job.next_chunk = 0;
	s->job_pages = nfirst;
	s->state_on_wire = s->state_len != 0;
	src_post_job(s, JOB_SWITCH);
	ret = src_wait_job(s);
	if (ret)
		goto out;
	s->t_state_sent = mig_now_ns();

	/* while the destination starts: the check, then the manifest */
	src_verify(s, dset, fin);
	s->post_pages = (uint64_t)__atomic_load_n(&s->post_left, __ATOMIC_ACQUIRE);
	if (s->late)
		mig_note("%" PRIu64 " precopied pages changed without a dirty record (late-detected): they move in postcopy",
			 s->late);
	ret = src_send_manifest(s, fin);
out:
	bm_free(dset, s->npages);
	bm_free(fin, s->npages);
	bm_free(first, s->npages);
	return ret;
}
