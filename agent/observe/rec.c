// SPDX-License-Identifier: GPL-2.0
/*
 * What a well-formed ring record is.  The ring and the record file apply
 * the same rules, so a file never holds a record the ring would refuse.
 */
#include <stdio.h>

#include "rec.h"

_Static_assert(sizeof(struct pcopy_rec_hdr) == 8, "pcopy_rec_hdr");
_Static_assert(sizeof(struct pcopy_rec_fault) == 56, "pcopy_rec_fault");
_Static_assert(sizeof(struct pcopy_rec_dirty) == 24, "pcopy_rec_dirty");
_Static_assert(sizeof(struct pcopy_dirty_gfn) == 16, "pcopy_dirty_gfn");
_Static_assert(sizeof(struct pcopy_rec_lost) == 24, "pcopy_rec_lost");
_Static_assert(sizeof(struct pcopy_rec_dirty_reset) == 24, "pcopy_rec_dirty_reset");

static const char * const type_names[] = {
	[PCOPY_REC_PAD]		= "PAD",
	[PCOPY_REC_FAULT_BEGIN]	= "FAULT_BEGIN",
	[PCOPY_REC_FAULT_END]	= "FAULT_END",
	[PCOPY_REC_DIRTY]	= "DIRTY",
	[PCOPY_REC_LOST]	= "LOST",
	[PCOPY_REC_DIRTY_RESET]	= "DIRTY_RESET",
};

const char *rec_type_name(uint16_t type)
{
	return type < sizeof(type_names) / sizeof(type_names[0]) ?
	       type_names[type] : NULL;
}

enum rec_verdict rec_check(const struct pcopy_rec_hdr *rec, char *why, size_t len)
{
	const struct pcopy_rec_fault *f = (const void *)rec;
	const struct pcopy_rec_dirty *d = (const void *)rec;
	const char *name = rec_type_name(rec->type);
	size_t min;

	switch (rec->type) {
	case PCOPY_REC_PAD:
		return REC_OK;
	case PCOPY_REC_FAULT_BEGIN:
	case PCOPY_REC_FAULT_END:
		min = sizeof(*f);
		break;
	case PCOPY_REC_DIRTY:
		min = sizeof(*d);
		break;
	case PCOPY_REC_LOST:
		min = sizeof(struct pcopy_rec_lost);
		break;
	case PCOPY_REC_DIRTY_RESET:
		min = sizeof(struct pcopy_rec_dirty_reset);
		break;
	default:
		return REC_UNKNOWN;
	}
	if (rec->len < min) {
		snprintf(why, len, "%s record of %u bytes, shorter than its %zu-byte struct",
			 name, rec->len, min);
		return REC_MALFORMED;
	}

	switch (rec->type) {
	case PCOPY_REC_FAULT_BEGIN:
	case PCOPY_REC_FAULT_END:
		if (f->vcpu >= PCOPY_MAX_VCPUS && f->vcpu != PCOPY_VCPU_NONE) {
			snprintf(why, len, "%s record for vCPU %u (not below %u, not NONE)",
				 name, f->vcpu, PCOPY_MAX_VCPUS);
			return REC_MALFORMED;
		}
		break;
	case PCOPY_REC_DIRTY:
		/* the flexible array leaves no room for growth: exact length */
		if (rec->len != sizeof(*d) + (size_t)d->count * sizeof(d->gfns[0])) {
			snprintf(why, len, "DIRTY record of %u bytes claims %u GFNs (%zu bytes)",
				 rec->len, d->count,
				 sizeof(*d) + (size_t)d->count * sizeof(d->gfns[0]));
			return REC_MALFORMED;
		}
		/*
		 * No bound on d->vcpu (nor on a DIRTY_RESET's): it is KVM's
		 * vCPU id, which may exceed PCOPY_MAX_VCPUS, and the GFNs are
		 * worth keeping regardless.
		 */
		break;
	}
	return REC_OK;
}
