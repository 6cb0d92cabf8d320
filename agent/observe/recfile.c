// SPDX-License-Identifier: GPL-2.0
/*
 * The record file.  The records are the ring's structs byte for byte, so
 * the file is in the host's byte order; it is defined as little-endian and
 * only written and read on little-endian hosts, which is what pcopy runs on.
 * The writer never drops data quietly: the first write error sticks and is
 * returned by every later call, for the command to print.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "rec.h"
#include "ring.h"
#include "recfile.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the record file is little-endian: this host would need byte swapping");
_Static_assert(sizeof(struct recfile_header) == 64, "recfile_header");
_Static_assert(sizeof(struct recfile_trailer) == 96, "recfile_trailer");
_Static_assert(sizeof(struct recfile_header) % REC_ALIGN == 0,
	       "records after the header must stay aligned");

/* A trailer longer than this is not a trailer that merely grew. */
#define TRAILER_MAX	4096

static int write_error(struct recw *w, const char *op, int err)
{
	if (!w->err) {
		w->err = err;
		w->err_op = op;
	}
	return w->err;
}

static int flush(struct recw *w)
{
	size_t done = 0;

	if (w->err)
		return w->err;
	while (done < w->n) {
		ssize_t n = write(w->fd, w->buf + done, w->n - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return write_error(w, "write", n < 0 ? -errno : -EIO);
		done += (size_t)n;
	}
	w->n = 0;
	return 0;
}

static int put(struct recw *w, const void *p, size_t len)
{
	const unsigned char *s = p;
	int ret;

	while (len) {
		size_t room = sizeof(w->buf) - w->n;
		size_t k = len < room ? len : room;

		if (w->err)
			return w->err;
		memcpy(w->buf + w->n, s, k);
		w->n += k;
		w->bytes += k;
		s += k;
		len -= k;
		if (w->n == sizeof(w->buf)) {
			ret = flush(w);
			if (ret)
				return ret;
		}
	}
	return w->err;
}

int recw_open(struct recw *w, const char *path, const struct recfile_header *h)
{
	int ret;

	memset(w, 0, offsetof(struct recw, buf));
	w->path = path;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return write_error(w, "create", -errno);
	/* out now, so that a full or read-only disk is known before recording */
	ret = put(w, h, sizeof(*h));
	if (!ret)
		ret = flush(w);
	if (ret) {
		close(w->fd);
		w->fd = -1;
	}
	return ret;
}

int recw_record(const struct pcopy_rec_hdr *rec, void *arg)
{
	struct recw *w = arg;
	int ret;

	ret = put(w, rec, rec->len);
	if (ret)
		return ret;
	w->records++;
	if (rec->type == PCOPY_REC_LOST) {
		const struct pcopy_rec_lost *l = (const void *)rec;

		w->lost_records += l->records;
		w->lost_gfns += l->gfns;
	}
	return 0;
}

int recw_close(struct recw *w, const struct recfile_trailer *t)
{
	int ret;

	ret = put(w, t, sizeof(*t));
	if (!ret)
		ret = flush(w);
	/* a file system may only report a full disk now; a pipe cannot sync */
	if (!ret && fsync(w->fd) && errno != EINVAL)
		ret = write_error(w, "fsync", -errno);
	if (close(w->fd) && !ret)
		ret = write_error(w, "close", -errno);
	w->fd = -1;
	return ret;
}

void recw_abort(struct recw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void recfile_header_fill(struct recfile_header *h, const struct ring *r, uint32_t pid,
			 uint32_t bind_flags, uint32_t watermark)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, RECFILE_MAGIC, sizeof(h->magic));
	h->version = RECFILE_VERSION;
	h->header_size = sizeof(*h);
	h->abi_version = PCOPY_ABI_VERSION;
	h->ring_version = r->hdr->version;
	h->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	h->pid = pid;
	h->ring_data_size = r->size;
	h->bind_flags = bind_flags;
	h->watermark = watermark;
	h->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	h->start_real_ns = clock_ns(CLOCK_REALTIME);
}

void recfile_trailer_fill(struct recfile_trailer *t, const struct ring *r, uint32_t stop,
			  const struct ring_counters *exact)
{
	struct ring_counters c;

	if (exact)
		c = *exact;
	else
		ring_counters(r, &c);
	memset(t, 0, sizeof(*t));
	t->hdr.len = sizeof(*t);
	t->hdr.type = RECFILE_REC_TRAILER;
	t->stop = stop;
	t->end_mono_ns = clock_ns(CLOCK_MONOTONIC);
	t->ring_flags = c.flags;
	t->records = c.records;
	t->lost_records = c.lost_records;
	t->lost_gfns = c.lost_gfns;
	t->lost_records_pending = c.lost_records_pending;
	t->lost_gfns_pending = c.lost_gfns_pending;
	t->consumer_errors = c.consumer_errors;
	t->skipped_unknown = r->unknown;
	t->skipped_malformed = r->malformed;
}

const char *recfile_stop_key(uint32_t stop)
{
	switch (stop) {
	case RECFILE_STOP_EOF:
		return "session_ended";
	case RECFILE_STOP_SIGNAL:
		return "signal";
	case RECFILE_STOP_DURATION:
		return "duration";
	case RECFILE_STOP_ERROR:
		return "error";
	case RECFILE_STOP_MIGRATION:
		return "migration_ended";
	}
	return "unknown";
}

const char *recfile_stop_text(uint32_t stop)
{
	switch (stop) {
	case RECFILE_STOP_EOF:
		return "the session ended";
	case RECFILE_STOP_SIGNAL:
		return "interrupted";
	case RECFILE_STOP_DURATION:
		return "--duration elapsed";
	case RECFILE_STOP_ERROR:
		return "the ring failed (the agent said why)";
	case RECFILE_STOP_MIGRATION:
		return "the migration ended";
	}
	return "for an unknown reason";
}

static int broken(struct recr *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int broken(struct recr *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return err;
}

/* Read exactly @len bytes: 1, 0 at a clean end of file, or -errno. */
static int get(struct recr *r, void *p, size_t len, size_t *got)
{
	*got = fread(p, 1, len, r->f);
	if (*got == len)
		return 1;
	if (ferror(r->f))
		return broken(r, -EIO, "read error at offset %" PRIu64 ": %s",
			      r->off + *got, strerror(errno));
	return 0;
}

int recr_open(struct recr *r, const char *path)
{
	struct recfile_header *h = &r->hdr;
	size_t got;
	int ret;

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	if (!r->f)
		return broken(r, -errno, "%s", strerror(errno));

	ret = get(r, h, sizeof(*h), &got);
	if (ret < 0)
		goto err;
	/* a short file that is not ours at all should say so */
	if (got >= sizeof(h->magic) && memcmp(h->magic, RECFILE_MAGIC, sizeof(h->magic))) {
		ret = broken(r, -EPROTO, "not a pcopy record file (bad magic)");
		goto err;
	}
	if (!ret) {
		if (got)
			ret = broken(r, -EPROTO, "truncated: the header has %zu of its %zu bytes",
				     got, sizeof(*h));
		else
			ret = broken(r, -EPROTO, "empty file");
		goto err;
	}
	if (h->version != RECFILE_VERSION) {
		ret = broken(r, -EPROTO, "format version %" PRIu32 ", this pcopy reads version %d",
			     h->version, RECFILE_VERSION);
		goto err;
	}
	if (h->header_size < sizeof(*h) || h->header_size % REC_ALIGN) {
		ret = broken(r, -EPROTO, "header_size %" PRIu32 " is not a multiple of %d of at least %zu",
			     h->header_size, REC_ALIGN, sizeof(*h));
		goto err;
	}
	if (!h->ring_data_size || h->ring_data_size & (h->ring_data_size - 1) ||
	    h->ring_data_size > UINT32_MAX) {
		ret = broken(r, -EPROTO, "ring_data_size %" PRIu64 " is not a power of two below 2^32",
			     h->ring_data_size);
		goto err;
	}
	/* a longer header grew at its end: skip what this reader does not know */
	if (h->header_size > sizeof(*h) &&
	    fseeko(r->f, h->header_size, SEEK_SET)) {
		ret = broken(r, -errno, "cannot skip the header: %s", strerror(errno));
		goto err;
	}
	r->off = h->header_size;
	return 0;
err:
	fclose(r->f);
	r->f = NULL;
	return ret;
}

int recr_next(struct recr *r, const struct pcopy_rec_hdr **rec)
{
	struct pcopy_rec_hdr h;
	char why[128];
	size_t got;
	int ret;

	for (;;) {
		ret = get(r, &h, sizeof(h), &got);
		if (ret < 0)
			return ret;
		if (!ret && got)
			return broken(r, -EPROTO, "truncated: the record at offset %" PRIu64
				      " is cut short", r->off);
		if (!ret)
			return broken(r, -EPROTO, "truncated at offset %" PRIu64
				      ": no trailer (the recording did not finish)", r->off);
		if (h.len < sizeof(h) || h.len % REC_ALIGN)
			return broken(r, -EPROTO, "record at offset %" PRIu64 ": length %" PRIu32
				      " is not a multiple of %d of at least %zu",
				      r->off, h.len, REC_ALIGN, sizeof(h));
		if (h.type == RECFILE_REC_TRAILER ?
		    h.len < sizeof(r->trailer) || h.len > TRAILER_MAX :
		    h.len > r->hdr.ring_data_size)
			return broken(r, -EPROTO, "record at offset %" PRIu64 ": length %" PRIu32
				      " is impossible for its type %u",
				      r->off, h.len, h.type);
		if (buf_grow(&r->buf, &r->buf_len, h.len))
			return broken(r, -ENOMEM, "out of memory");
		memcpy(r->buf, &h, sizeof(h));
		ret = get(r, (char *)r->buf + sizeof(h), h.len - sizeof(h), &got);
		if (ret < 0)
			return ret;
		if (!ret)
			return broken(r, -EPROTO, "truncated: the record at offset %" PRIu64
				      " is cut short (%zu of %" PRIu32 " bytes)",
				      r->off, sizeof(h) + got, h.len);

		if (h.type == RECFILE_REC_TRAILER) {
			memcpy(&r->trailer, r->buf, sizeof(r->trailer));
			r->off += h.len;
			if (fgetc(r->f) != EOF)
				return broken(r, -EPROTO, "data after the trailer at offset %" PRIu64,
					      r->off);
			if (ferror(r->f))
				return broken(r, -EIO, "read error at offset %" PRIu64 ": %s",
					      r->off, strerror(errno));
			return 0;
		}
		switch (rec_check(r->buf, why, sizeof(why))) {
		case REC_MALFORMED:
			return broken(r, -EPROTO, "record at offset %" PRIu64 ": %s", r->off, why);
		case REC_UNKNOWN:
			r->unknown++;
			r->off += h.len;
			continue;
		case REC_OK:
			break;
		}
		r->off += h.len;
		/* the writer drops PAD; tolerate one all the same */
		if (h.type == PCOPY_REC_PAD)
			continue;
		*rec = r->buf;
		return 1;
	}
}

void recr_close(struct recr *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
	r->f = NULL;
	r->buf = NULL;
}
