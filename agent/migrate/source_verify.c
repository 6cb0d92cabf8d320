// SPDX-License-Identifier: GPL-2.0
/* The source engine (source.h): the check of precopied pages and the manifest. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "util.h"

int src_send_manifest(struct source *s, const uint64_t *final)
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
void src_post_add(struct source *s, uint64_t p)
{
	if (!bm_test(s->answered, p) && bm_set(s->post_bm, p))
		__atomic_fetch_add(&s->post_left, 1, __ATOMIC_ACQ_REL);
}

void src_verify(struct source *s, const uint64_t *dset, uint64_t *final)
{
	unsigned char buf[PS];
	uint64_t p;

	for (p = 0; p < s->npages; p++) {
		if (!s->sent_round[p] || bm_test(dset, p))
			continue;
		if (src_read_page(s, p, buf))
			return;		/* the migration failed */
		if (mig_hash(buf, PS) == s->sent_hash[p]) {
			bm_set(final, p);
		} else {
			s->late++;
			src_post_add(s, p);
		}
	}
}
