// SPDX-License-Identifier: GPL-2.0
/*
 * Summaries of a recording.  Percentiles are exact (every latency is kept
 * and sorted), distinct GFNs are counted exactly per memslot: a report is
 * run once, after the fact, where exactness is worth the memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define REPORT_EMPTY	UINT64_MAX

/* splitmix64's finaliser: page offsets are far from random in the low bits */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static bool set_insert(uint64_t *keys, size_t cap, uint64_t key)
{
	size_t i = mix(key) & (cap - 1);

	while (keys[i] != REPORT_EMPTY) {
		if (keys[i] == key)
			return false;
		i = (i + 1) & (cap - 1);
	}
	keys[i] = key;
	return true;
}

/* Keep the set at most half full. */
static int set_grow(struct report_slot *s)
{
	size_t cap = s->cap ? 2 * s->cap : 1024, i;
	uint64_t *keys;

	keys = malloc(cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	memset(keys, 0xff, cap * sizeof(*keys));	/* REPORT_EMPTY */
	for (i = 0; i < s->cap; i++)
		if (s->keys[i] != REPORT_EMPTY)
			set_insert(keys, cap, s->keys[i]);
	free(s->keys);
	s->keys = keys;
	s->cap = cap;
	return 0;
}

static int slot_add(struct report_slot *s, uint64_t offset)
{
	int ret;

	s->gfns++;
	if (offset == REPORT_EMPTY) {
		s->distinct += !s->has_empty_key;
		s->has_empty_key = true;
		return 0;
	}
	if (2 * (s->distinct + 1) > s->cap) {
		ret = set_grow(s);
		if (ret)
			return ret;
	}
	s->distinct += set_insert(s->keys, s->cap, offset);
	return 0;
}

/* The slot's entry, created in order if new; NULL when out of memory. */
static struct report_slot *slot_get(struct report *rp, uint32_t slot)
{
	size_t lo = 0, hi = rp->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rp->slots[mid].slot == slot)
			return &rp->slots[mid];
		if (rp->slots[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (rp->nslots == rp->slots_alloc) {
		size_t n = rp->slots_alloc ? 2 * rp->slots_alloc : 8;
		struct report_slot *v = realloc(rp->slots, n * sizeof(*v));

		if (!v)
			return NULL;
		rp->slots = v;
		rp->slots_alloc = n;
	}
	memmove(&rp->slots[lo + 1], &rp->slots[lo],
		(rp->nslots - lo) * sizeof(*rp->slots));
	memset(&rp->slots[lo], 0, sizeof(*rp->slots));
	rp->slots[lo].slot = slot;
	rp->nslots++;
	return &rp->slots[lo];
}

static int add_fault_end(struct report *rp, const struct pcopy_rec_fault *f)
{
	struct report_vcpu *v = f->vcpu == PCOPY_VCPU_NONE ? &rp->nonvcpu :
				&rp->vcpu[f->vcpu];

	/* a nowait fault did not wait: it has no latency, as in the stats */
	if (f->hdr.flags & PCOPY_REC_F_NOWAIT) {
		rp->nowait++;
		return 0;
	}
	if (rp->nlat == rp->lat_alloc) {
		size_t n = rp->lat_alloc ? 2 * rp->lat_alloc : 4096;
		uint64_t *lat = realloc(rp->lat, n * sizeof(*lat));

		if (!lat)
			return -ENOMEM;
		rp->lat = lat;
		rp->lat_alloc = n;
	}
	rp->lat[rp->nlat++] = f->latency_ns;
	rp->faults++;
	rp->interrupted += !!(f->hdr.flags & PCOPY_REC_F_INTERRUPTED);
	rp->latency_sum_ns += f->latency_ns;
	if (f->latency_ns > rp->latency_max_ns)
		rp->latency_max_ns = f->latency_ns;
	v->faults++;
	v->latency_sum_ns += f->latency_ns;
	if (f->latency_ns > v->latency_max_ns)
		v->latency_max_ns = f->latency_ns;
	return 0;
}

static int add_dirty(struct report *rp, const struct pcopy_rec_dirty *d)
{
	struct report_slot *s = NULL;
	uint32_t i;
	int ret;

	if (d->vcpu < PCOPY_MAX_VCPUS)
		rp->vcpu[d->vcpu].dirty_gfns += d->count;
	else
		rp->high_vcpu_gfns += d->count;
	rp->gfns += d->count;
	for (i = 0; i < d->count; i++) {
		/* a batch mostly stays in one slot */
		if (!s || s->slot != d->gfns[i].slot) {
			s = slot_get(rp, d->gfns[i].slot);
			if (!s)
				return -ENOMEM;
		}
		ret = slot_add(s, d->gfns[i].offset);
		if (ret)
			return ret;
	}
	return 0;
}

int report_add(struct report *rp, const struct pcopy_rec_hdr *rec)
{
	const struct pcopy_rec_lost *l = (const void *)rec;

	if (rec->type < sizeof(rp->by_type) / sizeof(rp->by_type[0]))
		rp->by_type[rec->type]++;
	switch (rec->type) {
	case PCOPY_REC_FAULT_END:
		return add_fault_end(rp, (const void *)rec);
	case PCOPY_REC_DIRTY:
		return add_dirty(rp, (const void *)rec);
	case PCOPY_REC_LOST:
		rp->lost_records += l->records;
		rp->lost_gfns += l->gfns;
		break;
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void report_finish(struct report *rp)
{
	if (rp->nlat)
		qsort(rp->lat, rp->nlat, sizeof(*rp->lat), u64_cmp);
}

uint64_t report_percentile(const struct report *rp, unsigned int p)
{
	size_t rank;

	if (!rp->nlat)
		return 0;
	/* nearest rank: the smallest value with at least p% at or below it */
	rank = (rp->nlat * p + 99) / 100;
	return rp->lat[rank ? rank - 1 : 0];
}

void report_free(struct report *rp)
{
	size_t i;

	for (i = 0; i < rp->nslots; i++)
		free(rp->slots[i].keys);
	free(rp->slots);
	free(rp->lat);
	rp->slots = NULL;
	rp->lat = NULL;
	rp->nslots = rp->nlat = 0;
}
