// SPDX-License-Identifier: GPL-2.0
/* The source engine (source.h): scheduler and workers: jobs, page packets, the --no-urgent queue. */
#include <endian.h>
#include <errno.h>
#include <unistd.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/defs.h"
#include "source.h"
#include "util.h"

static int flush(struct worker *w)
{
	int ret = mig_send_buf(&w->conn, w->buf, w->len);

	w->len = 0;
	if (ret && !mig_failed())
		mig_fail_lost(500, "%s: sending: %s", w->conn.name,
			      ret == -EPIPE ? "the destination closed the connection" : strerror(-ret));
	return ret;
}

int src_read_page(struct source *s, uint64_t p, unsigned char *buf)
{
	size_t done = 0;
	ssize_t n;

	while (done < PS) {
		n = pread(s->mem_fd, buf + done, PS - done, (off_t)(p * PS + done));
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		mig_fail("reading page %" PRIu64 " of %s: %s", p, s->vmm.what,
			 n ? strerror(errno) : "the memory ends early");
		return -EIO;
	}
	return 0;
}

/*
 * Put page @p in @buf as a PAGE packet: read first, then hashed and
 * checked for zeroes in the copy, so the hash is of exactly what is sent
 * even if the guest writes the page meanwhile.  Returns the packet size.
 */
size_t src_put_page(struct source *s, unsigned char *buf, uint64_t p, uint8_t round,
		    uint8_t flags, uint64_t *hash)
{
	unsigned char *data = buf + sizeof(struct mig_hdr) + sizeof(struct mig_page);
	struct mig_page ph = { .page = htole64(p), .round = round };
	bool zero;
	size_t len;

	if (src_read_page(s, p, data))
		return 0;
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
	n = src_put_page(s, w->buf + w->len, p, round, flags, &h);
	if (!n)
		return -EIO;
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

int src_fifo_push(struct source *s, uint64_t p)
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

/*
 * The next word of a live hint stream, taking the streams in turn: true
 * with *@wi and *@first set, false if none is live.
 */
static bool hint_take(struct source *s, uint64_t nwords, uint64_t *wi, unsigned int *first)
{
	unsigned int i, k;
	bool got = false;

	pthread_mutex_lock(&s->hint_lock);
	for (i = 0; i < HINT_STREAMS && !got; i++) {
		struct hint_stream *h;

		k = (s->hint_rr + i) % HINT_STREAMS;
		h = &s->hint[k];
		if (!h->left)
			continue;
		if (h->left == HINT_WORDS)
			__atomic_fetch_add(&s->hints_consumed, 1, __ATOMIC_RELAXED);
		*wi = h->word % nwords;
		*first = h->first;
		h->first = 0;
		h->word = (h->word + 1) % nwords;
		h->left--;
		s->hint_rr = k + 1;
		got = true;
	}
	pthread_mutex_unlock(&s->hint_lock);
	return got;
}

static int run_pages(struct worker *w)
{
	struct source *s = w->s;
	struct job *j = &s->job;
	uint64_t nwords = BM_WORDS(s->npages);

	while (!mig_failed()) {
		uint64_t wi, bits;
		unsigned int first = 0, k;

		if (j->wrap) {
			if (__atomic_load_n(&s->post_left, __ATOMIC_ACQUIRE) <= 0 ||
			    __atomic_load_n(&s->post_stop, __ATOMIC_ACQUIRE))
				break;
			/* ahead of the vCPUs that faulted, then the plain scan */
			if (s->o->no_hint || !hint_take(s, nwords, &wi, &first))
				wi = __atomic_fetch_add(&j->cursor, 1, __ATOMIC_RELAXED) % nwords;
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

int src_send_end(struct mig_conn *c, uint64_t pages, uint64_t chunks)
{
	struct mig_end e = { .pages = htole64(pages), .chunks = htole64(chunks) };
	int ret = mig_send(c, MIG_T_END, &e, sizeof(e), NULL, 0);

	if (ret && !mig_failed())
		mig_fail("%s: sending END: %s", c->name, strerror(-ret));
	return ret;
}

void *src_worker_main(void *arg)
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
			ret = src_send_end(&w->conn, w->pages, w->chunks);

		pthread_mutex_lock(&s->lock);
		if (!--s->job_busy)
			pthread_cond_broadcast(&s->done_cv);
		pthread_mutex_unlock(&s->lock);
		if (ret || kind == JOB_END)
			break;
	}
	return NULL;
}

void src_post_job(struct source *s, enum job_kind kind)
{
	pthread_mutex_lock(&s->lock);
	s->job.kind = kind;
	s->job_gen++;
	s->job_busy = s->nw;
	__atomic_store_n(&s->round_pages, 0, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&s->work_cv);
	pthread_mutex_unlock(&s->lock);
}

void src_timed_wait(struct source *s, uint64_t ns)
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
int src_wait_progress(struct source *s, bool (*busy)(const struct source *s))
{
	pthread_mutex_lock(&s->lock);
	while (busy(s) && !mig_failed()) {
		src_timed_wait(s, 200 * NSEC_PER_MSEC);
		pthread_mutex_unlock(&s->lock);
		src_progress(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return mig_failed() ? -EIO : 0;
}

static bool job_running(const struct source *s)
{
	return s->job_busy;
}

int src_wait_job(struct source *s)
{
	return src_wait_progress(s, job_running);
}

int src_run_job_pages(struct source *s, uint64_t *bm, uint64_t n, uint8_t round, bool wrap)
{
	s->job.bm = bm;
	s->job.round = round;
	s->job.wrap = wrap;
	s->job.cursor = 0;
	s->job_pages = n;
	src_post_job(s, JOB_PAGES);
	return src_wait_job(s);
}
