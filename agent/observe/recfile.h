/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_RECFILE_H
#define PCOPY_AGENT_RECFILE_H

/*
 * The file `pcopy record` writes and `pcopy report` reads
 * (Documentation/record-format.rst): a header, the ring's records as they
 * came (PAD dropped), and a trailer record with the ring's final counters.
 * Integers are little-endian; records are 8-byte aligned.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

#define RECFILE_MAGIC		"PCOPYREC"	/* 8 bytes, no NUL */
#define RECFILE_VERSION		1

/*
 * The trailer's record type.  The module numbers its types up from 0; the
 * file takes the other end of the u16 space.
 */
#define RECFILE_REC_TRAILER	0xffff

struct recfile_header {
	char magic[8];			/* RECFILE_MAGIC */
	uint32_t version;		/* RECFILE_VERSION */
	uint32_t header_size;		/* sizeof(struct recfile_header) */
	uint32_t abi_version;		/* PCOPY_ABI_VERSION of the writer */
	uint32_t ring_version;		/* pcopy_ring_header.version */
	uint32_t page_size;
	uint32_t pid;
	uint64_t ring_data_size;	/* bytes; no record is longer */
	uint32_t bind_flags;		/* enum pcopy_ring_bind_flags */
	uint32_t watermark;
	uint64_t start_mono_ns;		/* CLOCK_MONOTONIC, as record times */
	uint64_t start_real_ns;		/* CLOCK_REALTIME at the same moment */
};

enum recfile_stop {
	RECFILE_STOP_EOF = 1,		/* the session ended */
	RECFILE_STOP_SIGNAL,		/* SIGINT or SIGTERM */
	RECFILE_STOP_DURATION,		/* --duration elapsed */
	RECFILE_STOP_ERROR,		/* the ring broke its rules; exit status 1 */
	RECFILE_STOP_MIGRATION,		/* the migration that recorded it ended */
};

/* "session_ended", "signal", "duration", "error" (JSON); else "unknown". */
const char *recfile_stop_key(uint32_t stop);
/* The same for people: "the session ended", ... */
const char *recfile_stop_text(uint32_t stop);

struct recfile_trailer {
	struct pcopy_rec_hdr hdr;	/* len sizeof(*this), RECFILE_REC_TRAILER */
	uint32_t stop;			/* enum recfile_stop */
	uint32_t reserved;		/* zero */
	uint64_t end_mono_ns;		/* CLOCK_MONOTONIC when recording ended */
	/* pcopy_ring_header's counters after the final drain */
	uint64_t ring_flags;
	uint64_t records;
	uint64_t lost_records;
	uint64_t lost_gfns;
	uint64_t lost_records_pending;
	uint64_t lost_gfns_pending;
	uint64_t consumer_errors;
	/* records the agent took off the ring but did not write */
	uint64_t skipped_unknown;	/* of a type it does not know */
	uint64_t skipped_malformed;	/* a known type with a broken body */
};

struct ring;
struct ring_counters;

/*
 * The header of a recording of ring @r, bound to @pid with @bind_flags and
 * @watermark, starting now.
 */
void recfile_header_fill(struct recfile_header *h, const struct ring *r, uint32_t pid,
			 uint32_t bind_flags, uint32_t watermark);
/*
 * The trailer for @stop, with @exact's counters (ring_drain_exact()) or,
 * if NULL, @r's as they are now.
 */
void recfile_trailer_fill(struct recfile_trailer *t, const struct ring *r, uint32_t stop,
			  const struct ring_counters *exact);

/* Buffered writer.  Nothing is printed: the first error sticks in err. */
struct recw {
	int fd;
	const char *path;
	int err;			/* first error (-errno), sticky */
	const char *err_op;		/* what failed: "create", "write", ... */
	uint64_t bytes;			/* written so far, header included */
	uint64_t records;		/* records, trailer excluded */
	uint64_t lost_records;		/* sums of the LOST records written */
	uint64_t lost_gfns;
	size_t n;			/* bytes in buf */
	unsigned char buf[1 << 16];
};

/* Create or truncate @path and write @h.  Returns 0 or a negative errno. */
int recw_open(struct recw *w, const char *path, const struct recfile_header *h);

/* Append one record (a ring_cb: @w is the struct recw). */
int recw_record(const struct pcopy_rec_hdr *rec, void *w);

/*
 * Append @t, flush, fsync and close.  Returns 0 only once the whole file is
 * on disk; after any error the file is closed all the same.
 */
int recw_close(struct recw *w, const struct recfile_trailer *t);

/* Close after an error, leaving the file without a trailer. */
void recw_abort(struct recw *w);

/* Reader; errors are returned with a one-line reason in @why. */
struct recr {
	FILE *f;
	struct recfile_header hdr;
	struct recfile_trailer trailer;	/* valid once recr_next() returned 0 */
	uint64_t off;			/* file offset of the next record */
	uint64_t unknown;		/* records of unknown types skipped */
	void *buf;
	size_t buf_len;
	char why[192];
};

/* Open @path and check its header: 0, or a negative errno and @r->why. */
int recr_open(struct recr *r, const char *path);

/*
 * The next record in *@rec (valid until the next call): 1.  0 after the
 * trailer, which must end the file; a negative errno with @r->why for a
 * file that is truncated or breaks the format.  Unknown record types are
 * skipped and counted.
 */
int recr_next(struct recr *r, const struct pcopy_rec_hdr **rec);

void recr_close(struct recr *r);

PCOPY_PUBLIC_END

#endif
