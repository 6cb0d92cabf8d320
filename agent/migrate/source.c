// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of a migration (migrate.h).
 *
 * Threads: main (rounds, switchover, progress, summary); one worker per
 * bulk channel, each sending what the current job hands out; the
 * responder, which reads the destination's return path and answers each
 * page request at once on the urgent channel; and the dirty tracker
 * (dirty.c) when pcopy.ko is there.
 *
 * A job is a set of pages (a bitmap whose words the workers claim with an
 * atomic exchange, so each page goes out once per job), the switchover
 * (final pages, then device state chunks claimed with a counter: a worker
 * done with pages sends state while the others still send pages), or the
 * end.  Jobs run one at a time: main posts one and waits until every
 * worker has flushed its share.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "dirty.h"
#include "mod.h"
#include "transport.h"
#include "migrate.h"
#include "util.h"
#include "vmm.h"
#include "observe/stats.h"

#define PS		MIG_PAGE_SIZE
#define WBUF_SIZE	(256 * 1024)
#define HANDSHAKE_MS	10000
#define CONNECT_MS	30000
#define TRUST_WAIT_MS	2000
#define CLOSE_WAIT_MS	10000
#define NO_HINT		UINT64_MAX

enum job_kind { JOB_NONE, JOB_PAGES, JOB_SWITCH, JOB_END };

enum phase { PH_SETUP, PH_PRECOPY, PH_SWITCHOVER, PH_POSTCOPY, PH_FINISH };

struct job {
	enum job_kind kind;
	uint64_t *bm;		/* JOB_PAGES: pages to send, claimed per word */
	uint8_t round;		/* 1..MIG_MAX_ROUNDS or MIG_ROUND_FINAL */
	bool wrap;		/* postcopy: follow hints, scan until none left */
	uint64_t cursor;	/* atomic: next word */
	uint32_t next_chunk;	/* atomic, JOB_SWITCH */
};

struct worker {
	struct source *s;
	unsigned int idx;
	struct mig_conn conn;
	bool conn_ok;
	pthread_t thread;
	bool started;
	unsigned char *buf;
	size_t len;
	uint64_t gen;
	uint64_t pages, chunks;	/* sent on this connection, for END */
};

struct round_stat {
	unsigned int round;
	uint64_t pages, zero, bytes, time_ns, dirty_after, dirty_rate;
};

struct source {
	const struct send_opts *o;

	/* guest memory, as file offsets */
	const unsigned char *mem;
	uint64_t size, npages;
	struct vmm vmm;			/* a live VMM or a memory file */
	struct vmm_layout layout;

	struct mig_mod mod;
	struct mig_dirty dirty;
	bool tracking;
	char postcopy_why[256];		/* why there is no precopy */

	/* connections */
	uint64_t session;
	struct mig_conn ctl, urg;
	bool ctl_ok, urg_ok;
	struct worker *w;
	unsigned int nw;
	uint32_t dst_flags;		/* enum mig_ack_flags */

	/* per page */
	uint8_t *sent_round;		/* round of the last precopied version */
	uint64_t *sent_hash;		/* its hash */
	uint64_t *answered;		/* bitmap: answered in postcopy */
	uint64_t *post_bm;		/* bitmap: the postcopy stream */
	int64_t post_left;		/* atomic: bits set in post_bm */
	bool post_live;			/* atomic: answers clear post_bm bits */
	bool post_stop;			/* atomic: DONE came, stop streaming */

	/* jobs */
	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct job job;
	uint64_t job_gen;
	unsigned int job_busy;

	/* postcopy */
	enum phase phase;
	bool paused;			/* under lock: answers may be read now */
	uint64_t hint;			/* atomic: where the scanner goes next */
	uint64_t *fifo;			/* --no-urgent: requests for the workers */
	size_t fhead, flen, fcap;	/* under lock */
	unsigned int fifo_n;		/* atomic copy of flen */
	pthread_t responder;
	bool responder_started, responder_done;	/* under lock */
	bool complete_sent;		/* atomic */
	unsigned char *abuf;		/* the responder's packet */

	/* device state */
	void *state;
	size_t state_len;
	uint64_t state_hash;
	bool state_on_wire;		/* a chunk may have left: no auto-resume */
	bool peer_failed;		/* atomic: the destination sent ERROR */
	bool dst_not_resumed;		/* atomic: ... saying it never resumed */

	/* events from the responder, under lock */
	bool resumed, done;
	uint64_t t_resumed;
	struct mig_resumed resumed_msg;
	struct mig_done done_msg;

	/* figures */
	uint64_t pages_sent, zero_sent, data_bytes;	/* atomic */
	uint64_t round_pages, round_zero;		/* atomic, current job */
	uint64_t requests, answers_urgent, answers_bulk;	/* atomic */
	uint64_t hints_set, hints_consumed;		/* atomic */
	uint64_t late, final_pages, post_pages;
	uint64_t dirty_at_switch;
	struct round_stat rounds[MIG_MAX_ROUNDS];
	unsigned int nrounds;
	const char *switch_why;
	char switch_buf[256];
	uint64_t t_start, t_connected, t_pause, t_paused, t_state_sent, t_end;
	uint64_t job_pages;				/* pages of the current job */

	/* progress */
	uint64_t rate_t, rate_bytes, rate_pages, rate_dirty;
	double bps, pps, dps;
};

/* @n per second over @ns; 0 if no time passed. */
static uint64_t per_sec(uint64_t n, uint64_t ns)
{
	return ns ? (uint64_t)((double)n / ((double)ns / 1e9)) : 0;
}

static uint64_t tx_bytes(struct source *s)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < s->nw; i++)
		n += __atomic_load_n(&s->w[i].conn.tx_bytes, __ATOMIC_RELAXED);
	if (s->urg_ok)
		n += __atomic_load_n(&s->urg.tx_bytes, __ATOMIC_RELAXED);
	return n;
}

/* ---- the failure hook: unblock every thread ---- */

static void on_fail(void *arg, const char *msg)
{
	struct source *s = arg;
	unsigned int i;

	/* tell the destination why, unless it is the one that failed */
	if (s->ctl_ok && !__atomic_load_n(&s->peer_failed, __ATOMIC_ACQUIRE))
		mig_send_error_nowait(&s->ctl, 0, msg);
	if (s->ctl_ok)
		mig_conn_shutdown(&s->ctl);
	if (s->urg_ok)
		mig_conn_shutdown(&s->urg);
	for (i = 0; i < s->nw; i++)
		if (s->w[i].conn_ok)
			mig_conn_shutdown(&s->w[i].conn);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->work_cv);
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->lock);
}

/* ---- building packets ---- */

static int flush(struct worker *w)
{
	int ret = mig_send_buf(&w->conn, w->buf, w->len);

	w->len = 0;
	if (ret && !mig_failed())
		mig_fail_lost(500, "%s: sending: %s", w->conn.name,
			      ret == -EPIPE ? "the destination closed the connection" : strerror(-ret));
	return ret;
}

/*
 * Put page @p in @buf as a PAGE packet: copied first, then hashed and
 * checked for zeroes in the copy, so the hash is of exactly what is sent
 * even if the guest writes the page meanwhile.  Returns the packet size.
 */
static size_t put_page(struct source *s, unsigned char *buf, uint64_t p, uint8_t round,
		       uint8_t flags, uint64_t *hash)
{
	unsigned char *data = buf + sizeof(struct mig_hdr) + sizeof(struct mig_page);
	struct mig_page ph = { .page = htole64(p), .round = round };
	bool zero;
	size_t len;

	memcpy(data, s->mem + p * PS, PS);
	*hash = mig_page_scan(data, &zero);
	if (zero)
		flags |= MIG_PAGE_ZERO;
	ph.flags = flags;
	len = sizeof(ph) + (zero ? 0 : PS);
	mig_put_hdr(buf, MIG_T_PAGE, (uint32_t)len);
	memcpy(buf + sizeof(struct mig_hdr), &ph, sizeof(ph));
	__atomic_fetch_add(&s->pages_sent, 1, __ATOMIC_RELAXED);
	if (zero)
		__atomic_fetch_add(&s->zero_sent, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&s->data_bytes, PS, __ATOMIC_RELAXED);
	return sizeof(struct mig_hdr) + len;
}

static int send_page(struct worker *w, uint64_t p, uint8_t round, uint8_t flags)
{
	struct source *s = w->s;
	bool unprot = false;
	uint64_t h;
	size_t n;

	if (WBUF_SIZE - w->len < MIG_PAGE_PKT && flush(w))
		return -EIO;
	/*
	 * Before the read: a page whose latest push is not reset yet (or
	 * any page while the tracker cannot vouch for them) may change with
	 * no record, so it stays dirty.  Reading after the check is what
	 * makes a "protected" answer safe (dirty.h).
	 */
	if (round != MIG_ROUND_FINAL && s->tracking)
		unprot = dirty_unprotected(&s->dirty, p);
	n = put_page(s, w->buf + w->len, p, round, flags, &h);
	w->len += n;
	w->pages++;
	if (round != MIG_ROUND_FINAL) {
		s->sent_hash[p] = h;
		s->sent_round[p] = round;
		if (unprot)
			dirty_keep(&s->dirty, p);
	}
	__atomic_fetch_add(&s->round_pages, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---- --no-urgent: answers queued for the workers ---- */

static bool fifo_pop(struct source *s, uint64_t *p)
{
	bool got = false;

	if (!__atomic_load_n(&s->fifo_n, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->flen) {
		*p = s->fifo[s->fhead];
		s->fhead = (s->fhead + 1) % s->fcap;
		s->flen--;
		__atomic_store_n(&s->fifo_n, (unsigned int)s->flen, __ATOMIC_RELEASE);
		got = true;
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

static int fifo_push(struct source *s, uint64_t p)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->flen == s->fcap) {
		size_t cap = s->fcap ? 2 * s->fcap : 1024, i;
		uint64_t *f = malloc(cap * sizeof(*f));

		if (!f) {
			ret = -ENOMEM;
			goto out;
		}
		for (i = 0; i < s->flen; i++)
			f[i] = s->fifo[(s->fhead + i) % s->fcap];
		free(s->fifo);
		s->fifo = f;
		s->fcap = cap;
		s->fhead = 0;
	}
	s->fifo[(s->fhead + s->flen) % s->fcap] = p;
	s->flen++;
	__atomic_store_n(&s->fifo_n, (unsigned int)s->flen, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&s->work_cv);
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Answers waiting for a bulk channel go first, and out at once. */
static int serve_fifo(struct worker *w)
{
	uint64_t p;
	bool any = false;

	while (fifo_pop(w->s, &p)) {
		if (send_page(w, p, MIG_ROUND_FINAL, MIG_PAGE_ANSWER))
			return -EIO;
		__atomic_fetch_add(&w->s->answers_bulk, 1, __ATOMIC_RELAXED);
		any = true;
	}
	return any ? flush(w) : 0;
}

/* ---- jobs ---- */

static int run_pages(struct worker *w)
{
	struct source *s = w->s;
	struct job *j = &s->job;
	uint64_t nwords = BM_WORDS(s->npages);

	while (!mig_failed()) {
		uint64_t wi, bits, h = NO_HINT;
		unsigned int first = 0, k;

		if (j->wrap) {
			if (__atomic_load_n(&s->post_left, __ATOMIC_ACQUIRE) <= 0 ||
			    __atomic_load_n(&s->post_stop, __ATOMIC_ACQUIRE))
				break;
			if (!s->o->no_hint)
				h = __atomic_exchange_n(&s->hint, NO_HINT, __ATOMIC_ACQ_REL);
			if (h != NO_HINT) {
				/* continue right after the page just requested */
				__atomic_fetch_add(&s->hints_consumed, 1, __ATOMIC_RELAXED);
				wi = h / 64;
				first = (unsigned int)(h % 64);
				__atomic_store_n(&j->cursor, wi + 1, __ATOMIC_RELAXED);
			} else {
				wi = __atomic_fetch_add(&j->cursor, 1, __ATOMIC_RELAXED) % nwords;
			}
		} else {
			wi = __atomic_fetch_add(&j->cursor, 1, __ATOMIC_RELAXED);
			if (wi >= nwords)
				break;
		}
		bits = __atomic_exchange_n(&j->bm[wi], 0, __ATOMIC_ACQ_REL);
		if (!bits)
			continue;
		if (j->wrap)
			__atomic_fetch_sub(&s->post_left, __builtin_popcountll(bits),
					   __ATOMIC_ACQ_REL);
		/* from the hinted bit up, then the ones below it */
		for (k = 0; k < 64; k++) {
			unsigned int b = (first + k) % 64;

			if (!(bits & (1ull << b)))
				continue;
			if (__atomic_load_n(&s->fifo_n, __ATOMIC_RELAXED) && serve_fifo(w))
				return -EIO;
			if (send_page(w, wi * 64 + b, j->round, 0))
				return -EIO;
		}
	}
	return mig_failed() ? -EIO : 0;
}

static int run_state(struct worker *w)
{
	struct source *s = w->s;
	uint32_t count = (uint32_t)((s->state_len + MIG_STATE_CHUNK - 1) / MIG_STATE_CHUNK);

	for (;;) {
		uint32_t seq = __atomic_fetch_add(&s->job.next_chunk, 1, __ATOMIC_RELAXED);
		struct mig_state st = {
			.seq = htole32(seq),
			.count = htole32(count),
			.total = htole64(s->state_len),
			.hash = htole64(s->state_hash),
		};
		size_t off = (size_t)seq * MIG_STATE_CHUNK, n;

		if (seq >= count || mig_failed())
			break;
		n = s->state_len - off < MIG_STATE_CHUNK ? s->state_len - off : MIG_STATE_CHUNK;
		if (WBUF_SIZE - w->len < sizeof(struct mig_hdr) + sizeof(st) + n && flush(w))
			return -EIO;
		w->len += mig_put_hdr(w->buf + w->len, MIG_T_STATE, (uint32_t)(sizeof(st) + n));
		memcpy(w->buf + w->len, &st, sizeof(st));
		memcpy(w->buf + w->len + sizeof(st), (const char *)s->state + off, n);
		w->len += sizeof(st) + n;
		w->chunks++;
	}
	return mig_failed() ? -EIO : 0;
}

static int send_end(struct mig_conn *c, uint64_t pages, uint64_t chunks)
{
	struct mig_end e = { .pages = htole64(pages), .chunks = htole64(chunks) };
	int ret = mig_send(c, MIG_T_END, &e, sizeof(e), NULL, 0);

	if (ret && !mig_failed())
		mig_fail("%s: sending END: %s", c->name, strerror(-ret));
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct source *s = w->s;
	enum job_kind kind;
	int ret = 0;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->job_gen == w->gen && !s->flen && !mig_failed())
			pthread_cond_wait(&s->work_cv, &s->lock);
		if (mig_failed()) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (s->job_gen == w->gen) {
			/* only answers to send */
			pthread_mutex_unlock(&s->lock);
			serve_fifo(w);
			continue;
		}
		w->gen = s->job_gen;
		kind = s->job.kind;
		pthread_mutex_unlock(&s->lock);

		switch (kind) {
		case JOB_PAGES:
			ret = run_pages(w);
			break;
		case JOB_SWITCH:
			ret = run_pages(w);
			if (!ret)
				ret = run_state(w);
			break;
		case JOB_END:
			ret = serve_fifo(w);
			break;
		default:
			break;
		}
		if (!ret)
			ret = flush(w);
		if (!ret && kind == JOB_END)
			ret = send_end(&w->conn, w->pages, w->chunks);

		pthread_mutex_lock(&s->lock);
		if (!--s->job_busy)
			pthread_cond_broadcast(&s->done_cv);
		pthread_mutex_unlock(&s->lock);
		if (ret || kind == JOB_END)
			break;
	}
	return NULL;
}

/* ---- the responder: the destination's return path ---- */

static void answer(struct source *s, uint64_t p)
{
	uint64_t none = NO_HINT, h;
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
		if (fifo_push(s, p))
			mig_fail("out of memory queueing an answer");
	} else {
		n = put_page(s, s->abuf, p, MIG_ROUND_FINAL, MIG_PAGE_ANSWER, &h);
		ret = mig_send_buf(&s->urg, s->abuf, n);
		if (ret) {
			if (!mig_failed())
				mig_fail_lost(500, "urgent: sending: %s", ret == -EPIPE ?
					      "the destination closed the connection" : strerror(-ret));
			return;
		}
		__atomic_fetch_add(&s->answers_urgent, 1, __ATOMIC_RELAXED);
	}
	/* as QEMU does: a new hint only once the scanner took the last one */
	if (!s->o->no_hint &&
	    __atomic_compare_exchange_n(&s->hint, &none, (p + 1) % s->npages, false,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		__atomic_fetch_add(&s->hints_set, 1, __ATOMIC_RELAXED);
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

static void *responder_main(void *arg)
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
			answer(s, le64toh(r.page));
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

/* ---- progress ---- */

static const char *eta(char *buf, size_t len, uint64_t left, double pps)
{
	if (pps < 1)
		snprintf(buf, len, "?");
	else
		fmt_duration(buf, len, (uint64_t)((double)left / pps * 1e9));
	return buf;
}

static void progress(struct source *s)
{
	uint64_t now = mig_now_ns(), bytes = tx_bytes(s);
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

/* ---- jobs from main ---- */

static void post_job(struct source *s, enum job_kind kind)
{
	pthread_mutex_lock(&s->lock);
	s->job.kind = kind;
	s->job_gen++;
	s->job_busy = s->nw;
	__atomic_store_n(&s->round_pages, 0, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&s->work_cv);
	pthread_mutex_unlock(&s->lock);
}

static void timed_wait(struct source *s, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ns;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_cond_timedwait(&s->done_cv, &s->lock, &ts);
	/* mig_fail() takes the lock through the hook: not while we hold it */
	pthread_mutex_unlock(&s->lock);
	mig_check_signal();
	pthread_mutex_lock(&s->lock);
}

/* Wait for the job, drawing progress; 0 or -EIO on failure. */
static int wait_job(struct source *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->job_busy && !mig_failed()) {
		timed_wait(s, 200 * NSEC_PER_MSEC);
		pthread_mutex_unlock(&s->lock);
		progress(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return mig_failed() ? -EIO : 0;
}

static int run_job_pages(struct source *s, uint64_t *bm, uint64_t n, uint8_t round, bool wrap)
{
	s->job.bm = bm;
	s->job.round = round;
	s->job.wrap = wrap;
	s->job.cursor = 0;
	s->job_pages = n;
	post_job(s, JOB_PAGES);
	return wait_job(s);
}

/* ---- connections ---- */

static int handshake_reply(struct source *s, struct mig_conn *c, uint16_t want, void *out,
			   size_t len)
{
	char text[MIG_MAX_ERROR + 1];
	struct mig_pkt pkt;
	int ret;

	ret = mig_recv(c, MIG_BIT(want) | MIG_BIT(MIG_T_ERROR), &pkt, HANDSHAKE_MS);
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: %s\n", c->name, c->why);
		return ret;
	}
	if (pkt.type == MIG_T_ERROR) {
		mig_error_text(&pkt, text, sizeof(text));
		fprintf(stderr, "pcopy: send: the destination refused the migration: %s\n", text);
		return -ECONNREFUSED;
	}
	(void)s;
	memcpy(out, pkt.data, len);
	return 0;
}

static int open_channel(struct source *s, struct mig_conn *c, int kind, unsigned int idx,
			const char *name)
{
	struct mig_hello h = {
		.version = htole16(MIG_VERSION),
		.kind = htole16((uint16_t)kind),
		.index = htole16((uint16_t)idx),
		.nbulk = htole16((uint16_t)s->o->channels),
		.session = htole64(s->session),
	};
	struct mig_hello_ack ack;
	char err[256];
	int fd, ret;

	ret = mig_connect_tcp(s->o->to, CONNECT_MS, &fd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: %s\n", name, err);
		return ret;
	}
	mig_tune(fd, kind);
	ret = mig_conn_init(c, fd, name);
	if (ret) {
		close(fd);
		return ret;
	}
	memcpy(h.magic, MIG_MAGIC, sizeof(h.magic));
	ret = mig_send(c, MIG_T_HELLO, &h, sizeof(h), NULL, 0);
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: sending HELLO: %s\n", name, strerror(-ret));
		goto err;
	}
	ret = handshake_reply(s, c, MIG_T_HELLO_ACK, &ack, sizeof(ack));
	if (ret)
		goto err;
	if (le16toh(ack.version) != MIG_VERSION || ack.reserved || ack.reserved2) {
		fprintf(stderr, "pcopy: send: %s: the destination speaks protocol version %u, this pcopy version %d\n",
			name, le16toh(ack.version), MIG_VERSION);
		ret = -EPROTO;
		goto err;
	}
	return 0;
err:
	mig_conn_close(c);
	return ret;
}

static int connect_all(struct source *s)
{
	struct mig_setup su = {
		.page_size = htole32(PS),
		.npages = htole64(s->npages),
		.max_rounds = htole32(s->o->max_rounds),
	};
	struct mig_setup_ack ack;
	uint32_t flags = 0;
	unsigned int i;
	char name[16];
	int ret;

	if (getrandom(&s->session, sizeof(s->session), 0) != sizeof(s->session))
		s->session = mig_now_ns() ^ ((uint64_t)getpid() << 32);

	ret = open_channel(s, &s->ctl, MIG_CHAN_CONTROL, 0, "control");
	if (ret)
		return ret;
	s->ctl_ok = true;
	if (s->tracking)
		flags |= MIG_SETUP_PRECOPY;
	if (s->vmm.has_state)
		flags |= MIG_SETUP_STATE;
	if (s->vmm.live)
		flags |= MIG_SETUP_LIVE;
	su.flags = htole32(flags);
	ret = mig_send(&s->ctl, MIG_T_SETUP, &su, sizeof(su), NULL, 0);
	if (ret) {
		fprintf(stderr, "pcopy: send: control: sending SETUP: %s\n", strerror(-ret));
		return ret;
	}
	ret = handshake_reply(s, &s->ctl, MIG_T_SETUP_ACK, &ack, sizeof(ack));
	if (ret)
		return ret;
	s->dst_flags = le32toh(ack.flags);

	ret = open_channel(s, &s->urg, MIG_CHAN_URGENT, 0, "urgent");
	if (ret)
		return ret;
	s->urg_ok = true;
	for (i = 0; i < s->nw; i++) {
		snprintf(name, sizeof(name), "bulk %u", i);
		ret = open_channel(s, &s->w[i].conn, MIG_CHAN_BULK, i, name);
		if (ret)
			return ret;
		s->w[i].conn_ok = true;
	}
	return 0;
}

/* ---- setup: memory, module ---- */

/*
 * The adapter for what the options name (vmm.h): minivm's control socket
 * or a memory file.  A new VMM adapter is chosen here.
 */
static int open_vmm(struct source *s)
{
	if (s->o->vmm_control)
		return vmm_minivm_open(&s->vmm, s->o->vmm_control, "send");
	return vmm_file_open(&s->vmm, s->o->mem_file, s->o->state_file, "send");
}

static int map_memory(struct source *s)
{
	uint64_t size, offset;
	int fd, ret;
	void *p;

	ret = open_vmm(s);
	if (ret)
		return ret;
	ret = vmm_layout(&s->vmm, &s->layout);
	if (ret)
		return ret;
	ret = vmm_memory(&s->vmm, &fd, &size, &offset);
	if (ret)
		return ret;
	if (s->layout.page_size != PS || size % PS || !size || offset ||
	    size != s->layout.mem_size || s->layout.nslots > VMM_MAX_SLOTS) {
		fprintf(stderr, "pcopy: send: the VMM's layout is not one this agent migrates (page size %u, %" PRIu64 " bytes of RAM, GPA 0 at memfd offset %" PRIu64 ")\n",
			s->layout.page_size, size, offset);
		close(fd);
		return -EINVAL;
	}
	s->size = size;
	s->npages = s->size / PS;
	if (s->npages > MIG_MAX_PAGES) {
		fprintf(stderr, "pcopy: send: %s: too large\n", s->vmm.what);
		close(fd);
		return -EFBIG;
	}
	p = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	ret = -errno;
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "pcopy: send: cannot map %s: %s\n", s->vmm.what, strerror(-ret));
		return ret;
	}
	s->mem = p;
	return 0;
}

/* Decide whether there will be precopy rounds, and say why if not. */
static void setup_tracking(struct source *s)
{
	struct mig_dirty_slot slots[VMM_MAX_SLOTS];
	char why[192];
	unsigned int i;
	int ret;

	if (!s->vmm.live) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the source is a memory file: nothing runs, so every page moves once");
		return;
	}
	if (s->o->postcopy_only) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "--postcopy-only");
		return;
	}
	ret = mod_open(&s->mod, why, sizeof(why));
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "%s", why);
		goto postcopy_only;
	}
	if (!(s->mod.features & PCOPY_FEAT_DIRTY_RING_HOOK)) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "pcopy.ko cannot harvest dirty pages here (kvm not loaded, or no kvm_dirty_ring_push tracepoint)");
		goto postcopy_only;
	}
	if (!s->layout.dirty_ring_entries) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the VMM does not use KVM's dirty ring (minivm --dirty-ring)");
		goto postcopy_only;
	}
	ret = mod_track(&s->mod, (uint32_t)vmm_pid(&s->vmm), why, sizeof(why));
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "pcopy.ko: %s", why);
		goto postcopy_only;
	}
	for (i = 0; i < s->layout.nslots; i++) {
		slots[i].id = s->layout.slots[i].id;
		slots[i].first_page = s->layout.slots[i].mem_offset / PS;
		slots[i].npages = s->layout.slots[i].size / PS;
	}
	ret = dirty_start(&s->dirty, (uint32_t)vmm_pid(&s->vmm), s->npages, s->layout.nvcpus, slots,
			  s->layout.nslots);
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the dirty ring of pcopy.ko could not be bound (see above)");
		goto postcopy_only;
	}
	s->tracking = true;
	return;

postcopy_only:
	mig_note("%s: no dirty-page tracking, so no precopy: migrating postcopy-only",
		 s->postcopy_why);
}

/* ---- precopy ---- */

/* After round @k: go on, or switch over and say why in s->switch_why. */
static bool should_switch(struct source *s, unsigned int k, uint64_t dirty, double bw,
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

static int precopy(struct source *s)
{
	uint64_t *bm = bm_alloc(s->npages), n, prev_dirty = UINT64_MAX;
	uint64_t tot_bytes = 0, tot_ns = 0;
	struct mig_dirty_stats st;
	unsigned int k;
	int ret = 0;

	if (!bm)
		return -ENOMEM;
	s->phase = PH_PRECOPY;
	if (!dirty_wait_trusted(&s->dirty, TRUST_WAIT_MS) && !mig_failed())
		mig_note("pcopy.ko has not shown a dirty-ring reset for every vCPU within %d s: pages read before it does stay dirty",
			 TRUST_WAIT_MS / 1000);

	/* round 1: everything */
	memset(bm, 0xff, BM_WORDS(s->npages) * sizeof(uint64_t));
	if (s->npages % 64)
		bm[BM_WORDS(s->npages) - 1] = (1ull << (s->npages % 64)) - 1;
	n = s->npages;
	for (k = 1; !ret; k++) {
		struct mig_round r = { .round = htole32(k), .pages = htole64(n) };
		struct round_stat *rs = &s->rounds[k - 1];
		uint64_t t0 = mig_now_ns(), b0 = tx_bytes(s), nd0, dirty, bytes;
		uint64_t zero0 = __atomic_load_n(&s->zero_sent, __ATOMIC_RELAXED);
		double bw, rate;

		dirty_stats(&s->dirty, &st);
		nd0 = st.newly_dirty;
		ret = mig_send(&s->ctl, MIG_T_ROUND, &r, sizeof(r), NULL, 0);
		if (ret) {
			mig_fail("control: sending ROUND: %s", strerror(-ret));
			break;
		}
		ret = run_job_pages(s, bm, n, (uint8_t)k, false);
		if (ret)
			break;
		s->nrounds = k;
		rs->round = k;
		rs->pages = n;
		rs->zero = __atomic_load_n(&s->zero_sent, __ATOMIC_RELAXED) - zero0;
		rs->time_ns = mig_now_ns() - t0;
		bytes = tx_bytes(s) - b0;
		rs->bytes = bytes;
		tot_bytes += bytes;
		tot_ns += rs->time_ns;
		dirty_stats(&s->dirty, &st);
		dirty = dirty_count(&s->dirty);
		rate = (double)(st.newly_dirty - nd0) / ((double)rs->time_ns / 1e9);
		rs->dirty_after = dirty;
		rs->dirty_rate = (uint64_t)rate;
		/* a round of less than 1 MiB measures latency more than bandwidth */
		bw = bytes >= (1u << 20) ? (double)bytes / ((double)rs->time_ns / 1e9) :
		     (double)tot_bytes / ((double)tot_ns / 1e9);
		if (should_switch(s, k, dirty, bw, rate, prev_dirty))
			break;
		prev_dirty = dirty;
		n = dirty_take(&s->dirty, bm);
	}
	bm_free(bm, s->npages);
	return ret;
}

/* ---- switchover and postcopy ---- */

static int send_manifest(struct source *s, const uint64_t *final)
{
	unsigned char *buf = malloc(sizeof(struct mig_manifest) + MIG_MANIFEST_CHUNK);
	struct mig_manifest_end me;
	uint64_t p, first;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (first = 0; first < s->npages && !ret; first += MIG_MANIFEST_CHUNK) {
		uint64_t count = s->npages - first < MIG_MANIFEST_CHUNK ?
				 s->npages - first : MIG_MANIFEST_CHUNK;
		struct mig_manifest m = {
			.first = htole64(first),
			.count = htole32((uint32_t)count),
		};
		unsigned char *r = buf + sizeof(m);

		memcpy(buf, &m, sizeof(m));
		for (p = first; p < first + count; p++)
			r[p - first] = bm_test(final, p) ? s->sent_round[p] : 0;
		ret = mig_send(&s->ctl, MIG_T_MANIFEST, buf, sizeof(m) + count, NULL, 0);
	}
	free(buf);
	if (!ret) {
		me.late_pages = htole64(s->late);
		me.postcopy_pages = htole64(s->post_pages);
		ret = mig_send(&s->ctl, MIG_T_MANIFEST_END, &me, sizeof(me), NULL, 0);
	}
	if (ret && !mig_failed())
		mig_fail("control: sending the manifest: %s", strerror(-ret));
	return ret;
}

/*
 * The switchover check: the VM is paused, so what memory holds now is
 * final.  A precopied page not in the final dirty set whose content no
 * longer hashes to what was sent changed without a record we saw: it is
 * "late-detected", taken out of the manifest and streamed in postcopy.
 * Marks the pages whose precopied version is final in @final.
 */
/* Page @p goes in the postcopy stream (unless it was answered already). */
static void post_add(struct source *s, uint64_t p)
{
	if (!bm_test(s->answered, p) && bm_set(s->post_bm, p))
		__atomic_fetch_add(&s->post_left, 1, __ATOMIC_ACQ_REL);
}

static void verify(struct source *s, const uint64_t *dset, uint64_t *final)
{
	uint64_t p;

	for (p = 0; p < s->npages; p++) {
		if (!s->sent_round[p] || bm_test(dset, p))
			continue;
		if (mig_hash(s->mem + p * PS, PS) == s->sent_hash[p]) {
			bm_set(final, p);
		} else {
			s->late++;
			post_add(s, p);
		}
	}
}

static int switchover(struct source *s)
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
			post_add(s, p);
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
	post_job(s, JOB_SWITCH);
	ret = wait_job(s);
	if (ret)
		goto out;
	s->t_state_sent = mig_now_ns();

	/* while the destination starts: the check, then the manifest */
	verify(s, dset, fin);
	s->post_pages = (uint64_t)__atomic_load_n(&s->post_left, __ATOMIC_ACQUIRE);
	if (s->late)
		mig_note("%" PRIu64 " precopied pages changed without a dirty record (late-detected): they move in postcopy",
			 s->late);
	ret = send_manifest(s, fin);
out:
	bm_free(dset, s->npages);
	bm_free(fin, s->npages);
	bm_free(first, s->npages);
	return ret;
}

static int postcopy(struct source *s)
{
	int ret;

	s->phase = PH_POSTCOPY;
	ret = run_job_pages(s, s->post_bm, s->post_pages, MIG_ROUND_FINAL, true);
	if (ret)
		return ret;
	/* every page is out; the destination says when it has them all */
	pthread_mutex_lock(&s->lock);
	while (!s->done && !mig_failed()) {
		timed_wait(s, 200 * NSEC_PER_MSEC);
		pthread_mutex_unlock(&s->lock);
		progress(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return mig_failed() ? -EIO : 0;
}

static int finish(struct source *s)
{
	uint64_t deadline;
	int ret;

	s->phase = PH_FINISH;
	/* the responder has answered every request that came before DONE */
	post_job(s, JOB_END);
	ret = wait_job(s);
	if (ret)
		return ret;
	ret = send_end(&s->urg, __atomic_load_n(&s->answers_urgent, __ATOMIC_RELAXED), 0);
	if (ret)
		return ret;
	__atomic_store_n(&s->complete_sent, true, __ATOMIC_RELEASE);
	ret = mig_send(&s->ctl, MIG_T_COMPLETE, NULL, 0, NULL, 0);
	if (ret) {
		mig_fail("control: sending COMPLETE: %s", strerror(-ret));
		return ret;
	}
	s->t_end = mig_now_ns();
	/* let the destination read everything and close first */
	deadline = mig_now_ns() + (uint64_t)CLOSE_WAIT_MS * NSEC_PER_MSEC;
	pthread_mutex_lock(&s->lock);
	while (!s->responder_done && !mig_failed() && mig_now_ns() < deadline)
		timed_wait(s, 100 * NSEC_PER_MSEC);
	pthread_mutex_unlock(&s->lock);
	return mig_failed() ? -EIO : 0;
}

/* ---- the summary ---- */

static bool have_downtime(const struct source *s)
{
	return s->vmm.live && s->resumed && (s->resumed_msg.flags & MIG_RESUMED_VMM);
}

static struct json_object *summary_json(struct source *s)
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
	jadd(&b, o, "bytes_sent", ju64(tx_bytes(s)));
	jadd(&b, o, "state_bytes", ju64(s->state_len));
	jadd(&b, o, "throughput_bytes_per_s", ju64(per_sec(tx_bytes(s), total)));
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

static void summary_text(struct source *s, FILE *f)
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
	       s->pages_sent, s->zero_sent, fmt_bytes(b1, sizeof(b1), tx_bytes(s)), s->nw,
	       fmt_bytes(b2, sizeof(b2), per_sec(tx_bytes(s), total)),
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

/* ---- the whole thing ---- */

static void cleanup(struct source *s)
{
	unsigned int i;

	if (s->tracking)
		dirty_stop(&s->dirty);
	mod_close(&s->mod);
	for (i = 0; i < s->nw; i++)
		if (s->w[i].conn_ok)
			mig_conn_close(&s->w[i].conn);
	if (s->urg_ok)
		mig_conn_close(&s->urg);
	if (s->ctl_ok)
		mig_conn_close(&s->ctl);
	vmm_close(&s->vmm);
	if (s->mem)
		munmap((void *)s->mem, s->size);
}

int source_run(const struct send_opts *o)
{
	static struct source src;
	struct source *s = &src;
	struct json_object *j;
	unsigned int i;
	int ret;

	s->o = o;
	s->t_start = mig_now_ns();
	s->hint = NO_HINT;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	mig_signals();
	mig_fail_setup("send", on_fail, s);

	ret = map_memory(s);
	if (ret)
		goto out;
	/* nothing runs: the state is final now, and a bad file fails early */
	if (!s->vmm.live && s->vmm.has_state) {
		ret = vmm_export(&s->vmm, &s->state, &s->state_len);
		if (ret)
			goto out;
	}
	s->nw = o->channels;
	s->w = calloc(s->nw, sizeof(*s->w));
	s->sent_round = calloc(s->npages, 1);
	s->sent_hash = malloc(s->npages * sizeof(uint64_t));
	s->answered = bm_alloc(s->npages);
	s->post_bm = bm_alloc(s->npages);
	s->abuf = malloc(MIG_PAGE_PKT);
	if (!s->w || !s->sent_round || !s->sent_hash || !s->answered || !s->post_bm || !s->abuf) {
		fprintf(stderr, "pcopy: send: out of memory\n");
		ret = -ENOMEM;
		goto out;
	}
	setup_tracking(s);

	ret = connect_all(s);
	if (ret)
		goto out;
	s->t_connected = mig_now_ns();
	for (i = 0; i < s->nw; i++) {
		s->w[i].s = s;
		s->w[i].idx = i;
		s->w[i].buf = malloc(WBUF_SIZE);
		if (!s->w[i].buf || pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i])) {
			mig_fail("cannot start the bulk channel threads");
			break;
		}
		s->w[i].started = true;
	}
	if (!mig_failed()) {
		if (pthread_create(&s->responder, NULL, responder_main, s))
			mig_fail("cannot start the responder thread");
		else
			s->responder_started = true;
	}

	if (!mig_failed() && s->tracking)
		precopy(s);
	if (!mig_failed())
		switchover(s);
	if (!mig_failed())
		postcopy(s);
	if (!mig_failed())
		finish(s);

	mig_progress_clear();
	if (mig_failed()) {
		ret = -EIO;
		if (s->vmm.live && s->paused) {
			/*
			 * Resume the source only when the destination cannot
			 * have run the VM: no device state left here, or the
			 * destination said it never resumed (and never will).
			 */
			if ((!s->state_on_wire ||
			     __atomic_load_n(&s->dst_not_resumed, __ATOMIC_ACQUIRE)) &&
			    !vmm_resume(&s->vmm))
				mig_note("the source VM was resumed: it never ran on the destination");
			else
				mig_note("the source VM stays paused: the destination may have run it (resume or quit it by hand)");
		}
		/* the other threads are blocked on shut-down sockets or gone */
		if (s->tracking)
			dirty_halt(&s->dirty);
		mod_close(&s->mod);
		return ret;
	}

	if (o->json) {
		j = summary_json(s);
		if (j) {
			print_json(j);
			json_object_put(j);
		}
		/* JSON on stdout for programs, the same in words on stderr */
		summary_text(s, stderr);
	} else {
		summary_text(s, stdout);
	}
	for (i = 0; i < s->nw; i++)
		if (s->w[i].started)
			pthread_join(s->w[i].thread, NULL);
	if (s->responder_started && s->responder_done)
		pthread_join(s->responder, NULL);
	ret = 0;
out:
	cleanup(s);
	return ret;
}
