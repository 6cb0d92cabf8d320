// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy send/recv --plot: the ring's records the migration consumed, kept
 * in a recording (record.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/recfile.h"
#include "observe/ring.h"
#include "record.h"

#define DRAIN_TRIES	20

struct mig_rec {
	struct recw w;
	const char *path;
};

static void rec_error(const struct mig_rec *m)
{
	fprintf(stderr, "pcopy: recording %s: %s: %s\n", m->path,
		m->w.err_op ? m->w.err_op : "write", strerror(-m->w.err));
}

int mig_rec_open(struct mig_rec **out, const char *path, const struct ring *r,
		 uint32_t pid, uint32_t bind_flags, uint32_t watermark)
{
	struct recfile_header h;
	struct mig_rec *m;
	int ret;

	*out = NULL;
	if (!path)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m) {
		fprintf(stderr, "pcopy: recording %s: out of memory\n", path);
		return -ENOMEM;
	}
	m->path = path;
	recfile_header_fill(&h, r, pid, bind_flags, watermark);
	ret = recw_open(&m->w, path, &h);
	if (ret) {
		rec_error(m);
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

struct tee {
	struct mig_rec *m;
	int (*cb)(const struct pcopy_rec_hdr *rec, void *arg);
	void *arg;
};

static int tee_cb(const struct pcopy_rec_hdr *rec, void *arg)
{
	struct tee *t = arg;
	int ret = t->cb(rec, t->arg);

	if (!ret)
		recw_record(rec, &t->m->w);	/* an error sticks, and is told at the end */
	return ret;
}

int mig_rec_consume(struct ring *r, struct mig_rec *m,
		    int (*cb)(const struct pcopy_rec_hdr *rec, void *arg), void *arg)
{
	struct tee t = { .m = m, .cb = cb, .arg = arg };

	return m ? ring_consume(r, tee_cb, &t) : ring_consume(r, cb, arg);
}

void mig_rec_close(struct mig_rec *m, struct ring *r)
{
	struct recfile_trailer t;
	struct ring_counters c;
	int ret;

	if (!m)
		return;
	ret = ring_drain_exact(r, recw_record, &m->w, &c, DRAIN_TRIES);
	if (ret && ret != -EAGAIN && !m->w.err)
		fprintf(stderr, "pcopy: recording %s: the last drain: %s\n", m->path,
			ret == -EPROTO ? r->why : strerror(-ret));
	recfile_trailer_fill(&t, r, RECFILE_STOP_MIGRATION, ret ? NULL : &c);
	if (m->w.err) {
		rec_error(m);
		recw_abort(&m->w);
	} else if (recw_close(&m->w, &t)) {
		rec_error(m);
	}
	free(m);
}
