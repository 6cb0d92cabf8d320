/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_RECORD_H
#define PCOPY_AGENT_MIG_RECORD_H

/*
 * A copy of what a migration takes off a pcopy.ko ring, as the file `pcopy
 * record` writes (observe/recfile.h): the destination's fault records,
 * the source's dirty records, for `pcopy send/recv --plot DIR`.
 */
#include <stdint.h>

#include <pcopy.h>

struct ring;
struct mig_rec;

/*
 * Start copying ring @r (bound to @pid with @bind_flags and @watermark)
 * into @path.  *@out is NULL when @path is NULL.  Prints why and returns
 * a negative errno on failure.
 */
int mig_rec_open(struct mig_rec **out, const char *path, const struct ring *r,
		 uint32_t pid, uint32_t bind_flags, uint32_t watermark);

/*
 * ring_consume(@r, @cb, @arg), and every record @cb takes (returns 0 for)
 * also copied into @m (NULL: no copy).
 */
int mig_rec_consume(struct ring *r, struct mig_rec *m,
		    int (*cb)(const struct pcopy_rec_hdr *rec, void *arg), void *arg);

/*
 * The end: copy what @r still holds (no one else consumes it any more),
 * write the trailer and close.  Prints why on failure.  NULL: nothing.
 */
void mig_rec_close(struct mig_rec *m, struct ring *r);

#endif
