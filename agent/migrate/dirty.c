// SPDX-License-Identifier: GPL-2.0
/*
 * The source's dirty-page tracking (dirty.h): a thread consumes the
 * DIRTY, DIRTY_RESET and LOST records of the source VMM's ring into the
 * dirty bitmap and the per-page count of pushes not yet reset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/defs.h"
#include "dirty.h"
#include "record.h"
#include "util.h"

#define RING_PAGES	512		/* 2 MiB: about 120000 GFNs */
#define RING_WATERMARK	(64 * 1024)
#define WAIT_MS		20
#define MAX_VCPU_ID	4096		/* vCPU ids we keep queues for */
#define IDLE_TRUST_NS	NSEC_PER_SEC	/* see "A VM that pushes nothing" */
#define BARRIER_RESETS	2

struct qent {
	uint32_t seq;
	uint32_t pad;
	uint64_t page;
};

/* One vCPU's pushes not yet reset, in push order (a circular array). */
struct mig_vcpuq {
	struct qent *e;
	size_t head, len, cap;
	unsigned int owed;		/* resets owed to the barrier */
};

static struct mig_vcpuq *vcpuq(struct mig_dirty *d, uint32_t vcpu)
{
	struct mig_vcpuq *q;
	unsigned int n, i;

	if (vcpu < d->nq)
		return &d->q[vcpu];
	if (vcpu >= MAX_VCPU_ID)
		return NULL;
	n = vcpu + 1;
	q = realloc(d->q, n * sizeof(*q));
	if (!q)
		return NULL;
	/* a vCPU we learn of only now may have pushed before: it owes resets */
	for (i = d->nq; i < n; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		q[i].owed = BARRIER_RESETS;
		d->barrier_left++;
	}
	d->q = q;
	d->nq = n;
	__atomic_store_n(&d->trusted, false, __ATOMIC_RELEASE);
	return &q[vcpu];
}

static int q_push(struct mig_vcpuq *q, uint32_t seq, uint64_t page)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 256, i;
		struct qent *e = malloc(cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		for (i = 0; i < q->len; i++)
			e[i] = q->e[(q->head + i) % q->cap];
		free(q->e);
		q->e = e;
		q->cap = cap;
		q->head = 0;
	}
	q->e[(q->head + q->len) % q->cap] = (struct qent){ .seq = seq, .page = page };
	q->len++;
	return 0;
}

static void mark_all_dirty(struct mig_dirty *d)
{
	uint64_t i, n = BM_WORDS(d->npages);

	for (i = 0; i < n; i++) {
		uint64_t bits = i + 1 < n || !(d->npages % 64) ? ~0ull :
				(1ull << (d->npages % 64)) - 1;
		uint64_t old = __atomic_fetch_or(&d->dirty[i], bits, __ATOMIC_ACQ_REL);

		__atomic_fetch_add(&d->st.newly_dirty, (uint64_t)__builtin_popcountll(bits & ~old),
				   __ATOMIC_RELAXED);
	}
}

/* Unseen pushes may exist: trust nothing until every vCPU owes no reset. */
static void raise_barrier(struct mig_dirty *d)
{
	unsigned int i;

	__atomic_store_n(&d->trusted, false, __ATOMIC_RELEASE);
	d->barrier_left = 0;
	for (i = 0; i < d->nq; i++) {
		d->q[i].owed = BARRIER_RESETS;
		d->barrier_left++;
	}
	d->st.barriers++;
}

/* Pushes we cannot account for at all: everything is suspect for good. */
static void lose_track(struct mig_dirty *d, const char *why)
{
	mark_all_dirty(d);
	raise_barrier(d);
	d->lost_for_good = true;	/* never trusted again */
	if (!*d->why)
		snprintf(d->why, sizeof(d->why), "%s", why);
}

static int on_dirty(struct mig_dirty *d, const struct pcopy_rec_dirty *r)
{
	struct mig_vcpuq *q = vcpuq(d, r->vcpu);
	uint32_t i, j;

	d->st.records++;
	d->st.gfns += r->count;
	for (i = 0; i < r->count; i++) {
		const struct pcopy_dirty_gfn *g = &r->gfns[i];
		uint64_t page = UINT64_MAX;

		for (j = 0; j < d->nslots; j++) {
			if (d->slots[j].id == g->slot && g->offset < d->slots[j].npages) {
				page = d->slots[j].first_page + g->offset;
				break;
			}
		}
		if (page >= d->npages) {
			d->st.bad_gfns++;
			continue;
		}
		if (bm_set(d->dirty, page))
			__atomic_fetch_add(&d->st.newly_dirty, 1, __ATOMIC_RELAXED);
		if (!q || q_push(q, g->seq, page)) {
			lose_track(d, q ? "out of memory" : "a vCPU id beyond what the agent tracks");
			continue;
		}
		__atomic_fetch_add(&d->unreset[page], 1, __ATOMIC_RELEASE);
	}
	return 0;
}

static void on_reset(struct mig_dirty *d, const struct pcopy_rec_dirty_reset *r)
{
	struct mig_vcpuq *q = vcpuq(d, r->vcpu);

	d->st.resets++;
	if (!q)
		return;
	/* seq compared by difference: it is KVM's free-running u32 index */
	while (q->len && (int32_t)(q->e[q->head].seq - r->reset_index) < 0) {
		uint64_t page = q->e[q->head].page;

		/* pairs with the acquire in dirty_unprotected() */
		__atomic_fetch_sub(&d->unreset[page], 1, __ATOMIC_RELEASE);
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	if (q->owed && !--q->owed && !--d->barrier_left && !d->lost_for_good)
		__atomic_store_n(&d->trusted, true, __ATOMIC_RELEASE);
}

static int record_cb(const struct pcopy_rec_hdr *rec, void *arg)
{
	struct mig_dirty *d = arg;

	switch (rec->type) {
	case PCOPY_REC_DIRTY:
		d->seen_activity = true;
		return on_dirty(d, (const struct pcopy_rec_dirty *)rec);
	case PCOPY_REC_DIRTY_RESET:
		d->seen_activity = true;
		on_reset(d, (const struct pcopy_rec_dirty_reset *)rec);
		return 0;
	case PCOPY_REC_LOST: {
		const struct pcopy_rec_lost *l = (const void *)rec;

		d->st.lost_records += l->records;
		d->st.lost_gfns += l->gfns;
		/* a lost reset is made good by the next one; a lost push is not */
		if (l->gfns) {
			mark_all_dirty(d);
			raise_barrier(d);
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Consume what the ring holds; lock held. */
static int consume(struct mig_dirty *d)
{
	int ret = mig_rec_consume(&d->ring, d->rec, record_cb, d);

	if (d->ring.malformed != d->malformed_seen) {
		/* a DIRTY record we could not read is a loss like any other */
		d->malformed_seen = d->ring.malformed;
		mark_all_dirty(d);
		raise_barrier(d);
	}
	if (!__atomic_load_n(&d->trusted, __ATOMIC_RELAXED) && !d->seen_activity &&
	    !d->lost_for_good && d->st.barriers == 1 && mig_now_ns() - d->bound_ns >= IDLE_TRUST_NS)
		__atomic_store_n(&d->trusted, true, __ATOMIC_RELEASE);
	return ret;
}

static void *dirty_thread(void *arg)
{
	struct mig_dirty *d = arg;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		int ret = ring_wait(&d->ring, WAIT_MS, NULL);

		if (ret < 0 && ret != -EINTR) {
			pthread_mutex_lock(&d->lock);
			lose_track(d, ret == -EPROTO ? d->ring.why : strerror(-ret));
			pthread_mutex_unlock(&d->lock);
			mig_note("dirty tracking stopped: %s; the pages still dirty will move in postcopy",
				 d->why);
			break;
		}
		pthread_mutex_lock(&d->lock);
		ret = consume(d);
		if (ret < 0)
			lose_track(d, ret == -EPROTO ? d->ring.why : strerror(-ret));
		pthread_mutex_unlock(&d->lock);
		if (ret < 0) {
			mig_note("dirty tracking stopped: %s; the pages still dirty will move in postcopy",
				 d->why);
			break;
		}
		if (ring_eof(&d->ring)) {
			/* the session ended: the source VMM is gone */
			pthread_mutex_lock(&d->lock);
			lose_track(d, "the source VMM's pcopy.ko session ended");
			pthread_mutex_unlock(&d->lock);
			break;
		}
	}
	return NULL;
}

int dirty_start(struct mig_dirty *d, uint32_t pid, uint64_t npages, unsigned int nvcpus,
		const struct mig_dirty_slot *slots, unsigned int nslots, const char *record)
{
	size_t ulen = npages * sizeof(uint32_t);
	int ret;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->npages = npages;
	if (nslots > ARRAY_SIZE(d->slots))
		nslots = ARRAY_SIZE(d->slots);
	memcpy(d->slots, slots, nslots * sizeof(*slots));
	d->nslots = nslots;
	d->dirty = bm_alloc(npages);
	d->unreset = mmap(NULL, ulen ? ulen : 1, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!d->dirty || d->unreset == MAP_FAILED) {
		d->unreset = NULL;
		fprintf(stderr, "pcopy: send: out of memory for the dirty bitmap\n");
		ret = -ENOMEM;
		goto err;
	}
	if (nvcpus && !vcpuq(d, nvcpus - 1)) {
		ret = -ENOMEM;
		goto err;
	}
	raise_barrier(d);
	/*
	 * For tests only: read pages as if the dirty bitmap said it all,
	 * ignoring pushes not yet reset and the barrier, to show that the
	 * switchover check catches what that misses.
	 */
	d->trust_bitmap = getenv("PCOPY_MIG_TRUST_BITMAP") != NULL;

	ret = ring_open(&d->ring, pid, RING_PAGES, RING_WATERMARK, PCOPY_RING_BIND_DIRTY);
	if (ret)
		goto err;
	d->ring_open = true;
	ret = mig_rec_open(&d->rec, record, &d->ring, pid, PCOPY_RING_BIND_DIRTY, RING_WATERMARK);
	if (ret)
		goto err;
	d->bound_ns = mig_now_ns();
	ret = pthread_create(&d->thread, NULL, dirty_thread, d);
	if (ret) {
		ret = -ret;
		fprintf(stderr, "pcopy: send: cannot start the dirty-tracking thread: %s\n",
			strerror(-ret));
		goto err;
	}
	d->running = true;
	return 0;
err:
	dirty_stop(d);
	return ret;
}

void dirty_halt(struct mig_dirty *d)
{
	if (d->running) {
		__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
		pthread_join(d->thread, NULL);
		d->running = false;
	}
}

void dirty_stop(struct mig_dirty *d)
{
	size_t ulen = d->npages * sizeof(uint32_t);
	unsigned int i;

	dirty_halt(d);
	if (d->ring_open) {
		mig_rec_close(d->rec, &d->ring);
		d->rec = NULL;
		ring_close(&d->ring);
	}
	d->ring_open = false;
	for (i = 0; i < d->nq; i++)
		free(d->q[i].e);
	free(d->q);
	d->q = NULL;
	d->nq = 0;
	bm_free(d->dirty, d->npages);
	d->dirty = NULL;
	if (d->unreset)
		munmap(d->unreset, ulen ? ulen : 1);
	d->unreset = NULL;
	pthread_mutex_destroy(&d->lock);
}

bool dirty_wait_trusted(struct mig_dirty *d, int timeout_ms)
{
	uint64_t deadline = mig_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	while (!__atomic_load_n(&d->trusted, __ATOMIC_ACQUIRE)) {
		if (mig_now_ns() >= deadline || mig_failed())
			return false;
		usleep(5000);
	}
	return true;
}

int dirty_drain(struct mig_dirty *d)
{
	int ret, n;

	pthread_mutex_lock(&d->lock);
	/* the flush writes the pending batches before it returns */
	ret = ring_flush(&d->ring);
	if (ret && !ring_eof(&d->ring)) {
		snprintf(d->why, sizeof(d->why), "PCOPY_IOC_FLUSH: %s", strerror(-ret));
		goto out;
	}
	do {
		n = consume(d);
	} while (n > 0);
	ret = n < 0 ? n : 0;
	if (ret)
		snprintf(d->why, sizeof(d->why), "%s", ret == -EPROTO ? d->ring.why : strerror(-ret));
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

uint64_t dirty_take(struct mig_dirty *d, uint64_t *out)
{
	uint64_t i, n = 0;

	for (i = 0; i < BM_WORDS(d->npages); i++) {
		uint64_t bits = __atomic_exchange_n(&d->dirty[i], 0, __ATOMIC_ACQ_REL);

		out[i] |= bits;
		n += (uint64_t)__builtin_popcountll(bits);
	}
	return n;
}

void dirty_keep(struct mig_dirty *d, uint64_t p)
{
	bm_set(d->dirty, p);
	__atomic_fetch_add(&d->st.kept, 1, __ATOMIC_RELAXED);
}

uint64_t dirty_count(const struct mig_dirty *d)
{
	return bm_count(d->dirty, d->npages);
}

void dirty_stats(struct mig_dirty *d, struct mig_dirty_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	st->newly_dirty = __atomic_load_n(&d->st.newly_dirty, __ATOMIC_RELAXED);
	st->kept = __atomic_load_n(&d->st.kept, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->lock);
}
