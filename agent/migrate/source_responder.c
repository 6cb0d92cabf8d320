// SPDX-License-Identifier: GPL-2.0
/* The source engine (source.h): the responder: the destination's return path. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "source.h"
#include "util.h"

/* Start vCPU @vcpu's hint stream right after page @p. */
static void hint_set(struct source *s, uint64_t p, uint32_t vcpu)
{
	struct hint_stream *h = &s->hint[vcpu % HINT_STREAMS];

	p = (p + 1) % s->npages;
	pthread_mutex_lock(&s->hint_lock);
	h->word = p / 64;
	h->first = (unsigned int)(p % 64);
	h->left = HINT_WORDS;
	pthread_mutex_unlock(&s->hint_lock);
	__atomic_fetch_add(&s->hints_set, 1, __ATOMIC_RELAXED);
}

static void src_answer(struct source *s, uint64_t p, uint32_t vcpu)
{
	uint64_t h;
	size_t n;
	int ret;

	__atomic_fetch_add(&s->requests, 1, __ATOMIC_RELAXED);
	/* answers are final content: only once the source is paused */
	pthread_mutex_lock(&s->lock);
	while (!s->paused && !mig_failed())
		pthread_cond_wait(&s->done_cv, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (mig_failed())
		return;

	/*
	 * The postcopy stream need not send it again.  post_left counts the
	 * bits of post_bm whoever sets or clears them, so the stream ends
	 * exactly when the last one is taken.
	 */
	bm_set(s->answered, p);
	if (__atomic_load_n(&s->post_live, __ATOMIC_ACQUIRE) && bm_clear(s->post_bm, p))
		__atomic_fetch_sub(&s->post_left, 1, __ATOMIC_ACQ_REL);

	if (s->o->no_urgent) {
		if (src_fifo_push(s, p))
			mig_fail("out of memory queueing an answer");
	} else {
		n = src_put_page(s, s->abuf, p, MIG_ROUND_FINAL, MIG_PAGE_ANSWER, &h);
		if (!n)
			return;
		ret = mig_send_buf(&s->urg, s->abuf, n);
		if (ret) {
			if (!mig_failed())
				mig_fail_lost(500, "urgent: sending: %s", ret == -EPIPE ?
					      "the destination closed the connection" : strerror(-ret));
			return;
		}
		__atomic_fetch_add(&s->answers_urgent, 1, __ATOMIC_RELAXED);
	}
	/* a vCPU that faulted elsewhere moves its stream there */
	if (!s->o->no_hint)
		hint_set(s, p, vcpu);
}

static void decode_done(const unsigned char *buf, struct mig_done *d)
{
	unsigned int i;

	memcpy(d, buf, sizeof(*d));
	d->placed = le64toh(d->placed);
	d->placed_buffer = le64toh(d->placed_buffer);
	d->placed_zero = le64toh(d->placed_zero);
	d->eexist = le64toh(d->eexist);
	d->requests = le64toh(d->requests);
	d->faults = le64toh(d->faults);
	d->samples = le64toh(d->samples);
	d->lat_p50_ns = le64toh(d->lat_p50_ns);
	d->lat_p99_ns = le64toh(d->lat_p99_ns);
	d->lat_max_ns = le64toh(d->lat_max_ns);
	d->flags = le32toh(d->flags);
	d->mod_faults = le64toh(d->mod_faults);
	d->mod_blocktime_ns = le64toh(d->mod_blocktime_ns);
	for (i = 0; i < MIG_HIST_US; i++)
		d->mod_hist_us[i] = le64toh(d->mod_hist_us[i]);
}

void *src_responder_main(void *arg)
{
	struct source *s = arg;
	const uint32_t allowed = MIG_BIT(MIG_T_REQUEST) | MIG_BIT(MIG_T_RESUMED) |
				 MIG_BIT(MIG_T_DONE) | MIG_BIT(MIG_T_ERROR);
	char text[MIG_MAX_ERROR + 1];
	struct mig_pkt pkt;

	while (!mig_failed()) {
		int ret = mig_recv(&s->ctl, allowed, &pkt, -1);

		if (ret) {
			if (ret == -EPIPE && __atomic_load_n(&s->complete_sent, __ATOMIC_ACQUIRE))
				break;	/* the destination closed after COMPLETE */
			if (!mig_failed())
				mig_fail("control: %s%s", s->ctl.why, ret == -EPIPE || ret == -ECONNRESET ?
					 " (did pcopy recv fail?)" : "");
			break;
		}
		switch (pkt.type) {
		case MIG_T_REQUEST: {
			struct mig_request r;

			memcpy(&r, pkt.data, sizeof(r));
			if (le64toh(r.page) >= s->npages || le16toh(r.flags) & ~__MIG_REQ_ALL ||
			    r.reserved) {
				mig_fail("control: REQUEST for page %" PRIu64 " (flags 0x%x) outside the %" PRIu64 "-page layout or malformed",
					 le64toh(r.page), le16toh(r.flags), s->npages);
				break;
			}
			src_answer(s, le64toh(r.page), le32toh(r.vcpu));
			break;
		}
		case MIG_T_RESUMED:
			pthread_mutex_lock(&s->lock);
			memcpy(&s->resumed_msg, pkt.data, sizeof(s->resumed_msg));
			s->resumed_msg.flags = le32toh(s->resumed_msg.flags);
			s->resumed_msg.import_ns = le64toh(s->resumed_msg.import_ns);
			s->t_resumed = mig_now_ns();
			s->resumed = true;
			pthread_cond_broadcast(&s->done_cv);
			pthread_mutex_unlock(&s->lock);
			break;
		case MIG_T_DONE:
			pthread_mutex_lock(&s->lock);
			decode_done(pkt.data, &s->done_msg);
			s->done = true;
			__atomic_store_n(&s->post_stop, true, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&s->done_cv);
			pthread_mutex_unlock(&s->lock);
			break;
		case MIG_T_ERROR:
			if (mig_error_text(&pkt, text, sizeof(text)) & MIG_ERR_NOT_RESUMED)
				__atomic_store_n(&s->dst_not_resumed, true, __ATOMIC_RELEASE);
			__atomic_store_n(&s->peer_failed, true, __ATOMIC_RELEASE);
			mig_fail("the destination failed: %s", text);
			break;
		}
	}
	pthread_mutex_lock(&s->lock);
	s->responder_done = true;
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}
