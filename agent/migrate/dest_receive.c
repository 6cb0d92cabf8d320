// SPDX-License-Identifier: GPL-2.0
/* The destination engine (dest.h): the receivers: data channels and the control reader. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dest.h"
#include "util.h"

void dst_all_placed(void *arg)
{
	struct dest *d = arg;

	/* the fault thread has nothing left to do; before main may stop it */
	faults_wake(&d->f);
	pthread_mutex_lock(&d->lock);
	d->all_placed = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

static int on_page(struct dest *d, struct chan *c, const struct mig_pkt *pkt)
{
	struct mig_page ph;
	uint64_t p;
	size_t want;
	bool zero;

	memcpy(&ph, pkt->data, sizeof(ph));
	p = le64toh(ph.page);
	zero = ph.flags & MIG_PAGE_ZERO;
	want = sizeof(ph) + (zero ? 0 : PS);
	if ((ph.flags & ~__MIG_PAGE_ALL) || ph.reserved || ph.reserved2) {
		mig_fail("%s: PAGE %" PRIu64 " with unknown flags 0x%x or reserved fields set",
			  c->conn.name, p, ph.flags);
		return -EPROTO;
	}
	if (p >= d->npages) {
		mig_fail("%s: page %" PRIu64 " is outside the %" PRIu64 "-page layout",
			  c->conn.name, p, d->npages);
		return -EPROTO;
	}
	if (pkt->len != want) {
		mig_fail("%s: PAGE %" PRIu64 " of %u bytes, expected %zu", c->conn.name, p,
			  pkt->len, want);
		return -EPROTO;
	}
	if (ph.round != MIG_ROUND_FINAL &&
	    (!(d->sflags & MIG_SETUP_PRECOPY) || !ph.round || ph.round > d->max_rounds)) {
		mig_fail("%s: page %" PRIu64 " of round %u, which cannot exist here",
			  c->conn.name, p, ph.round);
		return -EPROTO;
	}
	if (((ph.flags & MIG_PAGE_ANSWER) && ph.round != MIG_ROUND_FINAL) ||
	    (c->kind == MIG_CHAN_URGENT && !(ph.flags & MIG_PAGE_ANSWER))) {
		mig_fail("%s: page %" PRIu64 ": only final answers travel as answers, and only answers on the urgent channel",
			  c->conn.name, p);
		return -EPROTO;
	}
	c->pages++;
	if (ph.round == MIG_ROUND_FINAL)
		return place_final(&d->pl, p, zero ? NULL : pkt->data + sizeof(ph));
	return place_precopy(&d->pl, p, ph.round, zero ? NULL : pkt->data + sizeof(ph));
}

static int on_state(struct dest *d, struct chan *c, const struct mig_pkt *pkt)
{
	struct mig_state st;
	uint64_t total, hash, off, n;
	uint32_t seq, count;
	int ret = -EPROTO;

	memcpy(&st, pkt->data, sizeof(st));
	seq = le32toh(st.seq);
	count = le32toh(st.count);
	total = le64toh(st.total);
	hash = le64toh(st.hash);
	if (!(d->sflags & MIG_SETUP_STATE)) {
		mig_fail("%s: device state, but the source announced none", c->conn.name);
		return -EPROTO;
	}
	if (!total || total > MIG_MAX_STATE ||
	    count != (total + MIG_STATE_CHUNK - 1) / MIG_STATE_CHUNK || seq >= count) {
		mig_fail("%s: device state chunk %u of %u for %" PRIu64 " bytes: inconsistent",
			  c->conn.name, seq, count, total);
		return -EPROTO;
	}
	off = (uint64_t)seq * MIG_STATE_CHUNK;
	n = total - off < MIG_STATE_CHUNK ? total - off : MIG_STATE_CHUNK;
	if (pkt->len != sizeof(st) + n) {
		mig_fail("%s: device state chunk %u of %u bytes, expected %" PRIu64,
			  c->conn.name, seq, pkt->len, sizeof(st) + n);
		return -EPROTO;
	}
	pthread_mutex_lock(&d->lock);
	if (!d->state) {
		d->state = malloc(total);
		d->state_seen = calloc(count, 1);
		if (!d->state || !d->state_seen) {
			pthread_mutex_unlock(&d->lock);
			mig_fail("out of memory for the device state");
			return -ENOMEM;
		}
		d->state_total = total;
		d->state_count = count;
		d->state_hash = hash;
	} else if (total != d->state_total || hash != d->state_hash) {
		pthread_mutex_unlock(&d->lock);
		mig_fail("%s: device state chunk %u disagrees with the others on the size or hash",
			  c->conn.name, seq);
		return -EPROTO;
	}
	if (d->state_seen[seq]) {
		pthread_mutex_unlock(&d->lock);
		mig_fail("%s: device state chunk %u arrived twice", c->conn.name, seq);
		return -EPROTO;
	}
	memcpy(d->state + off, pkt->data + sizeof(st), n);
	d->state_seen[seq] = 1;
	if (++d->state_got == count) {
		/* reassembled in order whatever channel each chunk took */
		if (mig_hash(d->state, total) != hash) {
			pthread_mutex_unlock(&d->lock);
			mig_fail("the reassembled device state does not match its hash");
			return -EPROTO;
		}
		d->state_ready = true;
		d->t_state = mig_now_ns();
		pthread_cond_broadcast(&d->cv);
	}
	ret = 0;
	pthread_mutex_unlock(&d->lock);
	c->chunks++;
	return ret;
}

void *dst_chan_main(void *arg)
{
	struct chan *c = arg;
	struct dest *d = c->d;
	uint32_t allowed = MIG_BIT(MIG_T_PAGE) | MIG_BIT(MIG_T_END) |
			   (c->kind == MIG_CHAN_BULK ? MIG_BIT(MIG_T_STATE) : 0);
	struct mig_pkt pkt;
	struct mig_end e;
	int ret;

	while (!mig_failed()) {
		ret = mig_recv(&c->conn, allowed, &pkt, -1);
		if (ret) {
			if (ret == -EPIPE || ret == -ECONNRESET)
				mig_fail_lost(500, "%s: %s before its END (did pcopy send fail?)",
					      c->conn.name, c->conn.why);
			else if (!mig_failed())
				mig_fail("%s: %s", c->conn.name, c->conn.why);
			break;
		}
		if (pkt.type == MIG_T_PAGE)
			ret = on_page(d, c, &pkt);
		else if (pkt.type == MIG_T_STATE)
			ret = on_state(d, c, &pkt);
		if (ret)
			break;
		if (pkt.type != MIG_T_END)
			continue;
		memcpy(&e, pkt.data, sizeof(e));
		if (le64toh(e.pages) != c->pages || le64toh(e.chunks) != c->chunks) {
			mig_fail("%s: END counts %" PRIu64 " pages and %" PRIu64 " state chunks sent, %" PRIu64 " and %" PRIu64 " arrived",
				  c->conn.name, le64toh(e.pages), le64toh(e.chunks), c->pages,
				  c->chunks);
			break;
		}
		pthread_mutex_lock(&d->lock);
		d->ends++;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->lock);
		break;
	}
	return NULL;
}

static int on_manifest(struct dest *d, const struct mig_pkt *pkt)
{
	struct mig_manifest m;
	uint64_t first, i;
	uint32_t count;
	const uint8_t *r = pkt->data + sizeof(m);

	memcpy(&m, pkt->data, sizeof(m));
	first = le64toh(m.first);
	count = le32toh(m.count);
	if (!d->switched || d->manifest_done || m.reserved || first != d->manifest_next ||
	    !count || count > MIG_MANIFEST_CHUNK || pkt->len != sizeof(m) + count ||
	    first + count > d->npages) {
		mig_fail("control: MANIFEST for pages %" PRIu64 "+%u out of place or malformed",
			  first, count);
		return -EPROTO;
	}
	if (!d->manifest) {
		d->manifest = calloc(d->npages, 1);
		if (!d->manifest) {
			mig_fail("out of memory for the manifest");
			return -ENOMEM;
		}
	}
	for (i = 0; i < count; i++) {
		/* a final round must be a round that ran */
		if (r[i] > d->round) {
			mig_fail("control: MANIFEST says page %" PRIu64 " is final as of round %u, but only %u rounds ran",
				  first + i, r[i], d->round);
			return -EPROTO;
		}
		d->manifest[first + i] = r[i];
		if (r[i])
			d->manifest_final++;
	}
	d->manifest_next += count;
	return 0;
}

void *dst_ctl_main(void *arg)
{
	struct dest *d = arg;
	const uint32_t allowed = MIG_BIT(MIG_T_ROUND) | MIG_BIT(MIG_T_SWITCHOVER) |
				 MIG_BIT(MIG_T_MANIFEST) | MIG_BIT(MIG_T_MANIFEST_END) |
				 MIG_BIT(MIG_T_COMPLETE) | MIG_BIT(MIG_T_ERROR);
	char text[MIG_MAX_ERROR + 1];
	struct mig_pkt pkt;
	int ret;

	while (!mig_failed()) {
		ret = mig_recv(&d->ctl, allowed, &pkt, -1);
		if (ret) {
			if (!mig_failed())
				mig_fail("control: %s%s", d->ctl.why, ret == -EPIPE || ret == -ECONNRESET ?
					 " before the migration completed (did pcopy send fail?)" : "");
			break;
		}
		switch (pkt.type) {
		case MIG_T_ROUND: {
			struct mig_round r;

			memcpy(&r, pkt.data, sizeof(r));
			if (!(d->sflags & MIG_SETUP_PRECOPY) || d->switched || r.reserved ||
			    le32toh(r.round) != d->round + 1 || le32toh(r.round) > d->max_rounds) {
				mig_fail("control: ROUND %u out of place", le32toh(r.round));
				return NULL;
			}
			d->round = le32toh(r.round);
			break;
		}
		case MIG_T_SWITCHOVER:
			if (d->switched) {
				mig_fail("control: a second SWITCHOVER");
				return NULL;
			}
			d->switched = true;
			d->t_switch = mig_now_ns();
			break;
		case MIG_T_MANIFEST:
			if (on_manifest(d, &pkt))
				return NULL;
			break;
		case MIG_T_MANIFEST_END: {
			struct mig_manifest_end me;

			memcpy(&me, pkt.data, sizeof(me));
			if (d->manifest_done || d->manifest_next != d->npages) {
				mig_fail("control: MANIFEST_END after %" PRIu64 " of %" PRIu64 " pages",
					  d->manifest_next, d->npages);
				return NULL;
			}
			d->late = le64toh(me.late_pages);
			d->post_pages = le64toh(me.postcopy_pages);
			d->manifest_done = true;
			/* the placement owns the manifest from here */
			place_manifest(&d->pl, d->manifest);
			d->manifest = NULL;
			break;
		}
		case MIG_T_COMPLETE:
			pthread_mutex_lock(&d->lock);
			if (!d->done_sent) {
				pthread_mutex_unlock(&d->lock);
				mig_fail("control: COMPLETE before every page was placed");
				return NULL;
			}
			d->complete = true;
			pthread_cond_broadcast(&d->cv);
			pthread_mutex_unlock(&d->lock);
			return NULL;
		case MIG_T_ERROR:
			mig_error_text(&pkt, text, sizeof(text));
			__atomic_store_n(&d->peer_failed, true, __ATOMIC_RELEASE);
			mig_fail("the source failed: %s", text);
			return NULL;
		}
	}
	return NULL;
}
